package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/cluster"
)

func admin(t *testing.T, c *kfake.Cluster) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// The topic is created with one partition and cleanup.policy=compact, under the configured
// name, and a second member takes the topic the first created.
func TestTopicCreatedCompactedOnePartition(t *testing.T) {
	t.Parallel()
	for _, rf := range []int{-1, 1} {
		c := newCluster(t)
		cfg := config("m1")
		cfg.Topic, cfg.ReplicationFactor = "team.kbridge-configs", rf
		startMember(t, c, cfg)
		startMember(t, c, func() cluster.Config { c := cfg; c.Member = "m2"; return c }())
		adm := admin(t, c)
		details, err := adm.ListTopics(context.Background(), cfg.Topic)
		if err != nil {
			t.Fatal(err)
		}
		d := details[cfg.Topic]
		if d.Err != nil || len(d.Partitions) != 1 || d.Partitions.NumReplicas() != 1 {
			t.Fatalf("rf %d: topic %+v", rf, d)
		}
		configs, err := adm.DescribeTopicConfigs(context.Background(), cfg.Topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := configs.On(cfg.Topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		policy := ""
		for _, kv := range rc.Configs {
			if kv.Key == "cleanup.policy" && kv.Value != nil {
				policy = *kv.Value
			}
		}
		if policy != "compact" {
			t.Fatalf("rf %d: cleanup.policy=%q", rf, policy)
		}
	}
}

// An existing topic that would break the log is refused at start with an error naming the
// key and the reason; Run returns it and the member never becomes ready.
func TestExistingTopicRefused(t *testing.T) {
	t.Parallel()
	compact, del, both := "compact", "delete", "compact,delete"
	cases := []struct {
		name       string
		partitions int32
		configs    map[string]*string
		want       string
	}{
		{"three partitions", 3, map[string]*string{"cleanup.policy": &compact}, `topic "kbridge-configs" has 3 partitions; it needs exactly one`},
		{"delete policy", 1, map[string]*string{"cleanup.policy": &del}, "cleanup.policy=delete; it needs cleanup.policy=compact"},
		{"default policy", 1, nil, "cleanup.policy=delete; it needs cleanup.policy=compact"},
		{"compact and delete", 1, map[string]*string{"cleanup.policy": &both}, "cleanup.policy=compact,delete; it needs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			if _, err := admin(t, c).CreateTopic(context.Background(), tc.partitions, 1, tc.configs, cluster.DefaultTopic); err != nil {
				t.Fatal(err)
			}
			l, err := cluster.New(config("m1"), []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = l.Run(ctx)
			if err == nil || !strings.HasPrefix(err.Error(), "cluster.configTopic: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want cluster.configTopic: ...%s", err, tc.want)
			}
			select {
			case <-l.Ready():
				t.Fatal("ready on a refused topic")
			default:
			}
			if err := l.CaughtUp(ctx); err == nil {
				t.Fatal("caught up on a refused topic")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*cluster.Config)
		want   string // error prefix; empty: valid
	}{
		{"defaults", func(*cluster.Config) {}, ""},
		{"explicit factor", func(c *cluster.Config) { c.ReplicationFactor = 3 }, ""},
		{"no topic", func(c *cluster.Config) { c.Topic = "" }, "cluster.configTopic: "},
		{"bad topic", func(c *cluster.Config) { c.Topic = "configs/x" }, "cluster.configTopic: "},
		{"dot topic", func(c *cluster.Config) { c.Topic = ".." }, "cluster.configTopic: "},
		{"long topic", func(c *cluster.Config) { c.Topic = strings.Repeat("a", 250) }, "cluster.configTopic: "},
		{"zero factor", func(c *cluster.Config) { c.ReplicationFactor = 0 }, "cluster.replicationFactor: "},
		{"negative factor", func(c *cluster.Config) { c.ReplicationFactor = -2 }, "cluster.replicationFactor: "},
		{"no member", func(c *cluster.Config) { c.Member = "" }, "cluster.member: "},
		{"slash in member", func(c *cluster.Config) { c.Member = "pod/0" }, "cluster.member: "},
		{"no status topic", func(c *cluster.Config) { c.StatusTopic = "" }, "cluster.statusTopic: "},
		{"bad status topic", func(c *cluster.Config) { c.StatusTopic = "a b" }, "cluster.statusTopic: "},
		{"one topic for both", func(c *cluster.Config) { c.StatusTopic = c.Topic }, "cluster.statusTopic: "},
		{"no backoff", func(c *cluster.Config) { c.WriteRetryBackoff = 0 }, "cluster.writeRetryBackoff: "},
	}
	for _, tc := range cases {
		cfg := config("m1")
		tc.change(&cfg)
		err := cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if _, nerr := cluster.New(cfg, nil, nil, nil); (nerr == nil) != (err == nil) {
			t.Errorf("%s: New and Validate disagree: %v, %v", tc.name, nerr, err)
		}
	}
	if d := cluster.DefaultConfig(); d.Topic != "kbridge-configs" || d.StatusTopic != "kbridge-status" || d.ReplicationFactor != -1 {
		t.Fatalf("defaults %+v", d)
	}
}

// Members starting together on a fresh cluster race to create the topic; all of them start.
func TestMembersStartTogether(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	var ms []*member
	for _, n := range []string{"m1", "m2", "m3"} {
		ms = append(ms, runMember(t, c, config(n)))
	}
	for _, m := range ms {
		if err := m.CaughtUp(ctxT(t)); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	mustPut(t, ms[2], "k", 0, "v")
	eventually(t, 2*time.Second, "m1 has k", func() bool { _, ok := ms[0].Get("k"); return ok })
}
