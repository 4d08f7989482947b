package intake

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// request is the reusable state of one request: the body buffer, the events and the keys
// of the matched sources. It returns to the pool when the request ends; nothing it holds is
// kept by the sink after Write returns.
type request struct {
	buf    []byte
	events []mapping.Event
	lines  []int // NDJSON: the line number of each event
	keys   []sink.SourceKey
	gz     *gzip.Reader
	ndjson http.Header
	host   [1]string // the Host and Content-Length values eventHeader adds
	length [1]string
}

var requestPool = sync.Pool{New: func() any {
	return &request{buf: make([]byte, 0, 4<<10), events: make([]mapping.Event, 0, 1), keys: make([]sink.SourceKey, 0, 1)}
}}

func getRequest() *request { return requestPool.Get().(*request) }

// maxPooledBuf keeps the pool from pinning the memory of a rare huge body.
const maxPooledBuf = 1 << 20

func putRequest(q *request) {
	if cap(q.buf) > maxPooledBuf {
		q.buf = make([]byte, 0, 4<<10)
	}
	clear(q.events[:cap(q.events)])
	q.events, q.lines, q.keys, q.buf, q.ndjson = q.events[:0], q.lines[:0], q.keys[:0], q.buf[:0], nil
	q.host[0], q.length[0] = "", ""
	requestPool.Put(q)
}

var errTooLarge = errors.New("body too large")

// readBody reads the body, gzip-decoded when Content-Encoding says so, into q.buf; more than
// limit bytes (before or after decoding) is a 413.
func (s *Server) readBody(r *http.Request, q *request, limit int64) *httperr.Error {
	if r.ContentLength > limit {
		return tooLarge(limit)
	}
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); {
	case enc == "" || strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip"):
		if r.ContentLength > 0 || r.ContentLength == -1 {
			if err := q.resetGzip(r.Body); err != nil {
				return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Invalid gzip body: %v.", err)
			}
			body = q.gz
		}
	default:
		return httperr.New(http.StatusUnsupportedMediaType, "stream.in.unsupportedContentEncoding",
			"Unsupported Content-Encoding %q, supported: gzip.", enc)
	}
	if body == r.Body && r.ContentLength > 0 && int64(cap(q.buf)) <= r.ContentLength {
		q.buf = make([]byte, 0, r.ContentLength+512)
	}
	n, err := readAll(body, &q.buf, limit)
	s.met.bytes.Add(float64(n))
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(limit)
	case err != nil:
		return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Cannot read the body: %v.", err)
	}
	return nil
}

// eventHeader returns the request's headers as Keboola's HTTP source gives them to a mapping
// (fasthttp's request header): with Host, which net/http moves to Request.Host, and with
// Content-Length, which fasthttp sets to the body's length once a chunked body is read. The
// request's own map is completed in place; the values live in q.
func eventHeader(r *http.Request, q *request) http.Header {
	h := r.Header
	if h == nil {
		h = http.Header{}
	}
	if r.Host != "" {
		q.host[0] = r.Host
		h["Host"] = q.host[:]
	}
	if _, ok := h["Content-Length"]; !ok && r.ContentLength == -1 && h.Get("Content-Encoding") == "" {
		q.length[0] = strconv.Itoa(len(q.buf))
		h["Content-Length"] = q.length[:]
	}
	return h
}

func (q *request) resetGzip(r io.Reader) error {
	if q.gz == nil {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		q.gz = gz
		return nil
	}
	return q.gz.Reset(r)
}

func tooLarge(limit int64) *httperr.Error {
	return httperr.New(http.StatusRequestEntityTooLarge, "stream.in.bodyTooLarge",
		"Payload too large, the maximum size is %s.", formatBytes(limit))
}

// readAll appends r to *buf up to limit bytes; more is errTooLarge. It returns the bytes read.
func readAll(r io.Reader, buf *[]byte, limit int64) (int64, error) {
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*buf = b
		if int64(len(b)) > limit {
			return int64(len(b)), errTooLarge
		}
		if err == io.EOF {
			return int64(len(b)), nil
		}
		if err != nil {
			return int64(len(b)), err
		}
	}
}

// splitLines turns an NDJSON body into one event per non-empty line; lines records each
// event's line number (from 1). A line longer than maxLine is a 413.
func (q *request) splitLines(tmpl mapping.Event, maxLine int64) *httperr.Error {
	body := q.buf
	for line := 1; len(body) > 0; line++ {
		var cur []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			cur, body = body[:i], body[i+1:]
		} else {
			cur, body = body, nil
		}
		cur = bytes.TrimRight(cur, "\r")
		if len(bytes.TrimSpace(cur)) == 0 {
			continue
		}
		if int64(len(cur)) > maxLine {
			e := tooLarge(maxLine)
			e.Message = "Line " + itoa(line) + ": " + e.Message
			return e
		}
		ev := tmpl
		ev.Body = cur
		q.events = append(q.events, ev)
		q.lines = append(q.lines, line)
	}
	return nil
}
