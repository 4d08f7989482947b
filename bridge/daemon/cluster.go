package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/kbridge/kbridge/bridge/cluster"
	"github.com/kbridge/kbridge/sink"
)

// clusterRun is the shared definitions log of distributed mode, running.
type clusterRun struct {
	log    *cluster.Log
	shared *sink.SharedDefinitions
	stop   context.CancelFunc
	done   chan error // Run's result
}

// startCluster starts following the shared definitions log and waits until this replica has
// caught up with it, so the sink manager loads every definition the cluster has. The log runs
// until close, after the sink manager stopped.
func (d *Daemon) startCluster(ctx context.Context) (*clusterRun, error) {
	opts, err := d.cfg.Kafka.Options()
	if err != nil {
		return nil, err
	}
	l, err := cluster.New(d.cfg.ClusterConfig(), opts, d.log, cluster.NewMetrics(d.registry))
	if err != nil {
		return nil, err
	}
	shared := sink.NewSharedDefinitions(sharedLog{l})
	l.OnChange(func(c cluster.Change) { shared.Changed(c.Key, c.Value, c.Version) })
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c := &clusterRun{log: l, shared: shared, stop: stop, done: make(chan error, 1)}
	go func() { c.done <- l.Run(runCtx) }()
	d.log.Info("distributed mode: reading the shared definitions", "topic", d.cfg.Cluster.ConfigTopic, "member", d.cfg.ClusterConfig().Member)
	select {
	case <-l.Ready():
		return c, nil
	case err := <-c.done:
		stop()
		return nil, fmt.Errorf("cluster: %w", err)
	case <-ctx.Done():
		stop()
		<-c.done
		return nil, fmt.Errorf("cluster: reading the shared definitions: %w", context.Cause(ctx))
	}
}

// close stops the log and waits for it; nil closes nothing.
func (c *clusterRun) close() {
	if c == nil {
		return
	}
	c.stop()
	<-c.done
}

// sharedLog is the cluster log as the sink manager sees it.
type sharedLog struct{ l *cluster.Log }

func (s sharedLog) Put(ctx context.Context, key string, expected int64, value []byte) (int64, error) {
	v, err := s.l.Put(ctx, key, expected, value)
	if errors.Is(err, cluster.ErrConflict) {
		return 0, fmt.Errorf("%w: %w", sink.ErrConflict, err)
	}
	return v, err
}

func (s sharedLog) Entries() map[string]sink.SharedEntry {
	snap := s.l.Snapshot()
	out := make(map[string]sink.SharedEntry, len(snap))
	for k, e := range snap {
		out[k] = sink.SharedEntry{Value: e.Value, Version: e.Version}
	}
	return out
}
