package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultLagInterval is how often a running pipeline measures its consumer lag.
const DefaultLagInterval = 10 * time.Second

// lagReporter measures a pipeline's consumer lag: per partition of its topics, the records
// between the group's committed offset and the partition's end. Every member of the group
// reports every partition (not only the ones it owns), so a dashboard takes the max per
// partition across replicas. It has its own client, outside the group, and runs in one
// goroutine owned by Consumer.Run.
type lagReporter struct {
	p     Pipeline
	adm   *kadm.Client
	gauge *prometheus.GaugeVec
	log   *slog.Logger
	seen  map[partition]bool // series set by the last measurement
}

func newLagReporter(c *Consumer) (*lagReporter, error) {
	adm, err := newAdmin(c.deps.Client)
	if err != nil {
		return nil, err
	}
	return &lagReporter{p: c.p, adm: adm, gauge: c.deps.Metrics.Lag, log: c.log, seen: map[partition]bool{}}, nil
}

// run measures at once and then every interval until ctx ends; it then removes the
// pipeline's series (a stopped pipeline reports no lag) and closes its client.
func (l *lagReporter) run(ctx context.Context, every time.Duration) {
	defer l.adm.Close()
	defer l.gauge.DeletePartialMatch(prometheus.Labels{"pipeline": l.p.Name})
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		mctx, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		err := l.measure(mctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			l.log.Warn("consumer lag not measured", "error", err)
		case err == nil && failing:
			l.log.Info("consumer lag measured again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// measure sets the lag of every partition of the pipeline's topics and removes the series of
// partitions that are gone. A partition without a committed offset lags by what a new member
// would read: from the log start (auto.offset.reset=earliest), or nothing (latest).
func (l *lagReporter) measure(ctx context.Context) error {
	topics, err := l.topics(ctx)
	if err != nil || len(topics) == 0 {
		return err
	}
	ends, err := l.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	committed, err := l.adm.FetchOffsets(ctx, l.p.GroupID)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("fetch committed offsets of group %s: %w", l.p.GroupID, err)
	}
	var starts kadm.ListedOffsets // fetched once, when a partition has no commit
	current := make(map[partition]bool, len(l.seen))
	var firstErr error
	ends.Each(func(end kadm.ListedOffset) {
		if end.Partition < 0 { // a topic that does not exist (yet)
			return
		}
		if end.Err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("end offset of %s/%d: %w", end.Topic, end.Partition, end.Err))
			return
		}
		from := int64(-1)
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok && c.Err == nil && c.At >= 0 {
			from = c.At
		} else if l.p.StartAtEnd {
			from = end.Offset
		} else {
			if starts == nil {
				if starts, err = l.adm.ListStartOffsets(ctx, topics...); err != nil {
					starts = kadm.ListedOffsets{}
					firstErr = cmp.Or(firstErr, fmt.Errorf("list start offsets: %w", err))
				}
			}
			s, ok := starts.Lookup(end.Topic, end.Partition)
			if !ok || s.Err != nil {
				return
			}
			from = s.Offset
		}
		part := partition{end.Topic, end.Partition}
		current[part] = true
		l.gauge.WithLabelValues(l.p.Name, end.Topic, strconv.Itoa(int(end.Partition))).Set(float64(max(end.Offset-from, 0)))
	})
	for part := range l.seen {
		if !current[part] {
			l.gauge.DeleteLabelValues(l.p.Name, part.topic, strconv.Itoa(int(part.id)))
		}
	}
	l.seen = current
	return firstErr
}

// topics returns the pipeline's topics: the listed ones, or those that match topics.regex.
func (l *lagReporter) topics(ctx context.Context) ([]string, error) {
	if l.p.TopicsRegex == nil {
		return l.p.Topics, nil
	}
	details, err := l.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var out []string
	for _, name := range details.Names() {
		if l.p.TopicsRegex.MatchString(name) && name != l.p.DeadLetterTopic {
			out = append(out, name)
		}
	}
	return out, nil
}
