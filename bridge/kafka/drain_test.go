package kafka_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kbridge/kbridge/bridge/kafka"
)

// A started drain ends the reading: what is produced afterwards is not written, a consumer
// started during the drain does not join the group (it would take partitions from the
// draining members), and the consumers stop cleanly. A drain with no consumer reading is idle
// at once.
func TestDrainStopsReading(t *testing.T) {
	t.Parallel()
	idle := kafka.NewDrain()
	idle.Start()
	if err := idle.Wait(ctxFor(t, time.Second)); err != nil {
		t.Fatalf("a drain with nothing reading: %v", err)
	}

	e := newEnv(t, map[string]int32{"orders": 2}, keyedColumns)
	drain := kafka.NewDrain()
	deps := kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Source: source, Writer: e.manager,
		Logger: slog.New(slog.DiscardHandler), Drain: drain}
	p := pipeline(t, "topics", "orders")
	first, err := kafka.NewConsumer(p, deps)
	if err != nil {
		t.Fatal(err)
	}
	stopFirst := runConsumer(t, first)
	counts := e.produceRecords(40, "orders")
	e.waitCommitted(counts, 60*time.Second)

	drain.Start()
	if err := drain.Wait(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("wait for the reading to stop: %v", err)
	}
	second, err := kafka.NewConsumer(p, deps)
	if err != nil {
		t.Fatal(err)
	}
	stopSecond := runConsumer(t, second)
	e.produceRecords(40, "orders")
	time.Sleep(time.Second) // a read or a join would happen within it

	if n := len(e.rows("in.c-kafka.events")); n != 40 {
		t.Errorf("%d rows after the drain started, want the 40 before it", n)
	}
	groups, err := kadm.NewClient(e.client()).DescribeGroups(ctxFor(t, 10*time.Second), "connect-events")
	if err != nil {
		t.Fatal(err)
	}
	if members := len(groups["connect-events"].Members); members != 1 {
		t.Errorf("the group has %d members, want the draining one only", members)
	}
	for name, stop := range map[string]func() error{"first": stopFirst, "second": stopSecond} {
		if err := stop(); err != nil {
			t.Errorf("%s consumer: %v", name, err)
		}
	}
	e.waitCommitted(counts, 10*time.Second) // nothing read after the drain is committed
}

// A task waiting out back pressure stops waiting when the drain starts: the levels must be
// free to drain what they hold, and the refused batch stays unmarked.
func TestDrainEndsABackpressureWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]int32{"orders": 1}, keyedColumns)
	e.produceRecords(10, "orders")
	w := &fullWriter{Writer: e.manager, full: true, moved: make(chan struct{})}
	drain := kafka.NewDrain()
	c, err := kafka.NewConsumer(pipeline(t, "topics", "orders", "retry.backoff.ms", "3600000"), kafka.Deps{
		Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Source: source, Writer: w,
		Logger: slog.New(slog.DiscardHandler), Drain: drain})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	waitFor(t, 30*time.Second, "a refused write", func() bool { return w.refused.Load() > 0 })
	drain.Start()
	if err := drain.Wait(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("the back pressure wait held the drain: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if committed := e.committed("connect-events"); len(committed["orders"]) != 0 {
		t.Errorf("committed %v of a batch never written", committed)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
