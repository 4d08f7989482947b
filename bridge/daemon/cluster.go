package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/kbridge/kbridge/bridge/cluster"
	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/sink"
)

// clusterRun is the shared definitions log and the status topic of distributed mode, running.
type clusterRun struct {
	log        *cluster.Log
	shared     *sink.SharedDefinitions
	connectors *connect.Changes // the log's changes of Connect connectors, for the Connect API
	statuses   *cluster.Statuses
	member     string
	stop       context.CancelFunc
	done       chan error // the log's Run's result
	statusDone chan error // the statuses' Run's result
}

// statisticsInterval is the shortest time between two publications of one sink's totals to
// the status topic.
const statisticsInterval = time.Second

// statisticsFinalTimeout bounds the last publication at shutdown, which follows the
// shutdownTimeout-bounded stop: it fits the margin the StatefulSet leaves after shutdownTimeout.
const statisticsFinalTimeout = 5 * time.Second

// startCluster starts following the shared definitions log and the status topic and waits
// until this replica has caught up with both, so the sink manager loads every definition the
// cluster has and the Stream API's statistics count every member from the first request. Both
// run until close, after the sink manager stopped.
func (d *Daemon) startCluster(ctx context.Context) (*clusterRun, error) {
	opts, err := d.cfg.Kafka.Options()
	if err != nil {
		return nil, err
	}
	l, err := cluster.New(d.cfg.ClusterConfig(), opts, d.log, cluster.NewMetrics(d.registry))
	if err != nil {
		return nil, err
	}
	st, err := cluster.NewStatuses(d.cfg.ClusterConfig(), opts, d.log)
	if err != nil {
		return nil, err
	}
	shared, connectors := sink.NewSharedDefinitions(sharedLog{l}), connect.NewChanges()
	connectOn := d.cfg.ConnectOn()
	l.OnChange(func(c cluster.Change) {
		shared.Changed(c.Key, c.Value, c.Version)
		if connectOn { // else nothing takes them
			connectors.Add(c.Key, c.Value, c.Version)
		}
	})
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c := &clusterRun{log: l, shared: shared, connectors: connectors, statuses: st, member: d.cfg.ClusterConfig().Member, stop: stop,
		done: make(chan error, 1), statusDone: make(chan error, 1)}
	go func() { c.done <- l.Run(runCtx) }()
	go func() { c.statusDone <- st.Run(runCtx) }()
	d.log.Info("distributed mode: reading the shared definitions and statuses", "topic", d.cfg.Cluster.ConfigTopic,
		"statusTopic", d.cfg.Cluster.StatusTopic, "member", c.member)
	for _, ready := range []<-chan struct{}{l.Ready(), st.Ready()} {
		select {
		case <-ready:
		case err := <-c.done:
			c.done <- err
			c.close()
			return nil, fmt.Errorf("cluster: %w", err)
		case err := <-c.statusDone:
			c.statusDone <- err
			c.close()
			return nil, fmt.Errorf("cluster statuses: %w", err)
		case <-ctx.Done():
			c.close()
			return nil, fmt.Errorf("cluster: reading the shared definitions and statuses: %w", context.Cause(ctx))
		}
	}
	return c, nil
}

// close stops the log and the statuses and waits for them; nil closes nothing.
func (c *clusterRun) close() {
	if c == nil {
		return
	}
	c.stop()
	<-c.done
	<-c.statusDone
}

// startStatistics publishes the manager's sink totals to the status topic until the returned
// function is called; that function publishes the last totals (within statisticsFinalTimeout)
// and waits. The Stream API answers statistics/total through clusterManager.
func (d *Daemon) startStatistics(c *clusterRun, m *sink.Manager) (*sink.ClusterStatistics, func(), error) {
	stats, err := sink.NewClusterStatistics(m, c.statuses, c.member, statisticsInterval, d.log.With("component", "cluster.statistics"))
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = stats.Run(ctx, min(d.cfg.ShutdownTimeout, statisticsFinalTimeout))
	}()
	return stats, func() { cancel(); <-done }, nil
}

// clusterManager is the sink manager as the Stream API sees it in distributed mode: a sink's
// statistics/total sums every member's totals, statistics/files lists every member's files,
// and statistics/clear clears them on every member.
type clusterManager struct {
	*sink.Manager
	stats *sink.ClusterStatistics
}

func (m clusterManager) SinkStatistics(k sink.SinkKey) (sink.Statistics, error) {
	return m.stats.SinkStatistics(k)
}

// sharedTasks are the Stream API's tasks in the status topic, under "<member>/tasks/<id>".
type sharedTasks struct{ st *cluster.Statuses }

func (s sharedTasks) Publish(ctx context.Context, id string, data []byte) error {
	if data == nil {
		return s.st.Remove(ctx, "tasks/"+id)
	}
	return s.st.Publish(ctx, "tasks/"+id, data)
}

// Lookup answers from what this member has read; a task it has not read yet may have been
// published a moment ago (a client polls the task on another replica than the one that ran
// it), so it reads the topic up to its end first.
func (s sharedTasks) Lookup(ctx context.Context, id string) ([][]byte, error) {
	found := s.st.Of("tasks/" + id)
	if len(found) == 0 {
		if err := s.st.Sync(ctx); err != nil {
			return nil, err
		}
		found = s.st.Of("tasks/" + id)
	}
	return slices.Collect(maps.Values(found)), nil
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

func (m clusterManager) SinkFiles(k sink.SinkKey, failedOnly bool) ([]sink.FileStatistics, error) {
	return m.stats.SinkFiles(k, failedOnly)
}

func (m clusterManager) ClearStatistics(k sink.SinkKey) error { return m.stats.ClearStatistics(k) }

func (m clusterManager) ClearSourceStatistics(k sink.SourceKey) error {
	return m.stats.ClearSourceStatistics(k)
}

// Liveness: every member publishes "alive" to the status topic every aliveInterval; one not
// heard of within aliveTimeout is gone, and its connector tasks move to the others.
const (
	aliveInterval = 2 * time.Second
	aliveTimeout  = 3 * aliveInterval
	aliveKey      = "alive"
)

// alive is a member's liveness record: the Connect worker id its task statuses name.
type alive struct {
	Worker string `json:"worker"`
}

// startHeartbeat publishes this member's liveness until the returned function is called,
// which removes it, so the others take its connector tasks at once.
func (c *clusterRun) startHeartbeat(worker string, log *slog.Logger) func() {
	data, _ := json.Marshal(alive{Worker: worker})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(aliveInterval)
		defer tick.Stop()
		for {
			if err := c.statuses.Publish(ctx, aliveKey, data); err != nil && ctx.Err() == nil {
				log.Warn("liveness not published", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), statisticsFinalTimeout)
		defer rcancel()
		if err := c.statuses.Remove(rctx, aliveKey); err != nil {
			log.Warn("liveness not removed", "error", err)
		}
	}
}

// members are the live members that run the Connect API, sorted by name, this one included,
// with their worker ids.
func (c *clusterRun) members(self string) []connect.Member {
	names := c.statuses.Fresh(aliveKey, aliveTimeout)
	if !slices.Contains(names, c.member) {
		names = append(names, c.member)
		slices.Sort(names)
	}
	records := c.statuses.Of(aliveKey)
	var out []connect.Member
	for _, name := range names {
		var a alive
		_ = json.Unmarshal(records[name], &a)
		if name == c.member {
			a.Worker = self
		}
		if a.Worker != "" { // a replica without the Connect API runs no connector tasks
			out = append(out, connect.Member{Name: name, Worker: a.Worker})
		}
	}
	return out
}

// connectCluster is distributed mode as the Connect API uses it; worker is this member's
// Connect worker id.
func (c *clusterRun) connectCluster(worker string) *connect.Cluster {
	return &connect.Cluster{Log: connectLog{c.log}, Changes: c.connectors, Statuses: c.statuses, Self: c.member,
		Members: func() []connect.Member { return c.members(worker) }}
}

// connectLog is the cluster log as the Connect API sees it.
type connectLog struct{ l *cluster.Log }

func (l connectLog) Put(ctx context.Context, key string, expected int64, value []byte) (int64, error) {
	return l.l.Put(ctx, key, expected, value)
}

func (l connectLog) Delete(ctx context.Context, key string, expected int64) error {
	return l.l.Delete(ctx, key, expected)
}

func (l connectLog) Get(key string) ([]byte, int64) {
	e, _ := l.l.Get(key)
	return e.Value, e.Version
}
