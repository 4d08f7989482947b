package intake

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// Header values shared by every response; net/http only reads them.
var (
	textPlain    = []string{"text/plain; charset=utf-8"}
	jsonType     = []string{"application/json"}
	allowOrigin  = []string{"*"}
	allowMethods = []string{"OPTIONS, POST"}
	okBody       = []byte("OK")
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/stream/"); ok {
		if project, source, secret, ok := splitStreamPath(rest); ok {
			s.serveStream(w, r, project, source, secret)
			return
		}
	}
	if path == "/health-check" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header()["Content-Type"] = textPlain
		_, _ = w.Write([]byte("OK\n"))
		return
	}
	s.fail(w, httperr.New(http.StatusNotFound, "stream.in.routeNotFound",
		"Not found, please send data using POST /stream/<projectID>/<sourceID>/<secret>"), time.Now())
}

// splitStreamPath reads "<projectId>/<sourceId>/<secret>" (a trailing slash is accepted).
func splitStreamPath(rest string) (project, source, secret string, ok bool) {
	rest = strings.TrimSuffix(rest, "/")
	project, rest, ok1 := strings.Cut(rest, "/")
	source, secret, ok2 := strings.Cut(rest, "/")
	ok = ok1 && ok2 && project != "" && source != "" && secret != "" && !strings.Contains(secret, "/")
	return project, source, secret, ok
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, project, source, secret string) {
	start := time.Now()
	h := w.Header()
	h["Access-Control-Allow-Origin"] = allowOrigin
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		h["Allow"] = allowMethods
		h["Access-Control-Allow-Methods"] = allowMethods
		h["Access-Control-Allow-Headers"] = allowOrigin
		h["Access-Control-Expose-Headers"] = allowOrigin
		w.WriteHeader(http.StatusOK)
		return
	default:
		h["Allow"] = allowMethods
		s.fail(w, httperr.New(http.StatusMethodNotAllowed, "stream.in.methodNotAllowed",
			"Method %s is not allowed, please send data using POST.", r.Method), start)
		return
	}
	q := getRequest()
	defer putRequest(q)
	status, verbose, err := s.ingest(r, q, project, source, secret, start)
	if err != nil {
		s.fail(w, err, start)
		return
	}
	s.met.records.Add(float64(len(q.events)))
	if verbose {
		s.writeVerbose(w, q, status)
	} else {
		h["Content-Type"] = textPlain
		w.WriteHeader(status)
		_, _ = w.Write(okBody)
	}
	s.met.observe(status, start)
}

// ingest authenticates, reads and writes the request's records and waits for their sync.
// It returns 200 (every sink synced) or 202 (at least one sink only buffered).
func (s *Server) ingest(r *http.Request, q *request, project, source, secret string, start time.Time) (int, bool, *httperr.Error) {
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
	ndjson := isNDJSON(r.Header.Get("Content-Type"))
	read := s.readNDJSON
	if !ndjson {
		read = s.readBody
	}
	if e := read(r, q); e != nil {
		return 0, false, e
	}
	ev := mapping.Event{Header: eventHeader(r, q), ClientIP: s.clientIP(r), ReceivedAt: start}
	if ndjson {
		if e := s.prepareBatch(q, ev); e != nil {
			return 0, false, e
		}
	} else {
		ev.Body = q.buf
		q.events = append(q.events, ev)
	}
	// The shared deadline bounds the wait; a client that goes away is not watched: its wait
	// ends at the next sync anyway.
	status, e := s.write(s.timeouts.get(start), q, ndjson)
	return status, r.URL.RawQuery != "" && r.URL.Query().Get("verbose") == "true", e
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

func (s *Server) fail(w http.ResponseWriter, e *httperr.Error, start time.Time) {
	if e.Status >= 500 && e.Err != nil {
		s.log.Warn("request failed", "status", e.Status, "error", e.Err)
	}
	httperr.Write(w, e)
	s.met.observe(e.Status, start)
}

// isNDJSON reports whether the content type announces newline-delimited JSON.
func isNDJSON(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "application/x-ndjson") || strings.EqualFold(ct, "application/jsonl") ||
		strings.EqualFold(ct, "application/x-jsonlines")
}

func itoa(n int) string { return strconv.Itoa(n) }
