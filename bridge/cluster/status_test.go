package cluster_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/cluster"
)

// statusMember runs Statuses until the test ends and waits until it caught up.
func statusMember(t *testing.T, c *kfake.Cluster, name string) (*cluster.Statuses, func()) {
	t.Helper()
	s, err := cluster.NewStatuses(config(name), []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("statuses %s: run: %v", name, err)
		}
	}
	t.Cleanup(stop)
	if err := s.CaughtUp(ctxT(t)); err != nil {
		t.Fatalf("statuses %s: %v", name, err)
	}
	return s, stop
}

func renderStatuses(m map[string][]byte) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+string(m[k]))
	}
	return strings.Join(out, " ")
}

// Each member publishes its own status of a key and every member reads all of them; a removed
// status disappears everywhere; a member started later reads everyone's; a member's new
// status replaces its old one.
func TestStatusesAcrossMembers(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	names := []string{"m1", "m2", "m3"}
	var members []*cluster.Statuses
	for _, n := range names {
		s, _ := statusMember(t, c, n)
		members = append(members, s)
	}
	for i, s := range members {
		if err := s.Publish(ctxT(t), "sink/a", fmt.Appendf(nil, `{"rows":%d}`, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	want := `m1={"rows":1} m2={"rows":2} m3={"rows":3}`
	for i, s := range members {
		eventually(t, 2*time.Second, names[i]+" reads every member's status", func() bool { return renderStatuses(s.Of("sink/a")) == want })
	}
	if err := members[1].Remove(ctxT(t), "sink/a"); err != nil {
		t.Fatal(err)
	}
	if err := members[2].Publish(ctxT(t), "sink/a", []byte(`{"rows":30}`)); err != nil {
		t.Fatal(err)
	}
	want = `m1={"rows":1} m3={"rows":30}`
	for i, s := range members {
		eventually(t, 2*time.Second, names[i]+" sees the removal and the update", func() bool { return renderStatuses(s.Of("sink/a")) == want })
	}
	late, _ := statusMember(t, c, "late")
	if got := renderStatuses(late.Of("sink/a")); got != want {
		t.Fatalf("late member reads %q, want %q", got, want)
	}
	if got := late.Of("sink/none"); len(got) != 0 {
		t.Fatalf("statuses of an unknown key: %v", got)
	}
}

// The status topic is created compacted, and a status topic without compaction is refused
// naming cluster.statusTopic; publishing needs a running member.
func TestStatusTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	s, stop := statusMember(t, c, "m1")
	configs, err := admin(t, c).DescribeTopicConfigs(context.Background(), cluster.DefaultStatusTopic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(cluster.DefaultStatusTopic, nil)
	if err != nil {
		t.Fatal(err)
	}
	compacted := false
	for _, kv := range rc.Configs {
		compacted = compacted || kv.Key == "cleanup.policy" && kv.Value != nil && *kv.Value == "compact"
	}
	if !compacted {
		t.Fatalf("status topic configs %+v", rc.Configs)
	}
	stop()
	if err := s.Publish(ctxT(t), "k", []byte("v")); err == nil {
		t.Fatal("published on a stopped member")
	}

	c2 := newCluster(t)
	if _, err := admin(t, c2).CreateTopic(context.Background(), 3, 1, nil, cluster.DefaultStatusTopic); err != nil {
		t.Fatal(err)
	}
	bad, err := cluster.NewStatuses(config("m1"), []kgo.Opt{kgo.SeedBrokers(c2.ListenAddrs()...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Run(ctxT(t))
	if err == nil || !strings.HasPrefix(err.Error(), "cluster.statusTopic: ") || !strings.Contains(err.Error(), "cleanup.policy=delete") {
		t.Fatalf("run on a deleting status topic: %v", err)
	}
}

// An existing compacted status topic with several partitions is read whole: every member
// reads every status, whichever partition holds it, and a late member is ready with all.
func TestStatusTopicWithPartitions(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	compact := "compact"
	if _, err := admin(t, c).CreateTopic(context.Background(), 4, 1, map[string]*string{"cleanup.policy": &compact}, cluster.DefaultStatusTopic); err != nil {
		t.Fatal(err)
	}
	s1, _ := statusMember(t, c, "m1")
	s2, _ := statusMember(t, c, "m2")
	for i := range 12 {
		for _, s := range []*cluster.Statuses{s1, s2} {
			if err := s.Publish(ctxT(t), fmt.Sprintf("task/%d", i), []byte("RUNNING")); err != nil {
				t.Fatal(err)
			}
		}
	}
	late, _ := statusMember(t, c, "late")
	for i := range 12 {
		key := fmt.Sprintf("task/%d", i)
		if got := renderStatuses(late.Of(key)); got != "m1=RUNNING m2=RUNNING" {
			t.Fatalf("%s: late member reads %q", key, got)
		}
		eventually(t, 2*time.Second, "m1 reads m2's "+key, func() bool { return len(s1.Of(key)) == 2 })
	}
}

// Sync reads what another member published before the call: right after it returns, the
// status is there, every time (a read-your-writes across members, as a task polled on another
// replica needs).
func TestStatusesSync(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	writer, _ := statusMember(t, c, "writer")
	reader, stopReader := statusMember(t, c, "reader")
	for i := range 50 {
		key, want := fmt.Sprintf("tasks/%d", i), fmt.Sprintf(`{"n":%d}`, i)
		if err := writer.Publish(ctxT(t), key, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if err := reader.Sync(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if got := string(reader.Of(key)["writer"]); got != want {
			t.Fatalf("after Sync, %s is %q, want %q", key, got, want)
		}
	}
	stopReader()
	if err := reader.Sync(ctxT(t)); err == nil {
		t.Fatal("Sync of a stopped member: no error")
	}
}

// Fresh names the members whose status of a key was written within the window: one that
// stops publishing drops out once the window passes, and one removed drops out at once. A
// member started later judges statuses written before it by their records' time.
func TestStatusesFresh(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1, _ := statusMember(t, c, "m1")
	m2, _ := statusMember(t, c, "m2")
	for _, m := range []*cluster.Statuses{m1, m2} {
		if err := m.Publish(ctxT(t), "alive", []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := m1.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := m1.Fresh("alive", time.Minute); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("fresh: %v, want [m1 m2]", got)
	}
	time.Sleep(300 * time.Millisecond)
	if err := m1.Publish(ctxT(t), "alive", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := m1.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := m1.Fresh("alive", 200*time.Millisecond); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("fresh within 200ms: %v, want [m1]: m2 has not published for 300ms", got)
	}
	late, _ := statusMember(t, c, "m3")
	if got := late.Fresh("alive", 200*time.Millisecond); !slices.Equal(got, []string{"m1"}) {
		t.Errorf("a later member's fresh within 200ms: %v, want [m1]", got)
	}
	if err := m1.Remove(ctxT(t), "alive"); err != nil {
		t.Fatal(err)
	}
	if err := m2.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := m2.Fresh("alive", time.Minute); !slices.Equal(got, []string{"m2"}) {
		t.Errorf("fresh after m1's removal: %v, want [m2]", got)
	}
}
