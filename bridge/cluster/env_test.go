package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/bridge/cluster"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster is a one-broker kfake cluster; opts add topics.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// member is one running Log and the changes it delivered.
type member struct {
	*cluster.Log
	name   string
	reg    *prometheus.Registry
	cancel context.CancelFunc
	errc   chan error

	mu      sync.Mutex
	changes []cluster.Change
}

func config(name string) cluster.Config {
	cfg := cluster.DefaultConfig()
	cfg.Member = name
	return cfg
}

// startMember runs a member on c until the test ends (or stop) and waits until it caught up.
func startMember(t *testing.T, c *kfake.Cluster, cfg cluster.Config) *member {
	t.Helper()
	m := runMember(t, c, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.CaughtUp(ctx); err != nil {
		t.Fatalf("member %s: caught up: %v", cfg.Member, err)
	}
	return m
}

// runMember starts a member without waiting for it to catch up.
func runMember(t *testing.T, c *kfake.Cluster, cfg cluster.Config) *member {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics := cluster.NewMetrics(reg)
	l, err := cluster.New(cfg, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{Log: l, name: cfg.Member, errc: make(chan error, 1), reg: reg}
	l.OnChange(func(ch cluster.Change) {
		m.mu.Lock()
		m.changes = append(m.changes, ch)
		m.mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.errc <- l.Run(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop ends Run and checks it ended cleanly; a second stop does nothing.
func (m *member) stop(t *testing.T) {
	t.Helper()
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	if err := <-m.errc; err != nil {
		t.Errorf("member %s: run: %v", m.name, err)
	}
}

func (m *member) delivered() []cluster.Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.changes)
}

// eventually polls cond until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// render is a state in a comparable, readable form.
func render(s map[string]cluster.Entry) string {
	out := ""
	for _, k := range slices.Sorted(maps.Keys(s)) {
		out += fmt.Sprintf("%s@%d=%s ", k, s[k].Version, s[k].Value)
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, m *member, key string, expected int64, value string) int64 {
	t.Helper()
	v, err := m.Put(ctxT(t), key, expected, []byte(value))
	if err != nil {
		t.Fatalf("put %s on %s: %v", key, m.name, err)
	}
	return v
}

func isConflict(err error) bool {
	var ce *cluster.ConflictError
	return errors.Is(err, cluster.ErrConflict) && errors.As(err, &ce)
}

// count is a counter of the member's registry, by name and label value, 0 when absent.
func (m *member) count(t *testing.T, name, label string) int {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			if lp := mt.GetLabel(); len(lp) == 1 && lp[0].GetValue() == label {
				return int(mt.GetCounter().GetValue())
			}
		}
	}
	return 0
}
