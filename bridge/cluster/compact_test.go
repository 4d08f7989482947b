package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/cluster"
)

// rawRecords reads the topic as stored, aborted records included, and returns its data records.
func rawRecords(t *testing.T, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, err := admin(t, c).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	hwm, _ := end.Lookup(topic, 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var data []*kgo.Record
	for next := int64(0); next < hwm.Offset; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s to %d: at %d: %v", topic, hwm.Offset, next, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if !r.Attrs.IsControl() {
				data = append(data, r)
			}
		})
	}
	return data
}

// After compaction (superseded values, tombstones and aborted writes gone), a new member
// reaches the same state, versions included: the record compaction keeps for a key is always
// the key's state, and a version ahead of the replaying member's is accepted.
func TestCompactedLogGivesSameState(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1, m2 := startMember(t, c, config("m1")), startMember(t, c, config("m2"))
	for i := range 5 { // k at version 5, its first four records superseded
		mustPut(t, m1, "k", int64(i), fmt.Sprintf("v%d", i+1))
	}
	mustPut(t, m2, "gone", 0, "x")
	if err := m2.Delete(ctxT(t), "gone", 1); err != nil {
		t.Fatal(err)
	}
	mustPut(t, m1, "back", 0, "first life")
	if err := m1.Delete(ctxT(t), "back", 1); err != nil {
		t.Fatal(err)
	}
	mustPut(t, m2, "back", 0, "second life")
	for round := range 6 { // racing writers: fenced, aborted and losing attempts
		var wg sync.WaitGroup
		for _, m := range []*member{m1, m2} {
			wg.Go(func() { _, _ = m.Put(ctxT(t), fmt.Sprintf("race%d", round%2), int64(round/2), []byte(m.name)) })
		}
		wg.Wait()
	}
	mustPut(t, m1, "tail", 0, "last") // the active segment, never compacted
	eventually(t, 2*time.Second, "m2 agrees with m1", func() bool { return render(m2.Snapshot()) == render(m1.Snapshot()) })

	delRetention := "0"
	if _, err := admin(t, c).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "delete.retention.ms", Value: &delRetention}}, cluster.DefaultTopic); err != nil {
		t.Fatal(err)
	}
	before := len(rawRecords(t, c, cluster.DefaultTopic))
	c.Compact()
	after := rawRecords(t, c, cluster.DefaultTopic)
	if len(after) >= before || len(after) > 6 {
		t.Fatalf("compaction kept %d of %d records: %v", len(after), before, keysOf(after))
	}
	late := startMember(t, c, config("late"))
	want := render(m1.Snapshot())
	if got := render(late.Snapshot()); got != want {
		t.Fatalf("after compaction a new member has\n%s\nwant\n%s\n(records %v)", got, want, keysOf(after))
	}
	if e, _ := late.Get("k"); e.Version != 5 || string(e.Value) != "v5" {
		t.Fatalf("k: %+v", e)
	}
	if _, err := late.Put(ctxT(t), "k", 5, []byte("v6")); err != nil {
		t.Fatalf("write after replaying a compacted log: %v", err)
	}
	eventually(t, 2*time.Second, "m1 takes the new member's write", func() bool { e, _ := m1.Get("k"); return e.Version == 6 })
}

func keysOf(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, r.Value))
	}
	return out
}

// A writer that died inside its transaction holds back nothing for long: a member starting
// meanwhile is ready with what was committed, the next write fences the dead writer's
// transaction, and its record is never applied, compaction or not.
func TestAbandonedTransaction(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1 := startMember(t, c, config("m1"))
	mustPut(t, m1, "k", 0, "committed")
	dead, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID(cluster.DefaultTopic+".writer"),
		kgo.DefaultProduceTopic(cluster.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := dead.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dead.ProduceSync(ctxT(t), rec("k", "1", "never committed")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m2 := startMember(t, c, config("m2"))
	if got := render(m2.Snapshot()); got != "k@1=committed " {
		t.Fatalf("member started beside an open transaction has %q", got)
	}
	if v := mustPut(t, m2, "k", 1, "next"); v != 2 {
		t.Fatalf("version %d", v)
	}
	eventually(t, 2*time.Second, "m1 takes the write after the fenced one", func() bool { return render(m1.Snapshot()) == "k@2=next " })
	for _, m := range []*member{m1, m2} {
		if n := m.count(t, "kbridge_cluster_records_total", "accepted"); n != 2 {
			t.Fatalf("%s applied %d records, want 2", m.name, n)
		}
	}
	if err := dead.EndTransaction(ctxT(t), kgo.TryCommit); err == nil {
		t.Fatal("the fenced writer committed")
	}
	c.Compact()
	if got := render(startMember(t, c, config("m3")).Snapshot()); got != "k@2=next " {
		t.Fatalf("after compaction a new member has %q", got)
	}
}
