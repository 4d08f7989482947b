package kafka

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Between the lag reporter's measurements (every Deps.LagInterval), a task keeps the lag of
// the partitions it owns current: from each fetch's high watermark, and at each commit. The
// lag is the high watermark minus the group's committed offset as the client knows it (from
// joining the group and from its commits), the definition the reporter uses. A partition
// nothing was committed for is left to the reporter.

// observeFetches records the high watermark of every fetched partition and sets its lag.
// It is called by the poll loop once per poll, not per record.
func (t *task) observeFetches(fs kgo.Fetches) {
	var committed map[string]map[int32]kgo.EpochOffset
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil || p.HighWatermark < 0 {
			return
		}
		if committed == nil {
			if committed = t.cl.CommittedOffsets(); committed == nil {
				committed = map[string]map[int32]kgo.EpochOffset{}
			}
		}
		t.lagMu.Lock()
		t.hwm[partition{p.Topic, p.Partition}] = p.HighWatermark
		t.lagMu.Unlock()
		if c, ok := committed[p.Topic][p.Partition]; ok && c.Offset >= 0 {
			t.setLag(p.Topic, p.Partition, p.HighWatermark-c.Offset)
		}
	})
}

// committed is the client's autocommit callback: it sets the lag of each partition committed
// from its last known high watermark, and logs a failed commit as franz-go's default does.
func (t *task) committed(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	if err != nil {
		t.c.log.Warn("committing offsets", "task", t.id, "error", err)
		return
	}
	failed := map[partition]bool{}
	if resp != nil {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					failed[partition{rt.Topic, rp.Partition}] = true
					t.c.log.Warn("committing offsets", "task", t.id, "topic", rt.Topic, "partition", rp.Partition, "error", err)
				}
			}
		}
	}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			part := partition{rt.Topic, rp.Partition}
			t.lagMu.Lock()
			hwm, ok := t.hwm[part]
			t.lagMu.Unlock()
			if ok && !failed[part] {
				t.setLag(rt.Topic, rp.Partition, hwm-rp.Offset)
			}
		}
	}
}

func (t *task) setLag(topic string, p int32, lag int64) {
	t.c.deps.Metrics.Lag.WithLabelValues(t.c.p.Name, topic, strconv.Itoa(int(p))).Set(float64(max(lag, 0)))
}
