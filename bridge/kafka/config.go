package kafka

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbridge/kbridge/bridge/convert"
	"github.com/kbridge/kbridge/bridge/transform"
	"github.com/kbridge/kbridge/sink"
)

// Pipeline binds Kafka topics to a kbridge source. It is read from Kafka Connect keys, so a
// connector config and a pipeline in kbridge's config file say the same things the same way.
type Pipeline struct {
	Name        string         // name
	Source      string         // kbridge.source: the source whose sinks receive the records
	Topics      []string       // topics
	TopicsRegex *regexp.Regexp // topics.regex
	GroupID     string         // consumer group: connect-<name> unless group.id is overridden

	BatchMaxSize  int        // batch.max.size: records per batch
	BatchMaxBytes int        // kbridge.batch.max.bytes: record bytes per batch
	CommitLevel   sink.Level // kbridge.commit.level: how far records get before their offsets are committed
	MaxInFlight   int        // kbridge.partition.max.inflight: records per partition before it is paused

	ErrorsTolerance   string // errors.tolerance: none or all
	DeadLetterTopic   string // errors.deadletterqueue.topic.name
	DeadLetterHeaders bool   // errors.deadletterqueue.context.headers.enable
	NullValues        string // behavior.on.null.values: ignore or fail
	TasksMax          int    // tasks.max: concurrent consumers in the group

	// When the sinks refuse a batch (back pressure: a full disk, a sink not ready), the task
	// pauses its partitions and retries, as an HTTP sink retries a failed request.
	MaxRetries   int           // max.retries: retries before the task fails; -1 retries until the sinks take it
	RetryBackoff time.Duration // retry.backoff.ms: the first wait, doubled at each retry up to 30 s

	StartAtEnd bool // consumer auto.offset.reset=latest (earliest by default, as Connect sinks)

	// Group membership, from consumer.override.* (or consumer.*) keys; zero means franz-go's
	// defaults (45 s session, 3 s heartbeat, 60 s rebalance).
	InstanceID        string        // group.instance.id: static membership, e.g. the pod name
	SessionTimeout    time.Duration // session.timeout.ms
	HeartbeatInterval time.Duration // heartbeat.interval.ms
	RebalanceTimeout  time.Duration // max.poll.interval.ms

	// Tables routes each topic into a table of its own (topic2table.map); nil: every record
	// goes to the source's sinks.
	Tables *Tables

	// Transforms are the single message transforms (transforms.*, predicates.*); nil for none.
	Transforms *transform.Chain

	// KeyConverter and ValueConverter turn a record's key and value into what transforms and
	// the mapping read (key.converter, value.converter and their keys); nil reads the bytes as
	// they are: keys as text, values as JSON.
	KeyConverter, ValueConverter           convert.Converter
	KeyConverterClass, ValueConverterClass string

	// Unknown lists the keys given that kbridge neither reads nor knows to ignore, sorted: a
	// warning over the Connect REST API (Connect passes such keys to its plugins), an error in
	// a config file (see KnownKeys).
	Unknown []string
}

// Defaults for the keys a pipeline may leave out.
const (
	DefaultBatchMaxSize  = 500
	DefaultBatchMaxBytes = 16 << 20
	DefaultMaxInFlight   = 100_000
	DefaultRetryBackoff  = 100 * time.Millisecond
)

// ParsePipeline reads a pipeline from Kafka Connect style keys. Values are strings, as Connect
// configs are. It returns warnings for keys that kbridge accepts but does not use, and an error
// that joins one error per bad key, each starting with the key.
func ParsePipeline(keys map[string]string) (Pipeline, []string, error) {
	p, r := parse(keys)
	warnings := r.warnings()
	p.Unknown = r.unknown()
	return p, warnings, errors.Join(append(r.errs, p.check(r.failed)...)...)
}

// KnownKeys lists every key a pipeline may have, for suggesting the key a misspelled one means.
func KnownKeys() []string {
	_, r := parse(map[string]string{})
	for _, prefix := range []string{"key.converter", "value.converter"} {
		for _, key := range convert.Keys(prefix) {
			r.used[key] = true
		}
	}
	return append(slices.Sorted(maps.Keys(r.used)), slices.Sorted(maps.Keys(ignoredKeys))...)
}

// parse reads the pipeline's keys; the reader tells which keys were read and which failed.
func parse(keys map[string]string) (Pipeline, *keyReader) {
	p := Pipeline{CommitLevel: sink.LevelTarget, ErrorsTolerance: "none", NullValues: "ignore"}
	r := &keyReader{keys: keys, used: map[string]bool{}, failed: map[string]bool{}}
	p.Name = r.str("name", "")
	p.Source = r.str("kbridge.source", "")
	p.Topics = splitList(r.str("topics", ""))
	regex := r.str("topics.regex", "")
	p.BatchMaxSize = r.integer("batch.max.size", DefaultBatchMaxSize, 1, 1_000_000)
	p.BatchMaxBytes = r.integer("kbridge.batch.max.bytes", DefaultBatchMaxBytes, 1024, 1<<30)
	p.MaxInFlight = r.integer("kbridge.partition.max.inflight", DefaultMaxInFlight, 1, 10_000_000)
	p.CommitLevel = sink.Level(r.oneOf("kbridge.commit.level", string(sink.LevelTarget), "local", "staging", "target"))
	p.ErrorsTolerance = r.oneOf("errors.tolerance", "none", "none", "all")
	p.DeadLetterTopic = r.str("errors.deadletterqueue.topic.name", "")
	p.DeadLetterHeaders = r.boolean("errors.deadletterqueue.context.headers.enable", false)
	p.NullValues = r.oneOf("behavior.on.null.values", "ignore", "ignore", "fail")
	p.TasksMax = r.integer("tasks.max", 1, 1, 64)
	p.MaxRetries = r.integer("max.retries", -1, -1, 1<<31-1)
	p.RetryBackoff = time.Duration(r.integer("retry.backoff.ms", int(DefaultRetryBackoff/time.Millisecond), 1, 3_600_000)) * time.Millisecond
	p.GroupID = r.consumer("group.id", "connect-"+p.Name)
	p.StartAtEnd = r.consumerOneOf("auto.offset.reset", "earliest", "earliest", "latest") == "latest"
	p.InstanceID = r.consumer("group.instance.id", "")
	p.SessionTimeout = r.consumerMillis("session.timeout.ms", time.Second, time.Hour)
	p.HeartbeatInterval = r.consumerMillis("heartbeat.interval.ms", 100*time.Millisecond, time.Hour)
	p.RebalanceTimeout = r.consumerMillis("max.poll.interval.ms", time.Second, 24*time.Hour)
	p.KeyConverter, p.KeyConverterClass = r.converter("key.converter")
	p.ValueConverter, p.ValueConverterClass = r.converter("value.converter")
	r.used["header.converter"] = true
	for _, e := range convert.CheckHeaderConverter(r.keys) {
		r.fail("header.converter", "%s", strings.TrimPrefix(e.Error(), "header.converter: "))
	}
	p.Transforms = r.transforms()
	r.used["topic2table.map"] = true
	if v, ok := r.keys["topic2table.map"]; ok {
		tables, err := parseTables(v)
		if err != nil {
			r.fail("topic2table.map", "%v", err)
		}
		p.Tables = tables
	}
	if regex != "" {
		if re, err := regexp.Compile(regex); err != nil {
			r.fail("topics.regex", "%v", err)
		} else {
			p.TopicsRegex = re
		}
	}
	return p, r
}

// Validate checks the keys against each other; the error joins one error per bad key.
func (p Pipeline) Validate() error { return errors.Join(p.check(nil)...) }

// check returns the errors of the checks across keys, skipping those that involve a key in
// failed: a key that could not be read is reported once, as unreadable.
func (p Pipeline) check(failed map[string]bool) []error {
	dlqConsumed := p.DeadLetterTopic != "" && (slices.Contains(p.Topics, p.DeadLetterTopic) ||
		p.TopicsRegex != nil && p.TopicsRegex.MatchString(p.DeadLetterTopic))
	checks := []struct {
		bad  bool
		keys []string // the first is the key the error names
		msg  string
	}{
		{p.Name == "", []string{"name"}, "missing"},
		{p.Source == "", []string{"kbridge.source"}, "missing: name the source whose sinks receive the records"},
		{len(p.Topics) == 0 && p.TopicsRegex == nil, []string{"topics", "topics.regex"}, "set topics or topics.regex"},
		{len(p.Topics) > 0 && p.TopicsRegex != nil, []string{"topics.regex", "topics"}, "set topics or topics.regex, not both"},
		{p.DeadLetterTopic != "" && p.ErrorsTolerance != "all", []string{"errors.deadletterqueue.topic.name", "errors.tolerance"},
			"needs errors.tolerance=all"},
		{dlqConsumed, []string{"errors.deadletterqueue.topic.name", "topics", "topics.regex"},
			fmt.Sprintf("%q is also consumed by this pipeline", p.DeadLetterTopic)},
	}
	var errs []error
	for _, c := range checks {
		if c.bad && !slices.ContainsFunc(c.keys, func(k string) bool { return failed[k] }) {
			errs = append(errs, fmt.Errorf("%s: %s", c.keys[0], c.msg))
		}
	}
	return errs
}

// keyReader reads typed values and remembers which keys were used and which could not be read.
type keyReader struct {
	keys   map[string]string
	used   map[string]bool
	failed map[string]bool
	errs   []error
}

func (r *keyReader) str(key, def string) string {
	r.used[key] = true
	if v, ok := r.keys[key]; ok {
		return strings.TrimSpace(v)
	}
	return def
}

// transforms reads the transforms and predicates; their errors each name their key.
func (r *keyReader) transforms() *transform.Chain {
	chain, used, errs := transform.Parse(r.keys)
	for _, key := range used {
		r.used[key] = true
	}
	for _, e := range errs {
		key, _, _ := strings.Cut(e.Error(), ": ")
		r.failed[key] = true
		r.errs = append(r.errs, e)
	}
	return chain
}

// converter reads a converter and its keys (prefix, prefix.*); its errors each name their key.
func (r *keyReader) converter(prefix string) (convert.Converter, string) {
	c, used, errs := convert.Parse(r.keys, prefix)
	for _, key := range used {
		r.used[key] = true
	}
	for _, e := range errs {
		key, _, _ := strings.Cut(e.Error(), ": ")
		r.failed[key] = true
		r.errs = append(r.errs, e)
	}
	return c, strings.TrimSpace(r.keys[prefix])
}

func (r *keyReader) fail(key, format string, args ...any) {
	if !r.failed[key] {
		r.failed[key] = true
		r.errs = append(r.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
}

func (r *keyReader) integer(key string, def, lo, hi int) int {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(key, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (r *keyReader) boolean(key string, def bool) bool {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, "must be true or false, got %q", v)
	}
	return b
}

func (r *keyReader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(r.str(key, def))
	if !slices.Contains(allowed, v) {
		r.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		return def
	}
	return v
}

// consumer reads a consumer setting given as consumer.override.<key> (Connect's form) or
// consumer.<key>; the override wins.
func (r *keyReader) consumer(key, def string) string {
	if v := r.str("consumer."+key, ""); v != "" {
		def = v
	}
	return r.str("consumer.override."+key, def)
}

// consumerMillis reads a duration in milliseconds from a consumer setting; 0 when not given.
func (r *keyReader) consumerMillis(key string, lo, hi time.Duration) time.Duration {
	v := r.consumer(key, "")
	if v == "" {
		return 0
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if d := time.Duration(ms) * time.Millisecond; err != nil || d < lo || d > hi {
		r.fail("consumer.override."+key, "must be milliseconds from %d to %d, got %q", lo.Milliseconds(), hi.Milliseconds(), v)
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func (r *keyReader) consumerOneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(r.consumer(key, def))
	if !slices.Contains(allowed, v) {
		r.fail("consumer.override."+key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
		return def
	}
	return v
}

// ignoredKeys lose their meaning in kbridge: rows go to Storage imports, not HTTP requests.
var ignoredKeys = map[string]string{
	"connector.class":      "",
	"batch.prefix":         "rows are written as CSV, not joined into a request body",
	"batch.suffix":         "rows are written as CSV, not joined into a request body",
	"batch.separator":      "rows are written as CSV, not joined into a request body",
	"batch.json.as.array":  "rows are written as CSV, not joined into a request body",
	"request.body.format":  "rows are written as CSV, not joined into a request body",
	"batching.enabled":     "kbridge always batches",
	"errors.log.enable":    "errors are always logged",
	"errors.retry.timeout": "Storage failures are retried with backoff until they succeed",
}

// unknown lists the keys given that are neither used nor known to be ignored.
func (r *keyReader) unknown() []string {
	var out []string
	for key := range r.keys {
		if _, ignored := ignoredKeys[key]; !r.used[key] && !ignored {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// warnings lists keys that were given but are not used.
func (r *keyReader) warnings() []string {
	var out []string
	for key := range r.keys {
		if r.used[key] {
			continue
		}
		if why, ok := ignoredKeys[key]; ok {
			if why != "" {
				out = append(out, fmt.Sprintf("%s: ignored: %s", key, why))
			}
			continue
		}
		out = append(out, fmt.Sprintf("%s: unknown key, ignored", key))
	}
	slices.Sort(out)
	return out
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
