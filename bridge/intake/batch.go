package intake

import (
	"net/http"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

var ndjsonContentType = []string{"application/json"}

// prepareBatch splits an NDJSON body into events. A batch is written whole or not at all:
// Sink.WriteBatch ensures it within one source; when the URL matches sources in several
// branches, every sink of every branch is checked here first, so no branch gets a batch that
// another refuses. Each line is a JSON record: its events carry the request headers with
// Content-Type application/json.
func (s *Server) prepareBatch(q *request, ev mapping.Event) *httperr.Error {
	h := make(http.Header, len(ev.Header))
	for k, v := range ev.Header {
		h[k] = v
	}
	h["Content-Type"] = ndjsonContentType
	ev.Header = h
	if e := q.splitLines(ev, s.cfg.MaxBodySize); e != nil {
		return e
	}
	if len(q.events) == 0 {
		return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "The NDJSON body holds no record.")
	}
	if len(q.keys) < 2 {
		return nil
	}
	mapping.Prepare(q.events) // each body is validated here once, not again by Write
	errs := make([]error, len(q.events))
	failed := 0
	for _, key := range q.keys {
		failed += s.checker.check(s.sink, key, q.events, errs)
	}
	if failed == 0 {
		return nil
	}
	var lines []httperr.LineError
	var first error
	for i, err := range errs {
		if err != nil && len(lines) < maxLineErrors {
			first = err
			lines = append(lines, httperr.LineError{Line: q.lines[i], Error: httperr.Sentence(err.Error())})
		}
	}
	return columnError(first, lines, failed, len(q.events))
}

// batchChecker renders batches with the sinks' mappings, compiled once per sink version.
type batchChecker struct {
	cfg      mapping.Config
	mu       sync.Mutex
	compiled map[sink.SinkKey]*compiledSink
}

type compiledSink struct {
	version int
	updated time.Time
	pool    sync.Pool // *renderState
}

type renderState struct {
	r    *mapping.Renderer
	rows mapping.Rows
}

// check renders events with every enabled sink of the source and records the first error
// per event in errs; it returns how many events newly failed. Listing errors are left to
// Write, which reports them.
func (c *batchChecker) check(sk Sink, key sink.SourceKey, events []mapping.Event, errs []error) int {
	defs, err := sk.Sinks(key)
	if err != nil {
		return 0
	}
	failed := 0
	for i := range defs {
		if defs[i].Disabled {
			continue
		}
		cs := c.get(&defs[i])
		if cs == nil {
			continue
		}
		rs := cs.pool.Get().(*renderState)
		rs.r.RenderBatch(events, &rs.rows)
		for j := range rs.rows.Len() {
			if err := rs.rows.Err(j); err != nil && errs[j] == nil {
				errs[j] = err
				failed++
			}
		}
		cs.pool.Put(rs)
	}
	return failed
}

func (c *batchChecker) get(def *sink.Sink) *compiledSink {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.compiled[def.Key]
	if cs != nil && cs.version == def.Version && cs.updated.Equal(def.Updated) {
		return cs
	}
	m, err := mapping.CompileStored(def.Columns, c.cfg)
	if err != nil {
		return nil
	}
	cs = &compiledSink{version: def.Version, updated: def.Updated}
	cs.pool.New = func() any { return &renderState{r: m.NewRenderer()} }
	if c.compiled == nil {
		c.compiled = map[sink.SinkKey]*compiledSink{}
	}
	c.compiled[def.Key] = cs
	return cs
}
