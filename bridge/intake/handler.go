package intake

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// Header values shared by every response.
var (
	textPlain    = []byte("text/plain; charset=utf-8")
	jsonType     = []byte("application/json")
	allowOrigin  = []byte("*")
	allowMethods = []byte("OPTIONS, POST")
	okBody       = []byte("OK")
	streamPrefix = []byte("/stream/")
	healthPath   = []byte("/health-check")
	verboseKey   = []byte("verbose")
	http11       = []byte("HTTP/1.1")
	http10       = []byte("HTTP/1.0")
)

func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	defer func() {
		if s.draining.Load() {
			ctx.SetConnectionClose() // the connection ends after this answer
		}
		if v := recover(); v != nil {
			s.log.Error("intake handler panicked", "panic", v)
			s.fail(ctx, &httperr.Error{Status: http.StatusInternalServerError, Name: "stream.in.internalError",
				Message: "Internal server error, nothing was acknowledged, please retry."}, start)
		}
	}()
	if p := ctx.Request.Header.Protocol(); !bytes.Equal(p, http11) && !bytes.Equal(p, http10) {
		s.fail(ctx, httperr.New(http.StatusBadRequest, "stream.in.badRequest",
			"The request cannot be read: HTTP Version Not Supported (%.20q).", p), start)
		ctx.SetConnectionClose()
		return
	}
	path := ctx.URI().PathOriginal()
	if rest, ok := bytes.CutPrefix(path, streamPrefix); ok {
		if project, source, secret, ok := splitStreamPath(unescape(rest)); ok {
			s.serveStream(ctx, project, source, secret, start)
			return
		}
	}
	if bytes.Equal(path, healthPath) && (ctx.IsGet() || ctx.IsHead()) {
		ctx.Response.Header.SetContentTypeBytes(textPlain)
		ctx.Response.SetBodyString("OK\n")
		return
	}
	s.fail(ctx, httperr.New(http.StatusNotFound, "stream.in.routeNotFound",
		"Not found, please send data using POST /stream/<projectID>/<sourceID>/<secret>"), start)
}

// unescape decodes the path's percent escapes as net/http's URL.Path does; a path that is not
// valid is kept as sent (it then names no source).
func unescape(p []byte) string {
	if bytes.IndexByte(p, '%') < 0 {
		return string(p)
	}
	if u, err := url.PathUnescape(string(p)); err == nil {
		return u
	}
	return string(p)
}

// splitStreamPath reads "<projectId>/<sourceId>/<secret>" (a trailing slash is accepted).
func splitStreamPath(rest string) (project, source, secret string, ok bool) {
	rest = strings.TrimSuffix(rest, "/")
	project, rest, ok1 := strings.Cut(rest, "/")
	source, secret, ok2 := strings.Cut(rest, "/")
	ok = ok1 && ok2 && project != "" && source != "" && secret != "" && !strings.Contains(secret, "/")
	return project, source, secret, ok
}

func (s *Server) serveStream(ctx *fasthttp.RequestCtx, project, source, secret string, start time.Time) {
	h := &ctx.Response.Header
	h.SetBytesV("Access-Control-Allow-Origin", allowOrigin)
	switch {
	case ctx.IsPost():
	case ctx.IsOptions():
		h.SetBytesV("Allow", allowMethods)
		h.SetBytesV("Access-Control-Allow-Methods", allowMethods)
		h.SetBytesV("Access-Control-Allow-Headers", allowOrigin)
		h.SetBytesV("Access-Control-Expose-Headers", allowOrigin)
		return
	default:
		h.SetBytesV("Allow", allowMethods)
		s.fail(ctx, httperr.New(http.StatusMethodNotAllowed, "stream.in.methodNotAllowed",
			"Method %s is not allowed, please send data using POST.", ctx.Method()), start)
		return
	}
	q := getRequest()
	defer putRequest(q)
	status, verbose, err := s.ingest(ctx, q, project, source, secret, start)
	if err != nil {
		s.fail(ctx, err, start)
		return
	}
	s.met.records.Add(float64(len(q.events)))
	if verbose {
		s.writeVerbose(ctx, q, status)
	} else {
		h.SetContentTypeBytes(textPlain)
		ctx.SetStatusCode(status)
		ctx.Response.SetBodyRaw(okBody)
	}
	s.met.observe(status, start)
}

// ingest authenticates, reads and writes the request's records and waits for their sync.
// It returns 200 (every sink synced) or 202 (at least one sink only buffered).
func (s *Server) ingest(ctx *fasthttp.RequestCtx, q *request, project, source, secret string, start time.Time) (int, bool, *httperr.Error) {
	if s.draining.Load() {
		return 0, false, shutdownError()
	}
	projectID, err := strconv.ParseInt(project, 10, 64)
	if err != nil {
		return 0, false, httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Invalid project ID %q.", project)
	}
	var res lookupResult
	if q.keys, res = s.index.resolve(idKey{projectID, source}, secret, q.keys); res != found {
		return 0, false, lookupError(res)
	}
	ndjson := isNDJSON(ctx.Request.Header.ContentType())
	read := s.readNDJSON
	if !ndjson {
		read = s.readBody
	}
	if e := read(ctx, q); e != nil {
		return 0, false, e
	}
	ev := mapping.Event{Header: q.eventHeader(&ctx.Request.Header, len(ctx.Request.Body())), ClientIP: s.clientIP(ctx), ReceivedAt: start}
	if ndjson {
		if e := s.prepareBatch(q, ev); e != nil {
			return 0, false, e
		}
	} else {
		ev.Body = q.body
		q.events = append(q.events, ev)
	}
	// The shared deadline bounds the wait; a client that goes away is not watched: its wait
	// ends at the next sync anyway.
	status, e := s.write(s.timeouts.get(start), q, ndjson)
	verbose := len(ctx.URI().QueryString()) > 0 && string(ctx.QueryArgs().PeekBytes(verboseKey)) == "true"
	return status, verbose, e
}

// write sends the events to every matched source (one per branch) and waits for the sync.
func (s *Server) write(ctx context.Context, q *request, ndjson bool) (int, *httperr.Error) {
	var one [1]*sink.Write
	writes := one[:0]
	write := s.sink.Write
	if ndjson {
		write = s.sink.WriteBatch
	}
	for _, key := range q.keys {
		wr, err := write(ctx, key, q.events, nil)
		if err != nil {
			return 0, s.sinkError(err)
		}
		if wr.Failed() > 0 {
			return 0, renderError(wr, q, ndjson)
		}
		writes = append(writes, wr)
	}
	status := http.StatusOK
	for _, wr := range writes {
		if err := wr.Wait(ctx, sink.LevelLocal); err != nil {
			return 0, s.sinkError(err)
		}
		if !wr.WaitsForSync() {
			status = http.StatusAccepted
		}
	}
	return status, nil
}

func (s *Server) fail(ctx *fasthttp.RequestCtx, e *httperr.Error, start time.Time) {
	if e.Status >= 500 && e.Err != nil {
		s.log.Warn("request failed", "status", e.Status, "error", e.Err)
	}
	writeError(ctx, e)
	s.met.observe(e.Status, start)
}

// writeError sends e as the response, in the envelope of httperr.Write.
func writeError(ctx *fasthttp.RequestCtx, e *httperr.Error) {
	ctx.Response.Header.SetContentTypeBytes(jsonType)
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	ctx.SetStatusCode(e.Status)
	ctx.Response.SetBodyRaw(httperr.Encode(e))
}

// readError answers a request fasthttp could not read, in JSON: headers over MaxHeaderBytes
// are 431, a body over the NDJSON limit 413, a client that did not send its request within
// ReadTimeout 408, anything else (a malformed request line or header, a bad chunk) 400.
func (s *Server) readError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	var e *httperr.Error
	switch {
	case errors.As(err, &small):
		e = httperr.New(http.StatusRequestHeaderFieldsTooLarge, "stream.in.headersTooLarge",
			"The request line and headers are over the maximum of %s.", formatBytes(int64(s.cfg.MaxHeaderBytes)))
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		limit := s.cfg.MaxBodySize
		if isNDJSON(ctx.Request.Header.ContentType()) {
			limit = s.cfg.MaxNDJSONBodySize
		}
		e = tooLarge(limit)
	case errors.As(err, &ne) && ne.Timeout():
		e = httperr.New(http.StatusRequestTimeout, "stream.in.requestTimeout",
			"The request was not received within %s.", s.cfg.ReadTimeout)
	default:
		e = httperr.New(http.StatusBadRequest, "stream.in.badRequest", "The request cannot be read: %s.", readReason(err))
	}
	writeError(ctx, e)
	s.met.observe(e.Status, time.Now())
}

// readReason is fasthttp's reason for refusing a request without the request's bytes, which
// it quotes (a client's bytes are not echoed).
func readReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "buffer size="); i > 0 {
		msg = msg[:i]
	}
	if i := strings.IndexAny(msg, "\"\n"); i > 0 {
		msg = msg[:i]
	}
	return strings.TrimRight(strings.TrimSpace(msg), ".:,")
}

// isNDJSON reports whether the content type announces newline-delimited JSON.
func isNDJSON(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	return bytes.EqualFold(ct, []byte("application/x-ndjson")) || bytes.EqualFold(ct, []byte("application/jsonl")) ||
		bytes.EqualFold(ct, []byte("application/x-jsonlines"))
}

func itoa(n int) string { return strconv.Itoa(n) }
