package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/transform"
)

// transformed runs the pipeline's transforms (transforms.* keys) on r. It returns r itself
// when the pipeline has none; otherwise a new record, r staying as polled for the dead-letter
// topic; nil when a transform (Filter) dropped the record, whose offset then completes with
// its batch as any other's.
func (t *task) transformed(r *kgo.Record) (*kgo.Record, error) {
	chain := t.c.p.Transforms
	if chain == nil {
		return r, nil
	}
	tr := transform.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		tr.Headers = make([]transform.Header, len(r.Headers))
		for i, h := range r.Headers {
			tr.Headers[i] = transform.Header{Key: h.Key, Value: h.Value}
		}
	}
	keep, err := chain.Apply(&tr)
	if err != nil || !keep {
		return nil, err
	}
	out := *r
	out.Topic, out.Key, out.Value, out.Headers = tr.Topic, tr.Key, tr.Value, nil
	for _, h := range tr.Headers {
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return &out, nil
}
