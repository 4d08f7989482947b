package intake

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/kbridge/kbridge/bridge/httperr"
)

// The answer fasthttp writes by itself when a connection is over its concurrency limit
// (Server.writeFastError) leaves the intake's listener as JSON; the handler's answers pass as
// written.
func TestListenerTurnsPlainAnswersIntoJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, written string
		status        int
		json          bool
	}{
		{"fasthttp's own answer", "HTTP/1.1 503 Service Unavailable\r\nDate: Sat, 05 Dec 2026 08:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 79\r\n\r\n" +
			"The connection cannot be served because Server.Concurrency limit exceeded", 503, true},
		{"the handler's OK", "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\nOK", 200, false},
		{"the handler's error", "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 404, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer client.Close()
			jc := &jsonConn{Conn: server, ln: newJSONListener(nil)}
			go func() { _, _ = jc.Write([]byte(c.written)); _ = server.Close() }()
			resp, err := http.ReadResponse(bufio.NewReader(client), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			var got httperr.Body
			isJSON := json.Unmarshal(body, &got) == nil && got.Error == "stream.in.serverBusy"
			if resp.StatusCode != c.status || isJSON != c.json || (c.json && (resp.Header.Get("Content-Type") != "application/json" ||
				got.StatusCode != c.status || resp.Header.Get("Retry-After") != "1")) {
				t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
			}
		})
	}
}
