package kafka

import (
	"maps"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// activeTopics is the set of topics a consumer has taken records from: what Kafka Connect
// calls a sink connector's active topics. Every task's poll loop adds to it; readers and
// resets may come at any time.
type activeTopics struct {
	mu    sync.RWMutex
	set   map[string]struct{}
	onNew func(topic string)
}

// saw adds the topics of recs. Records come in runs of one topic, so the set is looked up once
// per run; a known topic costs a read lock and no allocation.
func (a *activeTopics) saw(recs []*kgo.Record) {
	last := ""
	for _, r := range recs {
		if r.Topic == last {
			continue
		}
		last = r.Topic
		a.mu.RLock()
		_, known := a.set[r.Topic]
		a.mu.RUnlock()
		if !known {
			a.add(r.Topic)
		}
	}
}

// add adds topic and, when it is new, calls onNew outside the lock.
func (a *activeTopics) add(topic string) {
	a.mu.Lock()
	_, known := a.set[topic]
	if !known {
		if a.set == nil {
			a.set = map[string]struct{}{}
		}
		a.set[topic] = struct{}{}
	}
	onNew := a.onNew
	a.mu.Unlock()
	if !known && onNew != nil {
		onNew(topic)
	}
}

// ActiveTopics returns, sorted, the topics the consumer has taken records from since it was
// built or since the last ResetActiveTopics.
func (c *Consumer) ActiveTopics() []string {
	c.topics.mu.RLock()
	defer c.topics.mu.RUnlock()
	return slices.Sorted(maps.Keys(c.topics.set))
}

// ResetActiveTopics empties the active topics; the next record of a topic makes it active again.
func (c *Consumer) ResetActiveTopics() {
	c.topics.mu.Lock()
	defer c.topics.mu.Unlock()
	clear(c.topics.set)
}

// OnActiveTopic sets fn, called with each topic as it becomes active: at its first record since
// the consumer was built or since the last ResetActiveTopics. fn runs on the polling goroutine
// of the task that took the record, possibly concurrently with itself, and delays that task's
// polling while it runs. Set it before Run.
func (c *Consumer) OnActiveTopic(fn func(topic string)) {
	c.topics.mu.Lock()
	defer c.topics.mu.Unlock()
	c.topics.onNew = fn
}
