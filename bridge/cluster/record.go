package cluster

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers. The record key is the definition's key and the value its bytes, null for a
// delete (a tombstone), so any Kafka client reads the topic as a plain compacted topic.
const (
	headerExpected = "kbridge.expected.version" // decimal version the writer expected
	headerWriter   = "kbridge.writer"           // member that wrote the record
)

// write is one proposed change, before it is a record.
type write struct {
	key      string
	expected int64
	value    []byte // nil: delete
	writer   string
}

func (w write) record(topic string) *kgo.Record {
	return &kgo.Record{
		Topic: topic,
		Key:   []byte(w.key),
		Value: w.value,
		Headers: []kgo.RecordHeader{
			{Key: headerExpected, Value: strconv.AppendInt(nil, w.expected, 10)},
			{Key: headerWriter, Value: []byte(w.writer)},
		},
	}
}

var errNoKey = errors.New("record has no key")

// decode reads a record of the topic back into a write. A record without a key or with a bad
// expected version is refused by every member alike.
func decode(r *kgo.Record) (write, error) {
	if len(r.Key) == 0 {
		return write{}, errNoKey
	}
	w := write{key: string(r.Key), value: r.Value, expected: -1}
	for _, h := range r.Headers {
		switch h.Key {
		case headerExpected:
			v, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil || v < 0 {
				return write{}, fmt.Errorf("header %s: bad version %q", headerExpected, h.Value)
			}
			w.expected = v
		case headerWriter:
			w.writer = string(h.Value)
		}
	}
	if w.expected < 0 {
		return write{}, fmt.Errorf("header %s is missing", headerExpected)
	}
	if w.value == nil {
		return w, nil
	}
	w.value = append([]byte{}, w.value...) // the state keeps it; not the fetch buffer
	return w, nil
}
