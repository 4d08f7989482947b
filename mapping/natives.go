package mapping

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
	"github.com/tidwall/gjson"
)

// evalState is what the native functions of one VM read: the events of the evaluation under
// way and where to record per-event failures. It belongs to exactly one VM.
type evalState struct {
	events  []Event
	errs    []error // per event; the first failure wins
	bodies  []bodyState
	names   []string // template column names, by template number
	paths   map[string]string
	scratch []byte
	keys    []string
}

// begin points the state at events, whose failures go to errs.
func (s *evalState) begin(events []Event, errs []error) {
	s.events, s.errs = events, errs
	if cap(s.bodies) < len(events) {
		s.bodies = make([]bodyState, len(events))
	}
	s.bodies = s.bodies[:len(events)]
	for i := range s.bodies {
		s.bodies[i].reset()
	}
}

// fail records why event i failed in template column k and lets the evaluation go on, so
// that one bad event does not fail the whole batch.
func (s *evalState) fail(i, k int, err error) {
	if s.errs[i] == nil {
		s.errs[i] = &ColumnError{Column: s.names[k], Err: err}
	}
}

// register installs the template globals' natives on vm.
func (s *evalState) register(vm *jsonnet.VM) {
	add := func(name string, params ast.Identifiers, f func(ev *Event, i int, args []any) (any, error)) {
		vm.NativeFunction(&jsonnet.NativeFunction{Name: name, Params: params, Func: func(args []any) (any, error) {
			i := int(args[0].(float64))
			return f(&s.events[i], i, args[1:])
		}})
	}
	vm.NativeFunction(&jsonnet.NativeFunction{Name: "kb_count", Func: func([]any) (any, error) {
		return float64(len(s.events)), nil
	}})
	add("kb_ip", ast.Identifiers{"i"}, func(ev *Event, _ int, _ []any) (any, error) {
		if !ev.ClientIP.IsValid() {
			return "", nil
		}
		return ev.ClientIP.String(), nil
	})
	add("kb_now", ast.Identifiers{"i", "format"}, func(ev *Event, _ int, args []any) (any, error) {
		return s.formatTime(ev.ReceivedAt, args[0])
	})
	add("kb_body", ast.Identifiers{"i", "k", "path", "default"}, s.body)
	add("kb_bodystr", ast.Identifiers{"i"}, func(ev *Event, _ int, _ []any) (any, error) {
		return string(ev.Body), nil
	})
	add("kb_header", ast.Identifiers{"i", "k", "name", "default"}, s.header)
	add("kb_headerstr", ast.Identifiers{"i"}, func(ev *Event, _ int, _ []any) (any, error) {
		s.scratch, s.keys = appendHeaderLines(s.scratch[:0], ev.Header, s.keys)
		return string(s.scratch), nil
	})
	s.registerKafka(add)
}

func (s *evalState) registerKafka(add func(string, ast.Identifiers, func(*Event, int, []any) (any, error))) {
	kafka := func(f func(ev *Event) any) func(*Event, int, []any) (any, error) {
		return func(ev *Event, _ int, _ []any) (any, error) {
			if !ev.Kafka {
				return nil, nil
			}
			return f(ev), nil
		}
	}
	add("kb_topic", ast.Identifiers{"i"}, kafka(func(ev *Event) any { return ev.Topic }))
	add("kb_partition", ast.Identifiers{"i"}, kafka(func(ev *Event) any { return float64(ev.Partition) }))
	add("kb_offset", ast.Identifiers{"i"}, kafka(func(ev *Event) any { return float64(ev.Offset) }))
	add("kb_key", ast.Identifiers{"i"}, kafka(func(ev *Event) any {
		if ev.Key == nil {
			return nil
		}
		return string(ev.Key)
	}))
	add("kb_timestamp", ast.Identifiers{"i", "format"}, func(ev *Event, _ int, args []any) (any, error) {
		if !ev.Kafka {
			return nil, nil
		}
		return s.formatTime(ev.Timestamp, args[0])
	})
}

func (s *evalState) formatTime(t time.Time, format any) (any, error) {
	var err error
	switch f := format.(type) {
	case nil:
		s.scratch = appendTime(s.scratch[:0], t)
	case string:
		s.scratch, err = appendStrftime(s.scratch[:0], t.UTC(), f)
	default:
		return nil, fmt.Errorf("time format must be a string, got %T", format)
	}
	return string(s.scratch), err
}

// body implements Body(path, default) for event i, template column args[0].
func (s *evalState) body(ev *Event, i int, args []any) (any, error) {
	k := int(args[0].(float64))
	body, err := s.bodies[i].parse(ev)
	if err != nil {
		s.fail(i, k, err)
		return nil, nil
	}
	if args[1] == nil {
		return gjson.Parse(body).Value(), nil
	}
	path, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("Body: path must be a string, got %T", args[1])
	}
	gpath, ok := s.paths[path]
	if !ok {
		if gpath, err = compilePath(path); err != nil {
			return nil, err
		}
		if len(s.paths) < 1024 {
			s.paths[path] = gpath
		}
	}
	res := gjson.Get(body, gpath)
	if res.Exists() {
		return res.Value(), nil
	}
	if def, given := args[2].(string); !given || def != noDefault {
		return args[2], nil
	}
	s.fail(i, k, errorf(ErrNotFound, "path %q not found in the body", path))
	return nil, nil
}

// header implements Header(name, default) for event i, template column args[0].
func (s *evalState) header(ev *Event, i int, args []any) (any, error) {
	k := int(args[0].(float64))
	if args[1] == nil {
		all := make(map[string]any, len(ev.Header))
		for name, values := range ev.Header {
			if len(values) > 0 {
				all[http.CanonicalHeaderKey(name)] = values[0]
			}
		}
		return all, nil
	}
	name, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("Header: name must be a string, got %T", args[1])
	}
	name = http.CanonicalHeaderKey(name)
	if values := ev.Header[name]; len(values) > 0 {
		return values[0], nil
	}
	if def, given := args[2].(string); !given || def != noDefault {
		return args[2], nil
	}
	s.fail(i, k, errorf(ErrNotFound, "header %q not found", name))
	return nil, nil
}
