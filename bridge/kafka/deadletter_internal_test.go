package kafka

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
)

func TestDeadLetterHeaders(t *testing.T) {
	t.Parallel()
	rec := &kgo.Record{Topic: "orders", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte(`{"bad":`),
		Timestamp: time.Unix(1700000000, 0), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}}
	err := &mapping.ColumnError{Column: "user", Err: fmt.Errorf("wrapped: %w", mapping.ErrInvalidBody)}
	p := &Pipeline{Name: "orders-sink", DeadLetterTopic: "orders-dlq", DeadLetterHeaders: true}

	dl := deadLetter(p, rec, 1, StageTransformation, err)
	if dl.Topic != "orders-dlq" || string(dl.Key) != "k" || string(dl.Value) != `{"bad":` || !dl.Timestamp.Equal(rec.Timestamp) {
		t.Fatalf("record %+v", dl)
	}
	var got []string
	for _, h := range dl.Headers {
		got = append(got, h.Key+"="+string(h.Value))
	}
	want := []string{"trace=t1", "__connect.errors.topic=orders", "__connect.errors.partition=3", "__connect.errors.offset=42",
		"__connect.errors.connector.name=orders-sink", "__connect.errors.task.id=1", "__connect.errors.stage=TRANSFORMATION",
		"__connect.errors.class.name=kbridge/mapping", "__connect.errors.exception.class.name=kbridge.mapping.InvalidBody",
		`__connect.errors.exception.message=invalid value for column "user": wrapped: invalid body`,
		`__connect.errors.exception.stacktrace=kbridge.mapping.InvalidBody: invalid value for column "user": wrapped: invalid body`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("headers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	p.DeadLetterHeaders = false
	if dl := deadLetter(p, rec, 1, StageTransformation, errNullValue); len(dl.Headers) != 1 {
		t.Fatalf("without context headers: %v", dl.Headers)
	}
	if c := errorClass(errNullValue); c != "kbridge.NullValue" {
		t.Fatalf("errorClass(null) = %s", c)
	}
}
