package intake

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// request is the reusable state of one request: the body buffer, the events and the keys
// of the matched sources. It returns to the pool when the request ends; nothing it holds is
// kept by the sink after Write returns.
type request struct {
	body   []byte // the record's body: the request's own bytes, or buf once decoded
	buf    []byte
	events []mapping.Event
	refs   []lineRef // NDJSON: where each record is in buf (or lines), and its line number
	lines  []byte    // NDJSON sent as is: the request's own bytes, which refs point into
	size   int64     // decoded bytes of the body
	keys   []sink.SourceKey
	gz     *gzip.Reader
	raw    bytes.Reader
	header http.Header       // the request's headers as a mapping sees them
	values []string          // their values
	last   map[string]string // the last value seen per header name, reused when it repeats
}

var requestPool = sync.Pool{New: func() any {
	return &request{buf: make([]byte, 0, 4<<10), events: make([]mapping.Event, 0, 1), keys: make([]sink.SourceKey, 0, 1),
		header: make(http.Header, 8), last: make(map[string]string, 8)}
}}

func getRequest() *request { return requestPool.Get().(*request) }

// What a pooled request may keep: a rare large body, batch or header set is released with its
// request instead of being pinned by the pool, so the memory of a burst returns.
const (
	maxPooledBuf     = 1 << 20
	maxPooledEvents  = 1 << 10
	maxPooledHeaders = 64
	maxRemembered    = 256 // bytes of a header value kept for the next request
)

func putRequest(q *request) {
	if cap(q.buf) > maxPooledBuf {
		q.buf = make([]byte, 0, 4<<10)
	}
	if cap(q.events) > maxPooledEvents {
		q.events = make([]mapping.Event, 0, 1)
	} else {
		clear(q.events[:cap(q.events)])
	}
	if cap(q.refs) > maxPooledEvents {
		q.refs = nil
	}
	if len(q.header) > maxPooledHeaders {
		q.header = make(http.Header, 8)
	} else {
		clear(q.header)
	}
	if len(q.last) > maxPooledHeaders {
		clear(q.last)
	}
	if cap(q.values) > maxPooledHeaders {
		q.values = nil
	} else {
		clear(q.values[:cap(q.values)])
	}
	q.raw.Reset(nil)
	q.events, q.refs, q.keys, q.buf, q.body, q.lines, q.values, q.size = q.events[:0], q.refs[:0], q.keys[:0], q.buf[:0], nil, nil, q.values[:0], 0
	requestPool.Put(q)
}

var errTooLarge = errors.New("body too large")

// openBody returns the request body, gzip-decoded when Content-Encoding says so, and whether
// it is the request's own bytes (not encoded). A body larger than limit as sent is a 413 at
// once; the caller bounds the decoded bytes.
func openBody(ctx *fasthttp.RequestCtx, q *request, limit int64) (io.Reader, bool, *httperr.Error) {
	raw := ctx.Request.Body()
	if int64(len(raw)) > limit {
		return nil, false, tooLarge(limit)
	}
	q.raw.Reset(raw)
	switch enc := ctx.Request.Header.ContentEncoding(); {
	case len(enc) == 0 || bytes.EqualFold(enc, identity):
		return &q.raw, true, nil
	case bytes.EqualFold(enc, gzipName) || bytes.EqualFold(enc, xGzipName):
		if len(raw) == 0 {
			return &q.raw, true, nil
		}
		if err := q.resetGzip(&q.raw); err != nil {
			return nil, false, httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Invalid gzip body: %v.", err)
		}
		return q.gz, false, nil
	default:
		return nil, false, httperr.New(http.StatusUnsupportedMediaType, "stream.in.unsupportedContentEncoding",
			"Unsupported Content-Encoding %q, supported: gzip.", enc)
	}
}

var (
	identity  = []byte("identity")
	gzipName  = []byte("gzip")
	xGzipName = []byte("x-gzip")
)

// readBody reads one record's body, decoded; more than MaxBodySize bytes (before or after
// decoding) is a 413. A body sent as is is not copied: q.body is the request's own bytes,
// valid until the handler returns.
func (s *Server) readBody(ctx *fasthttp.RequestCtx, q *request) *httperr.Error {
	limit := s.cfg.MaxBodySize
	body, plain, e := openBody(ctx, q, limit)
	if e != nil {
		return e
	}
	s.met.bytes.Add(float64(len(ctx.Request.Body()))) // as sent
	if plain {
		q.body = ctx.Request.Body()
		q.size = int64(len(q.body))
		return nil
	}
	n, err := readAll(body, &q.buf, limit)
	q.body, q.size = q.buf, n
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(limit)
	case err != nil:
		return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Cannot read the body: %v.", err)
	}
	return nil
}

// readNDJSON reads an NDJSON body as a stream of records: a gzip body is decoded and split
// chunk by chunk (readLines), a body sent as is is split where it is (splitLines).
func (s *Server) readNDJSON(ctx *fasthttp.RequestCtx, q *request) *httperr.Error {
	body, plain, e := openBody(ctx, q, s.cfg.MaxNDJSONBodySize)
	if e != nil {
		return e
	}
	lim := lineLimits{total: s.cfg.MaxNDJSONBodySize, line: s.cfg.MaxBodySize, lines: s.cfg.MaxNDJSONLines}
	var n int64
	if plain {
		n, e = q.splitLines(ctx.Request.Body(), lim)
	} else {
		n, e = q.readLines(body, lim)
	}
	q.size = n
	s.met.bytes.Add(float64(len(ctx.Request.Body()))) // as sent
	return e
}

// eventHeader returns the request's headers as a mapping sees them: fasthttp's request
// header, as in Keboola's HTTP source, with Host; a chunked body (not encoded) shows as its
// Content-Length, bodyLen, without Transfer-Encoding, as Keboola's fasthttp version gives it.
// The map and its values live in q.
func (q *request) eventHeader(h *fasthttp.RequestHeader, bodyLen int) http.Header {
	chunked := h.ContentLength() == -1
	if chunked && len(h.ContentEncoding()) == 0 {
		q.values = append(q.values, strconv.Itoa(bodyLen))
		q.header["Content-Length"] = q.values[len(q.values)-1:]
	}
	for k, v := range h.All() {
		if chunked && string(k) == "Transfer-Encoding" {
			continue
		}
		key, ok := commonHeaders[string(k)]
		if !ok {
			key = string(k)
		}
		val, ok := q.last[key]
		if !ok || val != string(v) { // most senders repeat their headers: no new string then
			val = string(v)
			if len(val) <= maxRemembered {
				q.last[key] = val
			}
		}
		if old, ok := q.header[key]; ok {
			q.header[key] = append(old, val)
			continue
		}
		i := len(q.values)
		q.values = append(q.values, val)
		q.header[key] = q.values[i : i+1 : i+1]
	}
	return q.header
}

// commonHeaders are header names whose strings are shared instead of made per request.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Host", "Content-Length", "Content-Type", "Content-Encoding", "User-Agent", "Accept",
		"Accept-Encoding", "Accept-Language", "Authorization", "Connection", "Cookie", "Origin", "Referer",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Request-Id", "Traceparent",
		"Cache-Control", "Pragma", "Transfer-Encoding", "Expect"} {
		m[k] = k
	}
	return m
}()

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
