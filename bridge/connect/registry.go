package connect

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/sink"
)

// Target states a connector is asked to be in.
const (
	stateRunning    = "RUNNING"
	statePaused     = "PAUSED"
	stateStopped    = "STOPPED"
	stateFailed     = "FAILED"
	stateUnassigned = "UNASSIGNED"
	stateRestarting = "RESTARTING"
)

// Supervise runs c until ctx ends. The daemon's supervisor restarts a failed consumer with
// backoff; without one a failed connector stays FAILED until restarted, as in Kafka Connect.
type Supervise func(ctx context.Context, name string, c *kafka.Consumer)

// connector is one connector's definition and, while it runs, its consumer.
type connector struct {
	Name     string            `json:"name"`
	Config   map[string]string `json:"config"`
	Target   string            `json:"state"` // RUNNING, PAUSED or STOPPED
	fromFile bool              // read from Config.Connectors, not persisted
	// Reread holds, per stream, the offset up to which records the sinks already hold are
	// written again: set when the offsets are moved back (see kafka.Deps.Reread). It is
	// persisted apart from the definition, for connectors from files too.
	Reread map[string]int64 `json:"-"`
	// Topics are the active topics, sorted: those the connector took records from since it was
	// created or its topics were reset. Persisted apart from the definition, for connectors
	// from files too; consumers add to them under topicsMu, without the registry's lock.
	Topics   []string `json:"-"`
	topicsMu sync.Mutex

	// op serialises the operations that start or stop the consumer (lifecycle, config
	// changes, offsets, delete), so that one can wait for a consumer to stop without holding
	// the registry's lock. The fields below are read and written under the registry's lock.
	op sync.Mutex

	pipeline kafka.Pipeline
	consumer *kafka.Consumer // the last consumer, kept for its state; nil before the first start
	assigned []int           // the tasks this replica was to run at the last start; nil: all
	version  int64           // in distributed mode, the version of its record in the log; 0: none
	startErr error           // why the consumer could not be built
	cancel   context.CancelFunc
	done     chan struct{}
}

// registry holds the connectors and runs the consumers of those that should run. mu guards
// the map and the connectors' fields and is never held while a consumer stops: an operation
// that stops one holds the connector's op lock, cancels the consumer under mu and waits for
// it after releasing mu, so every other call answers meanwhile.
type registry struct {
	kafka     kafka.Deps // template: Source is set per connector
	project   int64
	branch    int64
	supervise Supervise
	store     *store
	cluster   *Cluster // nil: single node
	log       *slog.Logger

	mu    sync.Mutex
	conns map[string]*connector
	ctx   context.Context // Run's context; nil outside Run
	wg    sync.WaitGroup
}

// run starts every connector that should run, runs follow (nil: none) until ctx ends, then
// stops them all.
func (r *registry) run(ctx context.Context, follow func(context.Context)) {
	r.mu.Lock()
	r.ctx = ctx
	for _, name := range slices.Sorted(maps.Keys(r.conns)) {
		if c := r.conns[name]; c.Target == stateRunning {
			r.start(c)
		}
	}
	r.mu.Unlock()
	if follow != nil {
		follow(ctx)
	}
	<-ctx.Done()
	r.mu.Lock()
	for _, c := range r.conns {
		r.halt(c)
	}
	r.ctx = nil
	r.mu.Unlock()
	r.wg.Wait()
}

// locked runs fn under r.mu.
func (r *registry) locked(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

// stop stops c's consumer and waits for it without holding r.mu; c.op is held.
func (r *registry) stop(c *connector) {
	r.mu.Lock()
	done := r.halt(c)
	r.mu.Unlock()
	if done != nil {
		<-done
	}
}

// start builds and runs c's consumer; r.mu is held.
func (r *registry) start(c *connector) {
	if r.ctx == nil || c.cancel != nil {
		return
	}
	c.assigned = r.assign(c)
	if c.assigned != nil && len(c.assigned) == 0 {
		return // every task runs on other replicas
	}
	deps := r.kafka
	deps.Tasks = c.assigned
	deps.Source = sink.SourceKey{ProjectID: r.project, BranchID: r.branch, SourceID: c.pipeline.Source}
	deps.Reread = maps.Clone(c.Reread)
	p := c.pipeline
	if r.cluster != nil && p.InstanceID != "" {
		// Task i runs on one replica at a time, but not the same one: the replica's name keeps
		// the old and the new owner from fencing each other while they move it.
		p.InstanceID += "-" + r.cluster.Self
	}
	consumer, err := kafka.NewConsumer(p, deps)
	c.startErr = err
	if err != nil {
		r.log.Error("connector not started", "connector", c.Name, "error", err)
		return
	}
	c.consumer = consumer
	consumer.OnActiveTopic(func(topic string) { r.activeTopic(c, topic) })
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	c.cancel, c.done = cancel, done
	r.wg.Go(func() {
		defer close(done)
		r.supervise(ctx, c.Name, consumer)
	})
}

// halt cancels c's consumer and returns the channel closed once it has returned (its offsets
// committed), nil when none runs; r.mu is held. The caller waits after releasing r.mu.
func (r *registry) halt(c *connector) <-chan struct{} {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	done := c.done
	c.cancel, c.done = nil, nil
	return done
}

// setTarget moves c to target, starting or stopping its consumer, and returns once a stopped
// consumer has returned; c.op is held, r.mu is not.
func (r *registry) setTarget(c *connector, target string) error {
	var err error
	var done <-chan struct{}
	r.locked(func() {
		if c.Target != target {
			prev := c.Target
			c.Target = target
			if err = r.store.save(c); err != nil {
				c.Target = prev
				return
			}
		}
		if target == stateRunning {
			r.start(c)
		} else {
			done = r.halt(c)
		}
	})
	if done != nil {
		<-done
	}
	return err
}

// taskStatus is one task's state and, when FAILED, why.
type taskStatus struct{ state, trace string }

// status is c's connector state and its tasks' states; r.mu is held. FAILED means the consumer
// failed: each task tells why it stopped (kafka.Consumer.TaskStates).
func (r *registry) status(c *connector) (string, []taskStatus) {
	all := func(state, trace string) []taskStatus {
		tasks := make([]taskStatus, c.pipeline.TasksMax)
		for i := range tasks {
			tasks[i] = taskStatus{state, trace}
		}
		return tasks
	}
	switch {
	case c.Target == stateStopped:
		return stateStopped, nil
	case c.Target == statePaused:
		return statePaused, all(statePaused, "")
	case c.startErr != nil:
		return stateFailed, all(stateFailed, c.startErr.Error())
	case c.consumer == nil:
		return stateUnassigned, all(stateUnassigned, "")
	}
	s, err := c.consumer.State()
	switch {
	case s == kafka.StateFailed && err != nil:
		states := c.consumer.TaskStates()
		tasks := make([]taskStatus, len(states))
		for i, t := range states {
			tasks[i].state = string(t.State)
			if t.Err != nil {
				tasks[i].trace = t.Err.Error()
			}
		}
		return stateFailed, tasks
	case s == kafka.StateRunning || c.cancel != nil: // started; Run sets RUNNING as it begins
		return stateRunning, all(stateRunning, "")
	}
	return stateUnassigned, all(stateUnassigned, "") // not started: the registry is not running
}
