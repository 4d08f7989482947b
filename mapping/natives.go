package mapping

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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
	errBuf  []error // errs of a Jsonnet evaluation (see engine.evaluate)
	bodies  []bodyState
	names   []string // template column names, by template number
	paths   map[string][]pathStep
	natives map[string]nativeFunc // the globals without a template number, by name
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

// nativeFunc implements a global for event i; args are its arguments after the event index.
type nativeFunc func(ev *Event, i int, args []any) (any, error)

// simpleGlobals implements the globals that need no template number, by name.
func (s *evalState) simpleGlobals() map[string]nativeFunc {
	kafka := func(f func(ev *Event) any) nativeFunc {
		return func(ev *Event, _ int, _ []any) (any, error) {
			if !ev.Kafka {
				return nil, nil
			}
			return f(ev), nil
		}
	}
	return map[string]nativeFunc{
		"Ip": func(ev *Event, _ int, _ []any) (any, error) {
			if !ev.ClientIP.IsValid() {
				return "", nil
			}
			return ev.ClientIP.String(), nil
		},
		"Now":     func(ev *Event, _ int, args []any) (any, error) { return s.formatTime(ev.ReceivedAt, arg(args, 0)) },
		"BodyStr": func(ev *Event, _ int, _ []any) (any, error) { return string(ev.Body), nil },
		"HeaderStr": func(ev *Event, _ int, _ []any) (any, error) {
			s.scratch, s.keys = appendHeaderLines(s.scratch[:0], ev.Header, s.keys)
			return string(s.scratch), nil
		},
		"Topic":     kafka(func(ev *Event) any { return ev.Topic }),
		"Partition": kafka(func(ev *Event) any { return float64(ev.Partition) }),
		"Offset":    kafka(func(ev *Event) any { return float64(ev.Offset) }),
		"Key": kafka(func(ev *Event) any {
			if ev.Key == nil {
				return nil
			}
			return string(ev.Key)
		}),
		"Timestamp": func(ev *Event, _ int, args []any) (any, error) {
			if !ev.Kafka {
				return nil, nil
			}
			return s.formatTime(ev.Timestamp, arg(args, 0))
		},
	}
}

// register installs the natives behind the template globals on vm. Each global has a generic
// native, used by its Jsonnet closure, and natives per argument count, used by direct calls
// (see rewriteCalls). Every native takes the event index first.
func (s *evalState) register(vm *jsonnet.VM) {
	add := func(name string, params ast.Identifiers, f nativeFunc) {
		vm.NativeFunction(&jsonnet.NativeFunction{Name: name, Params: append(ast.Identifiers{"i"}, params...),
			Func: func(args []any) (any, error) {
				i := int(args[0].(float64))
				return f(&s.events[i], i, args[1:])
			}})
	}
	vm.NativeFunction(&jsonnet.NativeFunction{Name: "kb_count", Func: func([]any) (any, error) {
		return float64(len(s.events)), nil
	}})
	s.natives = s.simpleGlobals()
	for name, f := range s.natives {
		native := "kb_" + strings.ToLower(name)
		if name == "Now" || name == "Timestamp" { // the ones with an optional format
			add(native, ast.Identifiers{"format"}, f)
			add(native+"0", nil, f)
			add(native+"1", ast.Identifiers{"format"}, f)
			continue
		}
		add(native, nil, f)
	}
	s.registerLookups(add)
}

type addFunc = func(string, ast.Identifiers, nativeFunc)

// registerLookups installs Body and Header: (k, what, default), where k is the template number.
// The generic natives get the noDefault sentinel when no default was given; the others know
// from their argument count.
func (s *evalState) registerLookups(add addFunc) {
	for _, l := range []struct {
		name string
		f    func(ev *Event, i, k int, what any, def any, hasDef bool) (any, error)
	}{{"body", s.body}, {"header", s.header}} {
		add("kb_"+l.name, ast.Identifiers{"k", "what", "default"}, func(ev *Event, i int, args []any) (any, error) {
			def, isString := args[2].(string)
			return l.f(ev, i, int(args[0].(float64)), args[1], args[2], !isString || def != noDefault)
		})
		add("kb_"+l.name+"0", ast.Identifiers{"k"}, func(ev *Event, i int, args []any) (any, error) {
			return l.f(ev, i, int(args[0].(float64)), nil, nil, false)
		})
		add("kb_"+l.name+"1", ast.Identifiers{"k", "what"}, func(ev *Event, i int, args []any) (any, error) {
			return l.f(ev, i, int(args[0].(float64)), args[1], nil, false)
		})
		add("kb_"+l.name+"2", ast.Identifiers{"k", "what", "default"}, func(ev *Event, i int, args []any) (any, error) {
			return l.f(ev, i, int(args[0].(float64)), args[1], args[2], true)
		})
	}
}

// arg is args[n], or nil when the native has fewer parameters.
func arg(args []any, n int) any {
	if n < len(args) {
		return args[n]
	}
	return nil
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

// body implements Body(path, default) for event i, template column k. As in Keboola, the body
// is decoded as a whole first: a JSON body that is not an object fails, and a path walks the
// decoded value (see lookupDecoded), duplicate keys resolved to the last.
func (s *evalState) body(ev *Event, i, k int, pathArg, def any, hasDef bool) (any, error) {
	raw, found, failed, err := s.bodyLookup(ev, i, k, pathArg)
	switch {
	case err != nil || failed:
		return nil, err
	case found:
		return decodeValue(raw), nil
	case hasDef:
		return def, nil
	}
	s.fail(i, k, errorf(ErrNotFound, "path %q not found in the body", pathArg))
	return nil, nil
}

// bodyLookup finds the raw JSON text of Body(path) for event i. A body that cannot be read
// fails event i in template column k (recorded by s.fail, failed set); err is for a bad path
// argument.
func (s *evalState) bodyLookup(ev *Event, i, k int, pathArg any) (raw string, found, failed bool, err error) {
	b := &s.bodies[i]
	body, err := b.parse(ev)
	if err == nil && !b.form {
		if v := trimJSONSpace(body); v == "" || v[0] != '{' {
			err = errorf(ErrInvalidBody, "invalid JSON: Body() needs a JSON object, the body is %s", jsonKind(v))
		}
	}
	if err != nil {
		s.fail(i, k, err)
		return "", false, true, nil
	}
	path := ""
	if pathArg != nil {
		var ok bool
		if path, ok = pathArg.(string); !ok {
			return "", false, false, fmt.Errorf("the path given to Body must be a string, got %T", pathArg)
		}
	}
	steps, ok := s.paths[path]
	if !ok {
		steps = compilePath(path)
		if len(s.paths) < 1024 {
			s.paths[path] = steps
		}
	}
	if path != "" && len(steps) == 0 { // "." and the like: a decoded body has no such value
		return "", false, false, nil
	}
	raw, found = lookup(body, steps, lookupDecoded)
	return raw, found, false, nil
}

// decodeValue decodes a valid JSON value as Keboola's BodyMap does (encoding/json: float64
// numbers, the last of duplicate keys wins).
func decodeValue(raw string) any {
	if raw[0] != '{' && raw[0] != '[' {
		return gjson.Parse(raw).Value()
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return gjson.Parse(raw).Value() // a number out of float64's range
	}
	return v
}

// jsonKind names the kind of the JSON value v, for error messages.
func jsonKind(v string) string {
	switch {
	case v == "":
		return "empty"
	case v[0] == '[':
		return "an array"
	case v[0] == '"':
		return "a string"
	case v == "null":
		return "null"
	case v == "true" || v == "false":
		return "a boolean"
	}
	return "a number"
}

// header implements Header(name, default) for event i, template column k.
func (s *evalState) header(ev *Event, i, k int, nameArg, def any, hasDef bool) (any, error) {
	if nameArg == nil {
		all := make(map[string]any, len(ev.Header))
		for name, values := range ev.Header {
			if len(values) > 0 {
				all[http.CanonicalHeaderKey(name)] = values[0]
			}
		}
		return all, nil
	}
	name, ok := nameArg.(string)
	if !ok {
		return nil, fmt.Errorf("the name given to Header must be a string, got %T", nameArg)
	}
	name = http.CanonicalHeaderKey(name)
	if values := ev.Header[name]; len(values) > 0 {
		return values[0], nil
	}
	if hasDef {
		return def, nil
	}
	s.fail(i, k, errorf(ErrNotFound, "header %q not found", name))
	return nil, nil
}
