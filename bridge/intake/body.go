package intake

import (
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
	refs   []lineRef // NDJSON: where each record is in buf, and its line number
	size   int64     // decoded bytes of the body
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

// What a pooled request may keep: a rare large body or batch is released with its request
// instead of being pinned by the pool, so the memory of a burst returns.
const (
	maxPooledBuf    = 1 << 20
	maxPooledEvents = 1 << 10
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
	q.events, q.refs, q.keys, q.buf, q.ndjson, q.size = q.events[:0], q.refs[:0], q.keys[:0], q.buf[:0], nil, 0
	q.host[0], q.length[0] = "", ""
	requestPool.Put(q)
}

var errTooLarge = errors.New("body too large")

// openBody returns the request body, gzip-decoded when Content-Encoding says so. A body
// announced larger than limit is a 413 at once; the caller bounds the decoded bytes.
func openBody(r *http.Request, q *request, limit int64) (io.Reader, *httperr.Error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	switch enc := r.Header.Get("Content-Encoding"); {
	case enc == "" || strings.EqualFold(enc, "identity"):
		return r.Body, nil
	case strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip"):
		if r.ContentLength == 0 {
			return r.Body, nil
		}
		if err := q.resetGzip(r.Body); err != nil {
			return nil, httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Invalid gzip body: %v.", err)
		}
		return q.gz, nil
	default:
		return nil, httperr.New(http.StatusUnsupportedMediaType, "stream.in.unsupportedContentEncoding",
			"Unsupported Content-Encoding %q, supported: gzip.", enc)
	}
}

// readBody reads one record's body, decoded, into q.buf; more than MaxBodySize bytes (before or
// after decoding) is a 413.
func (s *Server) readBody(r *http.Request, q *request) *httperr.Error {
	limit := s.cfg.MaxBodySize
	body, e := openBody(r, q, limit)
	if e != nil {
		return e
	}
	if body == r.Body && r.ContentLength > 0 && int64(cap(q.buf)) <= r.ContentLength {
		q.buf = make([]byte, 0, r.ContentLength+512)
	}
	n, err := readAll(body, &q.buf, limit)
	q.size = n
	s.met.bytes.Add(float64(n))
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(limit)
	case err != nil:
		return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Cannot read the body: %v.", err)
	}
	return nil
}

// readNDJSON reads an NDJSON body as a stream of records (see readLines).
func (s *Server) readNDJSON(r *http.Request, q *request) *httperr.Error {
	body, e := openBody(r, q, s.cfg.MaxNDJSONBodySize)
	if e != nil {
		return e
	}
	n, e := q.readLines(body, lineLimits{total: s.cfg.MaxNDJSONBodySize, line: s.cfg.MaxBodySize, lines: s.cfg.MaxNDJSONLines})
	q.size = n
	s.met.bytes.Add(float64(n))
	return e
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
		q.length[0] = strconv.FormatInt(q.size, 10)
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
