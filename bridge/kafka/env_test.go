package kafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
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
	var opts []kfake.Opt
	for topic, partitions := range topics {
		opts = append(opts, kfake.SeedTopics(partitions, topic))
	}
	cluster, err := kfake.NewCluster(append(opts, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	e := &env{t: t, cluster: cluster, storage: emulatortest.Start(t)}
	e.storageURL = e.storage.URL
	e.manager = e.startManager(columns, settings, adjust)
	return e
}

func (e *env) startManager(columns []mapping.Column, settings sink.Patch, adjust func(*sink.Config)) *sink.Manager {
	m := sinktest.New(e.t, emulatortest.Client(e.t, e.storage.Config(emulatortest.Token)), func(c *sink.Config) {
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
