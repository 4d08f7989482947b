package intake_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/sink"
)

// TestNDJSONStream: NDJSON bodies are read as a stream of lines, in chunks much smaller than
// the bodies here, so records, blank lines and line ends straddle chunk boundaries; line
// numbers, the records written and every limit (lines per request, line length, decoded size)
// hold for plain and gzip bodies.
func TestNDJSONStream(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	define(t, m, "stream", false, fastSync, "in.c-test.stream")
	url, _ := serve(t, m, func(c *intake.Config) {
		c.MaxBodySize, c.MaxNDJSONBodySize, c.MaxNDJSONLines = 200, 600<<10, 5000
	})
	ndjson := map[string]string{"Content-Type": "application/x-ndjson"}
	path := "/stream/1/stream/" + secret
	// 4,000 records of 20 to 190 bytes, with blank, white-space and \r\n lines between them;
	// every 1,000th record lacks "name" when bad is set.
	body := func(bad bool) (string, []int) {
		var b strings.Builder
		var badLines []int
		line := 1
		for i := range 4000 {
			switch i % 7 {
			case 3:
				b.WriteString("\n")
				line++
			case 5:
				b.WriteString(" \t \r\n")
				line++
			}
			pad := strings.Repeat("p", i%170)
			if bad && i%1000 == 999 {
				fmt.Fprintf(&b, `{"id":"%d","x":"%s"}`, i, pad)
				badLines = append(badLines, line)
			} else {
				fmt.Fprintf(&b, `{"id":"%d","name":"%s"}`, i, pad)
			}
			if i%2 == 0 {
				b.WriteString("\r")
			}
			b.WriteString("\n")
			line++
		}
		return b.String(), badLines
	}
	good, _ := body(false)
	bad, badLines := body(true)
	var lines []string
	for _, l := range badLines {
		lines = append(lines, fmt.Sprintf(`{"line":%d,"error":"Invalid value for column \"name\": path \"name\" not found in the body."}`, l))
	}
	longLine := `{"id":"1","name":"a"}` + "\n" + `{"id":"2","name":"` + strings.Repeat("x", 100<<10) + `"}` + "\n"
	for _, gz := range []bool{false, true} {
		for _, tc := range []exchange{
			{name: "records", body: good, wantStatus: 200, wantBody: `{"statusCode":200,"message":"Successfully written to 1/1 sinks.","records":4000,…`},
			{name: "bad lines", body: bad, wantStatus: 422, wantBody: `{"statusCode":422,"error":"stream.in.unprocessableContent","message":"4 of 4000 lines cannot be written, nothing was written.","lines":[` + strings.Join(lines, ",") + `]}`},
			{name: "too many lines", body: good + `{"id":"x","name":"y"}` + "\n" + strings.Repeat("{}\n", 1000), wantStatus: 413,
				wantBody: `{"statusCode":413,"error":"stream.in.tooManyLines","message":"Too many lines, the maximum is 5000 records per request."}`},
			{name: "long line", body: longLine, wantStatus: 413, wantBody: `{"statusCode":413,"error":"stream.in.bodyTooLarge","message":"Line 2: Payload too large, the maximum size is 200B."}`},
			{name: "decoded size", body: strings.Repeat(" \n", 400<<10), wantStatus: 413, wantBody: `{"statusCode":413,"error":"stream.in.bodyTooLarge","message":"Payload too large, the maximum size is 600KB."}`},
		} {
			tc.method, tc.path, tc.header, tc.gzip = "POST", path+"?verbose=true", ndjson, gz
			if gz {
				tc.header = map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
			}
			t.Run(fmt.Sprintf("%s gzip=%v", tc.name, gz), func(t *testing.T) { check(t, url, tc) })
		}
	}
	st, err := m.SinkStatistics(sink.SinkKey{SourceKey: key("stream"), SinkID: "sink-a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Total.RecordsCount; got != 8000 {
		t.Fatalf("records written = %d, want 8000 (two good bodies, nothing from refused ones)", got)
	}
}
