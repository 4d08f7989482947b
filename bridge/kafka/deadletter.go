package kafka

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/transform"
	"github.com/kbridge/kbridge/mapping"
)

// Stages name where a record failed, in the values Kafka Connect uses for
// __connect.errors.stage.
const (
	StageTransformation = "TRANSFORMATION" // the mapping rejected the record
	StageTaskPut        = "TASK_PUT"       // the sinks refused the record
)

// deadLetter builds the dead-letter record for rec, which failed with err at stage: the
// original key, value and headers, and with context headers the failure in Kafka Connect's
// __connect.errors.* headers. task is the consumer's task number.
func deadLetter(p *Pipeline, rec *kgo.Record, task int, stage string, err error) *kgo.Record {
	out := &kgo.Record{Topic: p.DeadLetterTopic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp,
		Headers: append([]kgo.RecordHeader(nil), rec.Headers...)}
	if !p.DeadLetterHeaders {
		return out
	}
	header := func(key, value string) {
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: "__connect.errors." + key, Value: []byte(value)})
	}
	header("topic", rec.Topic)
	header("partition", strconv.Itoa(int(rec.Partition)))
	header("offset", strconv.FormatInt(rec.Offset, 10))
	header("connector.name", p.Name)
	header("task.id", strconv.Itoa(task))
	header("stage", stage)
	switch stage {
	case StageKeyConverter:
		header("class.name", p.KeyConverterClass)
	case StageValueConverter:
		header("class.name", p.ValueConverterClass)
	default:
		header("class.name", "kbridge/mapping")
	}
	header("exception.class.name", errorClass(err))
	header("exception.message", err.Error())
	header("exception.stacktrace", fmt.Sprintf("%s: %v", errorClass(err), err))
	return out
}

// errorClass names the kind of failure, as Connect names the exception class.
func errorClass(err error) string {
	for _, c := range []struct {
		target error
		name   string
	}{
		{mapping.ErrNotFound, "kbridge.mapping.NotFound"},
		{mapping.ErrInvalidBody, "kbridge.mapping.InvalidBody"},
		{mapping.ErrUnsupportedContentType, "kbridge.mapping.UnsupportedContentType"},
		{mapping.ErrTemplate, "kbridge.mapping.TemplateFailed"},
		{errNullValue, "kbridge.NullValue"},
		{transform.ErrFailed, "kbridge.transform.Failed"},
	} {
		if errors.Is(err, c.target) {
			return c.name
		}
	}
	return "kbridge.Error"
}

// errNullValue is a tombstone under behavior.on.null.values=fail.
var errNullValue = errors.New("the record value is null (behavior.on.null.values=fail)")
