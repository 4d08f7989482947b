package transform

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timestampConverter is TimestampConverter: a timestamp field (or the whole key or value), as
// a string in a SimpleDateFormat pattern or as a Unix time, converted to string, unix, Date,
// Time or Timestamp, in UTC. Date, Time and Timestamp are written as JsonConverter writes those
// logical types: days since the epoch, milliseconds since midnight, milliseconds since the epoch.
type timestampConverter struct {
	key       bool
	field     string
	target    string
	format    dateFormat // nil when no format is given
	precision time.Duration
}

func newTimestampConverter(c *conf) any {
	t := &timestampConverter{key: c.key, field: c.str("field", "")}
	if c.str("target.type", "") == "" {
		c.fail("target.type", "missing: string, unix, Date, Time or Timestamp")
	} else {
		t.target = c.oneOf("target.type", "", "string", "unix", "Date", "Time", "Timestamp")
	}
	if format := c.str("format", ""); format != "" {
		df, err := parseDateFormat(format)
		if err != nil {
			c.fail("format", "%v", err)
		}
		t.format = df
	} else if t.target == "string" {
		c.fail("format", "missing: target.type=string needs a SimpleDateFormat pattern")
	}
	precisions := map[string]time.Duration{"seconds": time.Second, "milliseconds": time.Millisecond,
		"microseconds": time.Microsecond, "nanoseconds": time.Nanosecond}
	t.precision = precisions[c.oneOf("unix.precision", "milliseconds", "seconds", "milliseconds", "microseconds", "nanoseconds")]
	c.replaceNullWithDefault()
	return t
}

func (t *timestampConverter) apply(r *Record) (bool, error) {
	if t.field == "" {
		return r.convertWhole(t.key, t.convert)
	}
	o, err := r.objectData(t.key, "converting timestamp formats")
	if o == nil {
		return err == nil, err // a null key or value stays as it is
	}
	fv, _ := o.Get(t.field)
	out, err := t.convert(fv)
	if err != nil {
		return false, err
	}
	o.Put(t.field, out)
	r.set(t.key, o)
	return true, nil
}

func (t *timestampConverter) convert(v any) (any, error) {
	var ts time.Time
	switch n := v.(type) {
	case nil:
		return nil, nil
	case string:
		if t.format == nil {
			return nil, &dataError{"TimestampConverter requires format option to be specified when using string timestamps"}
		}
		parsed, err := t.format.parse(n)
		if err != nil {
			return nil, &dataError{fmt.Sprintf("Could not parse timestamp: value (%s) does not match pattern: %v", n, err)}
		}
		ts = parsed
	case json.Number:
		u, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return nil, &dataError{fmt.Sprintf("TimestampConverter cannot read %s as a Unix time", n)}
		}
		ts = time.Unix(0, 0).Add(time.Duration(u) * t.precision).UTC()
	default:
		return nil, &dataError{"TimestampConverter does not support " + typeName(v) + " objects as timestamps"}
	}
	const day = 24 * time.Hour
	switch t.target {
	case "string":
		return t.format.format(ts), nil
	case "unix":
		return json.Number(strconv.FormatInt(ts.UnixNano()/int64(t.precision), 10)), nil
	case "Date":
		return json.Number(strconv.FormatInt(ts.Truncate(day).UnixMilli()/day.Milliseconds(), 10)), nil
	case "Time":
		return json.Number(strconv.FormatInt(ts.Sub(ts.Truncate(day)).Milliseconds(), 10)), nil
	}
	return json.Number(strconv.FormatInt(ts.UnixMilli(), 10)), nil
}

// timestampRouter is TimestampRouter: the topic becomes topic.format with ${topic} and
// ${timestamp}, the record's timestamp in timestamp.format, in UTC.
type timestampRouter struct {
	topic  string
	format dateFormat
}

func newTimestampRouter(c *conf) any {
	t := &timestampRouter{topic: c.str("topic.format", "${topic}-${timestamp}")}
	df, err := parseDateFormat(c.str("timestamp.format", "yyyyMMdd"))
	if err != nil {
		c.fail("timestamp.format", "%v", err)
	}
	t.format = df
	return t
}

func (t *timestampRouter) apply(r *Record) (bool, error) {
	if r.Timestamp.IsZero() {
		return false, &dataError{"Timestamp missing on record: " + r.Topic}
	}
	ts := t.format.format(r.Timestamp)
	r.Topic = strings.ReplaceAll(strings.ReplaceAll(t.topic, "${topic}", r.Topic), "${timestamp}", ts)
	return true, nil
}
