package mapping

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/go-jsonnet"
	"github.com/tidwall/gjson"
)

// engine evaluates a mapping's template columns for a batch of events in one go-jsonnet
// Evaluate, so its fixed cost per call (it rebuilds the std library every time) is paid once
// per batch. Owned by one Renderer; not safe for concurrent use.
type engine struct {
	m     *Mapping
	vm    *jsonnet.VM // of an evaluation in this process, made when first needed
	state *evalState

	// Results of run, per event: the raw JSON of each template's value, or an error.
	cells []string // len(events) × len(m.templates)
	errs  []error

	// Where runRange and collect write: the results above, or those of a subset of events.
	out struct {
		cells []string
		errs  []error
	}

	exprBuf []byte   // values computed by string expressions
	spans   [][2]int // per cell, its bounds in exprBuf
	slow    []int    // events the string expressions could not render

	req []byte // a request to a worker
	// The responses of one run; its cells are views of them. When resp grows, the views
	// keep the earlier array alive, so resp[:start] is never read again.
	resp     []byte
	breaches int // evaluations of this run stopped at a limit
}

// MaxBreaches is how many evaluations of one batch may be stopped at a limit (time or memory)
// before the batch's remaining events fail at once: a runaway template costs its own batch at
// most this many time limits.
const MaxBreaches = 4

func newEngine(m *Mapping) *engine {
	e := &engine{m: m}
	e.reset()
	return e
}

// reset gives the engine a fresh state, and a VM when it evaluates in this process. After a
// timeout the abandoned evaluation still runs on the old pair, so neither is touched again.
func (e *engine) reset() {
	e.state = &evalState{names: e.m.templateNames, paths: map[string][]pathStep{}}
	e.vm = nil
	if e.m.pool != nil {
		return
	}
	e.vm = jsonnet.MakeVM()
	e.vm.MaxStack = e.m.cfg.TemplateMaxStack
	e.vm.Importer(noImports{})
	e.state.register(e.vm)
}

// run evaluates the templates for events: in Go where they compiled to string expressions,
// and in Jsonnet for the rest.
func (e *engine) run(events []Event) {
	k := len(e.m.templates)
	e.cells = resize(e.cells, len(events)*k)
	e.errs = resize(e.errs, len(events))
	clear(e.errs)
	e.resp, e.breaches = e.resp[:0], 0
	if e.m.exprs == nil {
		e.runJsonnet(events, e.cells, e.errs)
		return
	}
	e.runExprs(events)
	if len(e.slow) == 0 {
		return
	}
	sub := make([]Event, len(e.slow))
	for j, i := range e.slow {
		sub[j] = events[i]
	}
	cells, errs := make([]string, len(sub)*k), make([]error, len(sub))
	e.runJsonnet(sub, cells, errs)
	for j, i := range e.slow {
		copy(e.cells[i*k:(i+1)*k], cells[j*k:(j+1)*k])
		e.errs[i] = errs[j]
	}
}

// runExprs renders every event with the string expressions and lists in e.slow the events
// where a value was not a string.
func (e *engine) runExprs(events []Event) {
	k := len(e.m.templates)
	e.state.begin(events, e.errs)
	e.exprBuf, e.slow = e.exprBuf[:0], e.slow[:0]
	e.spans = resize(e.spans, len(events)*k)
	for i := range events {
		mark := len(e.exprBuf)
		cells := e.spans[i*k : (i+1)*k]
		clear(cells) // no span may outlive this render: the buffer is rewritten each time
		for j := range e.m.exprs {
			start := len(e.exprBuf)
			var ok bool
			e.exprBuf, ok = e.m.exprs[j].eval(e.exprBuf, e.state, i, j)
			if e.errs[i] != nil {
				break
			}
			if !ok {
				e.slow = append(e.slow, i)
				e.exprBuf = e.exprBuf[:mark]
				clear(cells) // Jsonnet fills them; the spans set so far point past the cut
				break
			}
			cells[j] = [2]int{start, len(e.exprBuf)}
		}
	}
	values := bytesToString(e.exprBuf)
	for i, sp := range e.spans {
		e.cells[i] = values[sp[0]:sp[1]]
	}
}

// runJsonnet evaluates the templates for events in Jsonnet, in chunks of at most
// TemplateBatchSize events and, for a worker, of bodies of at most a sixteenth of its memory,
// into cells and errs.
func (e *engine) runJsonnet(events []Event, cells []string, errs []error) {
	e.out.cells, e.out.errs = cells, errs
	for lo, hi := 0, 0; lo < len(events); lo = hi {
		hi = min(lo+e.m.cfg.TemplateBatchSize, len(events))
		if e.m.pool != nil {
			hi = lo + 1
			for size := len(events[lo].Body); hi < len(events) && hi-lo < e.m.cfg.TemplateBatchSize; hi++ {
				if size += len(events[hi].Body); int64(size) > e.m.cfg.TemplateMemoryLimit/16 {
					break
				}
			}
		}
		e.runRange(events, lo, hi)
	}
}

// runRange evaluates events[lo:hi]. When the evaluation fails as a whole (a Jsonnet error in
// one event), it splits the range to find the failing events, so the others still render;
// when it breaks a limit, each event is given its own, up to MaxBreaches per run.
func (e *engine) runRange(events []Event, lo, hi int) {
	if e.breaches >= MaxBreaches {
		for i := lo; i < hi; i++ {
			if e.out.errs[i] == nil {
				e.out.errs[i] = &ColumnError{Column: e.m.templateNames[0], Err: fmt.Errorf(
					"%w: not evaluated: %d evaluations of its batch were stopped at their limits", ErrTemplate, e.breaches)}
			}
		}
		return
	}
	out, err := e.evaluate(0, events[lo:hi], e.out.errs[lo:hi])
	if err == nil {
		err = e.collect(out, lo, hi)
	}
	switch {
	case err == nil:
	case hi-lo > 1 && breached(err):
		for i := lo; i < hi; i++ { // a runaway event: give each its own limits
			e.runRange(events, i, i+1)
		}
	case hi-lo > 1:
		mid := (lo + hi) / 2
		e.runRange(events, lo, mid)
		e.runRange(events, mid, hi)
	case e.out.errs[lo] != nil:
	case breached(err) && len(e.m.templates) == 1:
		e.out.errs[lo] = &ColumnError{Column: e.m.templateNames[0], Err: err}
	default:
		e.out.errs[lo] = e.blame(events[lo:hi], err)
	}
}

// blame finds which template column fails for a single event by evaluating them one by one.
func (e *engine) blame(event []Event, err error) error {
	errs := make([]error, 1)
	for k := range e.m.templates {
		if e.breaches >= MaxBreaches {
			break
		}
		if _, kerr := e.evaluate(k+1, event, errs); kerr != nil || errs[0] != nil {
			if errs[0] != nil {
				return errs[0]
			}
			return &ColumnError{Column: e.m.templateNames[k], Err: kerr}
		}
	}
	return &ColumnError{Column: e.m.templateNames[0], Err: err}
}

// evaluate runs program number p of the mapping (0: all templates, k+1: template k alone)
// over events within the limits, in a worker process when the mapping has a pool.
func (e *engine) evaluate(p int, events []Event, errs []error) (string, error) {
	var out string
	var err error
	if e.m.pool != nil {
		out, err = e.evaluateInWorker(p, events, errs)
	} else {
		out, err = e.evaluateHere(p, events, errs)
	}
	if breached(err) {
		e.breaches++
		if errors.Is(err, errTimeout) {
			e.m.timeouts.Add(1)
		} else {
			e.m.outOfMemory.Add(1)
		}
	}
	return out, err
}

// evaluateInWorker sends the program and events to a worker and reads back the output, a view
// of e.resp, and the natives' failures into errs.
func (e *engine) evaluateInWorker(p int, events []Event, errs []error) (string, error) {
	e.req = appendRequest(e.req[:0], e.m.cfg.TemplateMaxStack, e.m.programs[p].text, e.m.templateNames, events, errs)
	w, err := e.m.pool.acquire(e.m.key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	start := len(e.resp)
	e.resp, err = e.m.pool.call(w, e.req, e.m.cfg.TemplateTimeout, e.resp)
	if err != nil {
		e.m.pool.release(e.m.key, nil)
		e.resp = e.resp[:start]
		return "", err
	}
	e.m.pool.release(e.m.key, w)
	d := decoder{b: e.resp[start:]}
	out, evalErr, err := d.response(errs)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	return out, evalErr
}

// evaluateHere runs the program in this process. go-jsonnet cannot be interrupted: on timeout
// the evaluation is abandoned to finish on its own VM and the engine starts afresh; while
// MaxAbandoned of the mapping's evaluations are still running, its templates fail at once.
func (e *engine) evaluateHere(p int, events []Event, errs []error) (string, error) {
	m := e.m
	if n := m.abandoned.Load(); n >= MaxAbandoned {
		return "", fmt.Errorf("%w: %d evaluations that ran past the time limit are still running", ErrTemplate, n)
	}
	// The natives record failures in a slice of the state's own, copied out only when the
	// evaluation ends in time: an abandoned one keeps writing to a slice nobody else reads.
	st := e.state
	st.errBuf = resize(st.errBuf, len(errs))
	copy(st.errBuf, errs)
	st.begin(events, st.errBuf)
	type result struct {
		out string
		err error
	}
	const running, finished, gaveUp = 0, 1, 2
	done := make(chan result, 1)
	vm, program, outcome := e.vm, m.programs[p].node, new(atomic.Int32)
	go func() {
		out, err := vm.Evaluate(program)
		done <- result{out, err}
		if !outcome.CompareAndSwap(running, finished) {
			m.abandoned.Add(-1)
		}
	}()
	timer := time.NewTimer(m.cfg.TemplateTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		if outcome.CompareAndSwap(running, gaveUp) {
			m.abandoned.Add(1)
			e.reset()
			return "", fmt.Errorf("%w: evaluation %w after %s", ErrTemplate, errTimeout, m.cfg.TemplateTimeout)
		}
		r = <-done // it finished just in time
	}
	copy(errs, st.errBuf)
	if r.err != nil {
		return "", fmt.Errorf("%w: %s", ErrTemplate, firstLine(r.err.Error()))
	}
	return r.out, nil
}

// MaxAbandoned is how many evaluations of one mapping past their time limit may still be
// running in this process (without workers, see InitWorkers) before its templates fail at
// once instead of starting more.
const MaxAbandoned = 4

// collect splits the output of a batch evaluation into e.cells for events lo..hi. The cells
// are substrings of out. An event whose values exceed the output limit fails.
func (e *engine) collect(out string, lo, hi int) error {
	k := len(e.m.templates)
	i := lo
	gjson.Parse(out).ForEach(func(_, row gjson.Result) bool {
		if i == hi {
			return false
		}
		size := 0
		if k == 1 {
			e.out.cells[i], size = row.Raw, len(row.Raw)
		} else {
			j := 0
			row.ForEach(func(_, value gjson.Result) bool {
				e.out.cells[i*k+j] = value.Raw
				size += len(value.Raw)
				j++
				return j < k
			})
		}
		if size > e.m.cfg.TemplateMaxOutput && e.out.errs[i] == nil {
			e.out.errs[i] = &ColumnError{Column: e.m.templateNames[0], Err: fmt.Errorf(
				"%w: output of %d bytes exceeds the limit of %d bytes", ErrTemplate, size, e.m.cfg.TemplateMaxOutput)}
		}
		i++
		return true
	})
	if i != hi {
		return fmt.Errorf("%w: batch returned %d values for %d events", ErrTemplate, i-lo, hi-lo)
	}
	return nil
}

// noImports refuses every import: templates are sandboxed.
type noImports struct{}

func (noImports) Import(_, path string) (jsonnet.Contents, string, error) {
	return jsonnet.Contents{}, "", fmt.Errorf("import %q: imports are disabled in templates", path)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
