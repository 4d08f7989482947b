package mapping

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
	"github.com/tidwall/gjson"
)

// errTimeout is an evaluation that ran past Config.TemplateTimeout.
var errTimeout = errors.New("timed out")

// engine evaluates a mapping's template columns for a batch of events in one go-jsonnet
// Evaluate, so its fixed cost per call (it rebuilds the std library every time) is paid once
// per batch. Owned by one Renderer; not safe for concurrent use.
type engine struct {
	m     *Mapping
	vm    *jsonnet.VM
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
}

func newEngine(m *Mapping) *engine {
	e := &engine{m: m}
	e.reset()
	return e
}

// reset gives the engine a fresh VM and state. After a timeout the abandoned evaluation still
// runs on the old pair, so neither is touched again.
func (e *engine) reset() {
	e.state = &evalState{names: e.m.templateNames, paths: map[string][]pathStep{}}
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
// TemplateBatchSize, into cells and errs.
func (e *engine) runJsonnet(events []Event, cells []string, errs []error) {
	e.out.cells, e.out.errs = cells, errs
	for lo := 0; lo < len(events); lo += e.m.cfg.TemplateBatchSize {
		e.runRange(events, lo, min(lo+e.m.cfg.TemplateBatchSize, len(events)))
	}
}

// runRange evaluates events[lo:hi]. When the evaluation fails as a whole (a Jsonnet error in
// one event), it splits the range to find the failing events, so the others still render.
func (e *engine) runRange(events []Event, lo, hi int) {
	out, err := e.evaluate(e.m.batchProgram, events[lo:hi], e.out.errs[lo:hi])
	if err == nil {
		err = e.collect(out, lo, hi)
	}
	switch {
	case err == nil:
	case hi-lo > 1 && errors.Is(err, errTimeout):
		for i := lo; i < hi; i++ { // a slow event: give each its own time limit
			e.runRange(events, i, i+1)
		}
	case hi-lo > 1:
		mid := (lo + hi) / 2
		e.runRange(events, lo, mid)
		e.runRange(events, mid, hi)
	case e.out.errs[lo] == nil:
		e.out.errs[lo] = e.blame(events[lo:hi], err)
	}
}

// blame finds which template column fails for a single event by evaluating them one by one.
func (e *engine) blame(event []Event, err error) error {
	errs := make([]error, 1)
	for k, program := range e.m.singlePrograms {
		if _, kerr := e.evaluate(program, event, errs); kerr != nil || errs[0] != nil {
			if errs[0] != nil {
				return errs[0]
			}
			return &ColumnError{Column: e.m.templateNames[k], Err: kerr}
		}
	}
	return &ColumnError{Column: e.m.templateNames[0], Err: err}
}

// MaxAbandoned is how many evaluations past their time limit may still be running, process
// wide, before templates fail at once instead of starting more: runaway templates must not
// take every core.
const MaxAbandoned = 4

// abandoned counts evaluations that ran past their time limit and have not ended yet.
var abandoned atomic.Int64

// AbandonedEvaluations is how many evaluations that ran past their time limit are still running.
func AbandonedEvaluations() int64 { return abandoned.Load() }

// evaluate runs program over events within the time limit. go-jsonnet cannot be interrupted:
// on timeout the evaluation is abandoned to finish on its own VM and the engine starts afresh.
func (e *engine) evaluate(program ast.Node, events []Event, errs []error) (string, error) {
	if n := abandoned.Load(); n >= MaxAbandoned {
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
	vm, outcome := e.vm, new(atomic.Int32)
	go func() {
		out, err := vm.Evaluate(program)
		done <- result{out, err}
		if !outcome.CompareAndSwap(running, finished) {
			abandoned.Add(-1)
		}
	}()
	timer := time.NewTimer(e.m.cfg.TemplateTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		if outcome.CompareAndSwap(running, gaveUp) {
			abandoned.Add(1)
			e.m.timeouts.Add(1)
			e.reset()
			return "", fmt.Errorf("%w: evaluation %w after %s", ErrTemplate, errTimeout, e.m.cfg.TemplateTimeout)
		}
		r = <-done // it finished just in time
	}
	copy(errs, st.errBuf)
	if r.err != nil {
		return "", fmt.Errorf("%w: %s", ErrTemplate, firstLine(r.err.Error()))
	}
	return r.out, nil
}

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
