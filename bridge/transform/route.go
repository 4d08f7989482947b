package transform

import (
	"regexp"
	"strings"
)

// regexRouter is RegexRouter: a topic the regular expression matches as a whole is replaced
// by the replacement, in which $1 names a group as in Java.
type regexRouter struct {
	re          *regexp.Regexp
	replacement string // in Go's template form
}

func newRegexRouter(c *conf) any {
	t := &regexRouter{re: c.pattern("regex")}
	if _, ok := c.p.get(c.prefix + "replacement"); !ok {
		c.fail("replacement", "missing")
	}
	t.replacement = goTemplate(c.str("replacement", ""))
	return t
}

// pattern reads a required regular expression that has to match a whole string, as Java's
// Matcher.matches.
func (c *conf) pattern(key string) *regexp.Regexp {
	expr := c.required(key)
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		c.fail(key, "invalid regex: %v", err)
	}
	return re
}

// goTemplate turns a Java replacement ($1, ${name}, \$ for a dollar) into regexp.Expand's
// form (${1}, ${name}, $$).
func goTemplate(java string) string {
	var b strings.Builder
	for i := 0; i < len(java); i++ {
		switch c := java[i]; {
		case c == '\\' && i+1 < len(java):
			i++
			if java[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(java[i])
			}
		case c == '$' && i+1 < len(java) && java[i+1] >= '0' && java[i+1] <= '9':
			j := i + 1
			for j < len(java) && java[j] >= '0' && java[j] <= '9' {
				j++
			}
			b.WriteString("${" + java[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (t *regexRouter) apply(r *Record) (bool, error) {
	if m := t.re.FindStringSubmatchIndex(r.Topic); m != nil {
		r.Topic = string(t.re.ExpandString(nil, t.replacement, r.Topic, m))
	}
	return true, nil
}

// filter is Filter: every record it applies to (by its predicate) is dropped.
type filter struct{}

func (filter) apply(*Record) (bool, error) { return false, nil }

// topicNameMatches is TopicNameMatches: the topic matches the pattern as a whole.
type topicNameMatches struct{ re *regexp.Regexp }

func newTopicNameMatches(c *conf) any {
	return &topicNameMatches{re: c.pattern("pattern")}
}

func (t *topicNameMatches) test(r *Record) bool { return t.re.MatchString(r.Topic) }

// hasHeaderKey is HasHeaderKey: the record has at least one header with the name.
type hasHeaderKey struct{ name string }

func newHasHeaderKey(c *conf) any { return &hasHeaderKey{name: c.required("name")} }

func (t *hasHeaderKey) test(r *Record) bool {
	for _, h := range r.Headers {
		if h.Key == t.name {
			return true
		}
	}
	return false
}

// isTombstone is RecordIsTombstone: the value is null.
type isTombstone struct{}

func (isTombstone) test(r *Record) bool {
	if r.valueParsed {
		return r.value == nil
	}
	return r.Value == nil
}
