package cluster_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/cluster"
)

func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(cluster.DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(key, expected, value string) *kgo.Record {
	r := &kgo.Record{}
	if key != "" {
		r.Key = []byte(key)
	}
	if value != "" {
		r.Value = []byte(value)
	}
	if expected != "" {
		r.Headers = []kgo.RecordHeader{{Key: "kbridge.expected.version", Value: []byte(expected)}}
	}
	return r
}

// Records written without fencing, by an older writer or another tool, are decided by the
// rule on every member alike: a losing write, a record without a key or a version and a bad
// version are refused everywhere, and a member started later decides the same.
func TestUnfencedRecordsDecidedAlike(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	m1 := startMember(t, c, config("m1"))
	produce(t, c.ListenAddrs(),
		rec("a", "0", "one"),
		rec("a", "0", "two"), // loses: a is at version 1
		rec("b", "", "no version"),
		rec("c", "x", "bad version"),
		rec("", "0", "no key"),
		rec("d", "0", "dv"),
		rec("d", "1", ""),   // tombstone
		rec("f", "", ""),    // tombstone without a version
		rec("e", "5", "ev"), // ahead, as after compaction
	)
	const want = "a@1=one e@6=ev "
	eventually(t, 2*time.Second, "m1 applied the records", func() bool { return render(m1.Snapshot()) == want })
	m2 := startMember(t, c, config("m2"))
	if got := render(m2.Snapshot()); got != want {
		t.Fatalf("m2 has %q, want %q", got, want)
	}
	var keys []string
	for _, ch := range m1.delivered() {
		keys = append(keys, ch.Key)
	}
	if got := strings.Join(keys, " "); got != "a d d e" {
		t.Fatalf("m1 delivered changes of %q", got)
	}
	for _, m := range []*member{m1, m2} {
		if a, r := m.count(t, "kbridge_cluster_records_total", "accepted"), m.count(t, "kbridge_cluster_records_total", "refused"); a != 4 || r != 5 {
			t.Errorf("%s: %d records accepted, %d refused; want 4 and 5", m.name, a, r)
		}
	}
	if v := mustPut(t, m2, "a", 1, "three"); v != 2 {
		t.Fatalf("version %d", v)
	}
}

// kcat (librdkafka), an independent client, reads the topic: keys, values, the version header,
// tombstones as NULL; and a record it writes with the header is taken by every member.
func TestKcatReadsAndWrites(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: make test installs Debian's kcat package")
	}
	c := newCluster(t)
	m1, m2 := startMember(t, c, config("m1")), startMember(t, c, config("m2"))
	mustPut(t, m1, "source/a", 0, `{"id":"a"}`)
	mustPut(t, m2, "source/b", 0, `{"id":"b"}`)
	if err := m1.Delete(ctxT(t), "source/b", 1); err != nil {
		t.Fatal(err)
	}
	brokers := strings.Join(c.ListenAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", brokers, "-t", cluster.DefaultTopic, "-C", "-o", "beginning", "-e", "-q",
		"-X", "isolation.level=read_committed", "-Z", "-f", "%k|%s|%h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	want := `source/a|{"id":"a"}|kbridge.expected.version=0,kbridge.writer=m1
source/b|{"id":"b"}|kbridge.expected.version=0,kbridge.writer=m2
source/b|NULL|kbridge.expected.version=1,kbridge.writer=m1
`
	if string(out) != want {
		t.Fatalf("kcat read\n%s\nwant\n%s", out, want)
	}
	cmd := exec.CommandContext(ctx, kcat, "-b", brokers, "-t", cluster.DefaultTopic, "-P", "-K", "|",
		"-H", "kbridge.expected.version=1", "-H", "kbridge.writer=kcat")
	cmd.Stdin = strings.NewReader(`source/a|{"id":"a","name":"from kcat"}` + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	for _, m := range []*member{m1, m2} {
		eventually(t, 2*time.Second, m.name+" takes kcat's write", func() bool {
			e, _ := m.Get("source/a")
			return e.Version == 2 && string(e.Value) == `{"id":"a","name":"from kcat"}`
		})
	}
	if chs := m2.delivered(); chs[len(chs)-1].Writer != "kcat" {
		t.Fatalf("last change %+v, want kcat as writer", chs[len(chs)-1])
	}
}
