package intake

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

var ndjsonContentType = []string{"application/json"}

// prepareBatch makes the events of an NDJSON body read by readNDJSON. A batch is written
// whole or not at all: Sink.WriteBatch ensures it within one source; when the URL matches
// sources in several branches, every sink of every branch is checked here first, so no branch
// gets a batch that another refuses. Each line is a JSON record: its events carry the request
// headers with Content-Type application/json.
func (s *Server) prepareBatch(q *request, ev mapping.Event) *httperr.Error {
	if len(q.refs) == 0 {
		return httperr.New(http.StatusBadRequest, "stream.in.badRequest", "The NDJSON body holds no record.")
	}
	h := make(http.Header, len(ev.Header))
	for k, v := range ev.Header {
		h[k] = v
	}
	h["Content-Type"] = ndjsonContentType
	ev.Header = h
	q.batchEvents(ev)
	if len(q.keys) < 2 {
		return nil
	}
	mapping.Prepare(q.events) // each body is validated here once, not again by Write
	var errs lineErrors
	for _, key := range q.keys {
		s.checker.check(s.sink, key, q.events, &errs)
	}
	if errs.failed == 0 {
		return nil
	}
	lines := make([]httperr.LineError, len(errs.first))
	for i, f := range errs.first {
		lines[i] = httperr.LineError{Line: int(q.refs[f.index].line), Error: httperr.Sentence(f.err.Error())}
	}
	return columnError(errs.first[len(errs.first)-1].err, lines, errs.failed, len(q.events))
}

// lineErrors collects the first error of each failed event of a batch, keeping only the
// maxLineErrors lowest-numbered ones (what the answer lists), whatever the batch's size.
type lineErrors struct {
	seen   []uint64 // a bit per event that failed
	failed int
	first  []indexedError // sorted by index, at most maxLineErrors
}

type indexedError struct {
	index int
	err   error
}

func (l *lineErrors) add(i int, n int, err error) {
	if l.seen == nil {
		l.seen = make([]uint64, (n+63)/64)
	}
	if l.seen[i/64]&(1<<(i%64)) != 0 {
		return
	}
	l.seen[i/64] |= 1 << (i % 64)
	l.failed++
	if len(l.first) == maxLineErrors && i > l.first[len(l.first)-1].index {
		return
	}
	at := sort.Search(len(l.first), func(j int) bool { return l.first[j].index > i })
	if len(l.first) < maxLineErrors {
		l.first = append(l.first, indexedError{})
	}
	copy(l.first[at+1:], l.first[at:])
	l.first[at] = indexedError{i, err}
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
// per event in errs. Listing errors are left to Write, which reports them.
func (c *batchChecker) check(sk Sink, key sink.SourceKey, events []mapping.Event, errs *lineErrors) {
	defs, err := sk.Sinks(key)
	if err != nil {
		return
	}
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
			if err := rs.rows.Err(j); err != nil {
				errs.add(j, len(events), err)
			}
		}
		cs.pool.Put(rs)
	}
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
