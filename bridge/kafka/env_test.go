package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/sinktest"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

var source = sink.SourceKey{ProjectID: 1, BranchID: 1, SourceID: "events"}

// env is a kfake cluster, a Storage API emulator and a sink manager writing into it.
type env struct {
	t          testing.TB
	cluster    *kfake.Cluster
	storage    *emulatortest.Server
	storageURL string
	manager    *sink.Manager
}

func newEnv(t testing.TB, topics map[string]int32, columns []mapping.Column) *env {
	return newEnvWith(t, topics, columns, sink.Patch{"storage.level.local.encoding.sync.intervalTrigger": "10ms",
		"storage.level.staging.upload.trigger.count": 1, "storage.level.target.import.trigger.count": 1}, nil)
}

// newEnvWith is newEnv with the source's settings and a change to the sink manager's config.
func newEnvWith(t testing.TB, topics map[string]int32, columns []mapping.Column, settings sink.Patch, adjust func(*sink.Config)) *env {
	t.Helper()
	e := &env{t: t}
	e.startCluster(topics)
	e.manager = e.startManager(columns, settings, adjust)
	return e
}

// startCluster starts the kfake cluster with topics and the Storage API emulator.
func (e *env) startCluster(topics map[string]int32) {
	e.t.Helper()
	var opts []kfake.Opt
	for topic, partitions := range topics {
		opts = append(opts, kfake.SeedTopics(partitions, topic))
	}
	cluster, err := kfake.NewCluster(append(opts, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cluster.Close)
	e.cluster, e.storage = cluster, emulatortest.Start(e.t)
	e.storageURL = e.storage.URL
}

// produceSlowly produces n records with ids 0 to n-1 in chunks, pausing between them so that
// the consumer writes them in many syncs; it returns the records per "topic/partition".
func (e *env) produceSlowly(n, chunks int, topics ...string) map[string]int {
	e.t.Helper()
	counts := map[string]int{}
	cl := e.client()
	per := (n + chunks - 1) / chunks
	for first := 0; first < n; first += per {
		var recs []*kgo.Record
		for i := first; i < min(n, first+per); i++ {
			recs = append(recs, &kgo.Record{Topic: topics[i%len(topics)], Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range recs {
			counts[fmt.Sprintf("%s/%d", r.Topic, r.Partition)]++
		}
		time.Sleep(20 * time.Millisecond)
	}
	return counts
}

// waitCommitted waits until the group connect-events has committed every partition to the
// record counts of counts ("topic/partition" → records produced).
func (e *env) waitCommitted(counts map[string]int, limit time.Duration) {
	e.t.Helper()
	waitFor(e.t, limit, "offsets committed to the end", func() bool {
		committed := e.committed("connect-events")
		for tp, count := range counts {
			var topic string
			var p int32
			fmt.Sscanf(strings.Replace(tp, "/", " ", 1), "%s %d", &topic, &p)
			if committed[topic][p] != int64(count) {
				return false
			}
		}
		return true
	})
}

// checkExactlyOnce waits until the table holds n rows (column 0 the record's id, 0 to n-1)
// and checks that each id is there exactly once, then that no row arrives later.
func (e *env) checkExactlyOnce(tableID string, n int) {
	e.t.Helper()
	waitFor(e.t, time.Minute, "every record in the table", func() bool { return len(e.rows(tableID)) >= n })
	time.Sleep(500 * time.Millisecond) // a duplicate import would land now
	seen := map[string]int{}
	for _, r := range e.rows(tableID) {
		seen[r[0]]++
	}
	var lost, doubled int
	for i := range n {
		switch seen[strconv.Itoa(i)] {
		case 0:
			lost++
		case 1:
		default:
			doubled++
		}
	}
	if lost > 0 || doubled > 0 || len(seen) != n {
		e.t.Fatalf("%d records lost, %d imported more than once, %d distinct ids for %d records", lost, doubled, len(seen), n)
	}
}

func (e *env) startManager(columns []mapping.Column, settings sink.Patch, adjust func(*sink.Config)) *sink.Manager {
	return e.startManagerOn(nil, columns, settings, adjust)
}

// startManagerOn is startManager with the sinks' files on fsys (nil: the real file system).
func (e *env) startManagerOn(fsys local.FS, columns []mapping.Column, settings sink.Patch, adjust func(*sink.Config)) *sink.Manager {
	deps := sink.Deps{Storage: emulatortest.Client(e.t, e.storage.Config(emulatortest.Token)), FS: fsys}
	m := sinktest.NewWith(e.t, deps, func(c *sink.Config) {
		if adjust != nil {
			adjust(c)
		}
	})
	if err := m.PutSource(sink.Source{Key: source, Type: "kafka", Name: "events", Settings: settings}); err != nil {
		e.t.Fatal(err)
	}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: source, SinkID: "table"}, Name: "table",
		TableID: "in.c-kafka.events", Columns: columns}); err != nil {
		e.t.Fatal(err)
	}
	sinktest.Start(e.t, m)
	return m
}

// client is a plain franz-go client of the cluster, for producing and checking.
func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(e.cluster.ListenAddrs()...), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.client().ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// rows reads the table: one record per row, header excluded.
func (e *env) rows(tableID string) [][]string { return e.storage.Rows(e.t, tableID) }

// committed returns the group's committed offsets, per topic and partition.
func (e *env) committed(group string) map[string]map[int32]int64 {
	e.t.Helper()
	adm := kadm.NewClient(e.client())
	offs, err := adm.FetchOffsets(context.Background(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // nothing committed yet
	}
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}

// runConsumer runs c until the test ends (or it fails) and returns a function reporting Run's result.
func runConsumer(t testing.TB, c interface{ Run(context.Context) error }) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}

type kadmOffset = kadm.ListedOffset

func admin(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }
