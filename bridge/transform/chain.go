package transform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kbridge/kbridge/bridge/strict"
)

// transformer changes one record in place; keep false drops it (Filter).
type transformer interface {
	apply(r *Record) (keep bool, err error)
}

// predicate tells whether a transform applies to a record.
type predicate interface {
	test(r *Record) bool
}

// Chain is the transforms of a pipeline, in order. It holds no per-record state: it may be
// used by many goroutines at once, each with its own records.
type Chain struct {
	steps []step
}

type step struct {
	alias, class string
	t            transformer
	pred         predicate // nil: always applies
	negate       bool
}

// Apply runs the chain on r. keep false means a transform dropped the record; an error names
// the transform that failed. r's Key and Value hold the result once Apply returns.
func (c *Chain) Apply(r *Record) (keep bool, err error) {
	defer r.Finish()
	for _, s := range c.steps {
		if s.pred != nil && s.pred.test(r) == s.negate {
			continue
		}
		keep, err := s.t.apply(r)
		if err != nil {
			return false, &Error{Alias: s.alias, Class: s.class, Err: err}
		}
		if !keep {
			return false, nil
		}
	}
	return true, nil
}

// ErrFailed is what every error of Apply is (errors.Is), whichever transform failed.
var ErrFailed = errors.New("transform failed")

// Error is a transform that failed on a record.
type Error struct {
	Alias, Class string
	Err          error
}

func (e *Error) Error() string { return fmt.Sprintf("transform %s (%s): %v", e.Alias, e.Class, e.Err) }

func (e *Error) Unwrap() []error { return []error{ErrFailed, e.Err} }

// Len returns the number of transforms.
func (c *Chain) Len() int { return len(c.steps) }

// Prefixes of Connect's transform and predicate classes.
const (
	transformsPackage = "org.apache.kafka.connect.transforms."
	predicatesPackage = "org.apache.kafka.connect.transforms.predicates."
)

// class is a transform or predicate class: its simple name, its own keys, and how it is built
// from them.
type class struct {
	name  string
	keys  []string
	build func(c *conf) any // a transformer or a predicate; errors go to c
}

// Classes lists the full names of the transforms and the predicates Parse knows.
func Classes() (transforms, predicates []string) {
	for _, c := range transformClasses {
		transforms = append(transforms, transformsPackage+c.name)
	}
	for _, c := range predicateClasses {
		predicates = append(predicates, predicatesPackage+c.name)
	}
	return transforms, predicates
}

// lookupClass finds a class given by its full name or its simple name.
func lookupClass(classes []class, pkg, name string) (class, bool) {
	name = strings.TrimSpace(name)
	for _, c := range classes {
		if name == pkg+c.name || name == c.name {
			return c, true
		}
	}
	return class{}, false
}

// Parse reads the transforms and predicates of a Connect config. It returns nil when there
// are none, the keys it read, and an error per bad key, each starting with the key: an unknown
// class, a key its class does not have (with the nearest known key), a missing or bad value.
func Parse(keys map[string]string) (*Chain, []string, []error) {
	p := parser{keys: keys, used: map[string]bool{}}
	preds := map[string]predicate{}
	for _, alias := range p.list("predicates") {
		if v := p.build("predicates", alias, predicateClasses, predicatesPackage); v != nil {
			preds[alias] = v.(predicate)
		}
	}
	chain := &Chain{}
	for _, alias := range p.list("transforms") {
		v := p.build("transforms", alias, transformClasses, transformsPackage, "predicate", "negate")
		prefix := "transforms." + alias + "."
		s := step{alias: alias, class: strings.TrimSpace(keys[prefix+"type"])}
		if name, ok := p.get(prefix + "predicate"); ok && name != "" {
			if s.pred = preds[name]; s.pred == nil && !slices.Contains(p.list("predicates"), name) {
				p.fail(prefix+"predicate", "no predicate %q in predicates", name)
			}
		}
		if neg, ok := p.get(prefix + "negate"); ok {
			b, err := strconv.ParseBool(neg)
			if err != nil {
				p.fail(prefix+"negate", "must be true or false, got %q", neg)
			}
			if _, has := keys[prefix+"predicate"]; !has {
				p.fail(prefix+"negate", "needs a predicate")
			}
			s.negate = b
		}
		if v != nil {
			s.t = v.(transformer)
			chain.steps = append(chain.steps, s)
		}
	}
	for key := range keys { // keys of aliases that are not listed
		for _, kind := range []string{"transforms", "predicates"} {
			if alias, ok := aliasOf(key, kind); ok && !p.used[key] && !slices.Contains(p.list(kind), alias) {
				p.fail(key, "%s has no alias %q", kind, alias)
			}
		}
	}
	used := slices.Sorted(maps.Keys(p.used))
	if len(p.errs) > 0 || len(chain.steps) == 0 {
		return nil, used, p.errs
	}
	return chain, used, nil
}

// aliasOf returns the alias of a key kind.<alias>.<key>.
func aliasOf(key, kind string) (string, bool) {
	rest, ok := strings.CutPrefix(key, kind+".")
	if !ok {
		return "", false
	}
	alias, _, ok := strings.Cut(rest, ".")
	return alias, ok
}

// parser reads the keys and collects errors.
type parser struct {
	keys map[string]string
	used map[string]bool
	errs []error
}

func (p *parser) get(key string) (string, bool) {
	p.used[key] = true
	v, ok := p.keys[key]
	return strings.TrimSpace(v), ok
}

func (p *parser) list(key string) []string {
	v, _ := p.get(key)
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// build makes the transform or predicate kind.<alias> from its type and keys; nil when it has
// errors, which are recorded.
func (p *parser) build(kind, alias string, classes []class, pkg string, extra ...string) any {
	prefix := kind + "." + alias + "."
	name, ok := p.get(prefix + "type")
	if !ok || name == "" {
		p.fail(prefix+"type", "missing: the class of %s %q", strings.TrimSuffix(kind, "s"), alias)
		return nil
	}
	c, ok := lookupClass(classes, pkg, name)
	if !ok {
		transforms, predicates := Classes()
		names := map[bool][]string{true: transforms, false: predicates}[kind == "transforms"]
		p.fail(prefix+"type", "unknown class %s; kbridge runs %s", name, strings.Join(names, ", "))
		return nil
	}
	known := append(append([]string{"type"}, extra...), c.keys...)
	for _, key := range slices.Sorted(maps.Keys(p.keys)) {
		own, ok := strings.CutPrefix(key, prefix)
		if ok && !slices.Contains(known, own) {
			p.used[key] = true
			p.errs = append(p.errs, strict.Unknown(key, own, known))
		}
	}
	before := len(p.errs)
	cf := &conf{p: p, prefix: prefix}
	v := c.build(cf)
	if len(p.errs) > before {
		return nil
	}
	return v
}

// conf reads the keys of one transform or predicate; errors name the full key.
type conf struct {
	p      *parser
	prefix string
	key    bool // the $Key variant of a class that has $Key and $Value
}

func (c *conf) str(key, def string) string {
	if v, ok := c.p.get(c.prefix + key); ok {
		return v
	}
	return def
}

// required reads a key that must be given and not empty.
func (c *conf) required(key string) string {
	v := c.str(key, "")
	if v == "" {
		c.fail(key, "missing")
	}
	return v
}

func (c *conf) list(key string) []string {
	v := c.str(key, "")
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (c *conf) requiredList(key string) []string {
	out := c.list(key)
	if len(out) == 0 {
		c.fail(key, "missing: a non-empty list")
	}
	return out
}

// replaceNullWithDefault checks replace.null.with.default, which has no effect on schemaless
// data: it has no defaults.
func (c *conf) replaceNullWithDefault() {
	c.oneOf("replace.null.with.default", "true", "true", "false")
}

func (c *conf) oneOf(key, def string, allowed ...string) string {
	v := c.str(key, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	c.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

func (c *conf) fail(key, format string, args ...any) {
	c.p.fail(c.prefix+key, format, args...)
}
