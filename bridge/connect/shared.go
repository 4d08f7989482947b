package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/cluster"
	"github.com/kbridge/kbridge/bridge/kafka"
)

// Distributed mode keeps the connectors in the cluster's shared definitions log, as Connect's
// distributed workers keep them in config.storage.topic. Every replica follows the log and
// applies each change in log order: a call that changes a connector writes the log and
// answers once its own replica has applied the record, so one path, the log's, starts and
// stops consumers. Each replica runs its share of a connector's tasks, all of them members
// of the connector's consumer group, and publishes their states to the status topic, from
// which any replica answers a connector's status.

// Keys of the shared log, the connector's name escaped as a path segment.
const (
	sharedConnectorPrefix = "connectors/"        // the definition: name, config and target state, sealed
	sharedRereadPrefix    = "connector-reread/"  // the rules of the offset rewinds, in order
	sharedTopicsPrefix    = "connector-topics/"  // the active topics
	sharedRestartPrefix   = "connector-restart/" // a restart every replica carries out
)

var sharedPrefixes = []string{sharedConnectorPrefix, sharedRereadPrefix, sharedTopicsPrefix, sharedRestartPrefix}

// sharedStatusPrefix starts the keys under which a member publishes its tasks' states.
const sharedStatusPrefix = "connectors/"

// sharedWriteTimeout bounds a write to the log and the wait for this replica to apply it.
const sharedWriteTimeout = 30 * time.Second

// Cluster is distributed mode as the Connect API uses it; bridge/daemon adapts bridge/cluster.
type Cluster struct {
	Log      SharedLog
	Changes  *Changes    // every change of the log, from its start
	Statuses StatusTopic // the members' statuses
	// Members returns the live members, sorted by name, this one included.
	Members func() []Member
	Self    string // this member's name
}

// SharedLog is the cluster's versioned key-value log (bridge/cluster.Log).
type SharedLog interface {
	// Put sets key to value if it is at version expected (0: absent) and returns the new
	// version once this replica has applied it; another version is an error matching
	// cluster.ErrConflict.
	Put(ctx context.Context, key string, expected int64, value []byte) (int64, error)
	// Delete removes key if it is at version expected.
	Delete(ctx context.Context, key string, expected int64) error
	// Get returns key's value and version as this replica has applied it; 0 when absent.
	Get(key string) ([]byte, int64)
}

// StatusTopic is the members' statuses (bridge/cluster.Statuses): each member publishes its
// own under a key and reads everyone's.
type StatusTopic interface {
	Publish(ctx context.Context, key string, status []byte) error
	Remove(ctx context.Context, key string) error
	Of(key string) map[string][]byte // by member
}

// Member is one live replica.
type Member struct {
	Name   string // cluster.member
	Worker string // its Connect worker id, as statuses name it
}

// Changes queues the log's changes of connectors for the Connect API, which may not exist
// yet when they happen: give its Add to the log as a subscriber before the log runs, and the
// Changes to Deps.Cluster. Add never blocks.
type Changes struct {
	mu      sync.Mutex
	queue   []change
	added   uint64        // changes added so far
	applied uint64        // changes applied so far
	moved   chan struct{} // closed and replaced when a change is added or applied
}

// change is one accepted write of the log: value nil when the key was removed.
type change struct {
	key     string
	value   []byte
	version int64
}

// NewChanges returns an empty queue.
func NewChanges() *Changes { return &Changes{moved: make(chan struct{})} }

// Add queues a change of key, in log order; keys of other definitions are ignored.
func (q *Changes) Add(key string, value []byte, version int64) {
	if !slices.ContainsFunc(sharedPrefixes, func(p string) bool { return strings.HasPrefix(key, p) }) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queue = append(q.queue, change{key: key, value: value, version: version})
	q.added++
	q.moveLocked()
}

func (q *Changes) moveLocked() {
	close(q.moved)
	q.moved = make(chan struct{})
}

// take returns the queued changes and a channel closed when more are added.
func (q *Changes) take() ([]change, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.queue
	q.queue = nil
	return out, q.moved
}

// done counts n changes as applied.
func (q *Changes) done(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.applied += uint64(n)
	q.moveLocked()
}

// await waits until every change added so far has been applied, or ctx ends.
func (q *Changes) await(ctx context.Context) error {
	q.mu.Lock()
	upTo := q.added
	q.mu.Unlock()
	for {
		q.mu.Lock()
		applied, moved := q.applied, q.moved
		q.mu.Unlock()
		if applied >= upTo {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("waiting for this replica to apply the change: %w", context.Cause(ctx))
		}
	}
}

// sharedKey is the log's key of connector name under prefix.
func sharedKey(prefix, name string) string { return prefix + url.PathEscape(name) }

// splitSharedKey returns the prefix and connector name of a log key.
func splitSharedKey(key string) (prefix, name string, ok bool) {
	for _, p := range sharedPrefixes {
		if rest, found := strings.CutPrefix(key, p); found {
			name, err := url.PathUnescape(rest)
			return p, name, err == nil && name != ""
		}
	}
	return "", "", false
}

// sharedWrite writes key (value nil: deletes it) and waits until this replica applied it.
func (s *Server) sharedWrite(ctx context.Context, key string, expected int64, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, sharedWriteTimeout)
	defer cancel()
	var err error
	if value == nil {
		err = s.cluster.Log.Delete(ctx, key, expected)
	} else {
		_, err = s.cluster.Log.Put(ctx, key, expected, value)
	}
	if err != nil {
		return err
	}
	return s.cluster.Changes.await(ctx)
}

// sharedDefinition is a connector's record in the log.
type sharedDefinition struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Target string            `json:"state"`
}

// writeDefinition writes connector name's definition at version expected (0: a new one).
func (s *Server) writeDefinition(ctx context.Context, name string, cfg map[string]string, target string, expected int64) error {
	data, err := json.Marshal(sharedDefinition{Name: name, Config: cfg, Target: target})
	if err == nil && s.deps.Keyring != nil {
		data, err = s.deps.Keyring.Seal(data)
	}
	if err != nil {
		return fmt.Errorf("connector %s: %w", name, err)
	}
	err = s.sharedWrite(ctx, sharedKey(sharedConnectorPrefix, name), expected, data)
	if errors.Is(err, cluster.ErrConflict) {
		if expected == 0 {
			return errorf(http.StatusConflict, "Connector %s already exists", name)
		}
		return errorf(http.StatusConflict, "Connector %s was changed by another request meanwhile; read it again and retry", name)
	}
	return err
}

// sharedPut is put in distributed mode: the definition goes to the log, and the answer is the
// connector as this replica applied it.
func (s *Server) sharedPut(name string, cfg map[string]string, mustBeNew bool, initial string) (connectorInfo, bool, error) {
	var version int64
	target := initial
	s.reg.locked(func() {
		if old, ok := s.reg.conns[name]; ok {
			version, target = old.version, old.Target
		}
	})
	if mustBeNew && version != 0 {
		return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s already exists", name)
	}
	if err := s.writeDefinition(context.Background(), name, cfg, target, version); err != nil {
		return connectorInfo{}, false, err
	}
	var info connectorInfo
	var found bool
	s.reg.locked(func() {
		var c *connector
		if c, found = s.reg.conns[name]; found {
			info = s.infoOf(c)
		}
	})
	if !found {
		return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s was deleted by another request meanwhile", name)
	}
	return info, version == 0, nil
}

// sharedSetTarget is setTarget in distributed mode; c.op is held.
func (s *Server) sharedSetTarget(c *connector, target string) error {
	var version int64
	var cfg map[string]string
	var same bool
	s.reg.locked(func() { version, cfg, same = c.version, c.Config, c.Target == target && c.version != 0 })
	if same {
		return nil
	}
	return s.writeDefinition(context.Background(), c.Name, cfg, target, version)
}

// sharedRemove deletes c from the log, its state first; c.op is held. A connector read from
// a file and never changed over REST is not in the log: it is removed from this replica.
func (s *Server) sharedRemove(c *connector) error {
	var version int64
	s.reg.locked(func() { version = c.version })
	if version == 0 { // taken out of the registry and stopped at once, so the applier cannot start it meanwhile
		var err error
		var done <-chan struct{}
		s.reg.locked(func() {
			if s.reg.conns[c.Name] != c {
				return
			}
			if err = s.reg.store.remove(c); err == nil {
				delete(s.reg.conns, c.Name)
				done = s.reg.halt(c)
			}
		})
		if done != nil {
			<-done
		}
		return err
	}
	ctx := context.Background()
	err := s.sharedWrite(ctx, sharedKey(sharedConnectorPrefix, c.Name), version, nil)
	if errors.Is(err, cluster.ErrConflict) {
		return errorf(http.StatusConflict, "Connector %s was changed by another request meanwhile; read it again and retry", c.Name)
	}
	if err != nil {
		return err
	}
	// Its state after it: the tasks that stop meanwhile do not write its topics again.
	for _, prefix := range []string{sharedTopicsPrefix, sharedRereadPrefix, sharedRestartPrefix} {
		key := sharedKey(prefix, c.Name)
		if _, v := s.cluster.Log.Get(key); v != 0 {
			if err := s.sharedWrite(ctx, key, v, nil); err != nil && !errors.Is(err, cluster.ErrConflict) {
				return err
			}
		}
	}
	return nil
}

// sharedRestart asks every replica to restart its tasks of c (onlyFailed: only tasks that
// failed) and waits until this replica has.
func (s *Server) sharedRestart(c *connector, onlyFailed bool) error {
	key := sharedKey(sharedRestartPrefix, c.Name)
	_, version := s.cluster.Log.Get(key)
	data, _ := json.Marshal(map[string]bool{"onlyFailed": onlyFailed})
	err := s.sharedWrite(context.Background(), key, version, data)
	if errors.Is(err, cluster.ErrConflict) { // another restart meanwhile: it restarts them too
		return nil
	}
	return err
}

// follow applies the log's changes as they come and moves tasks between replicas as members
// come and go, until ctx ends.
func (s *Server) follow(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	members := s.cluster.Members()
	for {
		changes, more := s.cluster.Changes.take()
		s.applyChanges(changes)
		select {
		case <-ctx.Done():
			return
		case <-more:
		case <-tick.C:
			if now := s.cluster.Members(); !slices.Equal(now, members) {
				members = now
				s.reg.log.Info("cluster members changed; moving connector tasks", "members", memberNames(members))
			}
			s.reassign() // also corrects a share computed while the members changed
			s.retryMarks()
		}
	}
}

func memberNames(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// applyChanges applies changes in order and counts them as applied.
func (s *Server) applyChanges(changes []change) {
	for _, ch := range changes {
		prefix, name, ok := splitSharedKey(ch.key)
		if !ok {
			continue
		}
		switch prefix {
		case sharedConnectorPrefix:
			s.applyDefinition(name, ch.value, ch.version)
		case sharedTopicsPrefix:
			s.applyTopics(name, ch.value)
		case sharedRereadPrefix:
			if err := s.applyReread(name, ch.value); err != nil {
				s.reg.log.Error("offset rewind not applied yet; the connector's tasks wait here", "connector", name, "error", err)
				s.reg.locked(func() { s.pendingMarks[name] = true })
			}
		case sharedRestartPrefix:
			if ch.value != nil {
				s.applyRestart(name, ch.value)
			}
		}
	}
	if len(changes) > 0 {
		s.cluster.Changes.done(len(changes))
		s.kickStatus()
	}
}

// applyDefinition applies a connector's definition (value nil: its removal): a new config
// replaces the connector, a new target state starts or stops its tasks here.
func (s *Server) applyDefinition(name string, value []byte, version int64) {
	r := s.reg
	if value == nil {
		var done <-chan struct{}
		r.locked(func() {
			if c, ok := r.conns[name]; ok {
				delete(r.conns, name)
				done = r.halt(c)
			}
		})
		if done != nil {
			<-done
		}
		if err := r.store.saveSide(sharedRereadKind, name, nil, true); err != nil {
			r.log.Warn("connector state not removed", "connector", name, "error", err)
		}
		return
	}
	def, err := s.decodeDefinition(value)
	if err != nil {
		r.log.Error("connector definition not applied", "connector", name, "error", err)
		return
	}
	var done <-chan struct{}
	var same *connector
	r.locked(func() {
		if old, ok := r.conns[name]; ok && maps.Equal(old.Config, def.Config) {
			same = old
			old.version, old.Target = version, def.Target
			if def.Target != stateRunning {
				done = r.halt(old)
			}
		}
	})
	if same != nil {
		if done != nil {
			<-done
		}
		s.startWithMarks(same)
		return
	}
	c := &connector{Name: name, Config: def.Config, Target: def.Target, version: version}
	p, _, err := s.tr.pipeline(def.Config)
	c.pipeline = p
	if err != nil {
		c.startErr = err
		r.log.Error("connector config not valid on this replica", "connector", name, "error", err)
	}
	r.locked(func() {
		if old, ok := r.conns[name]; ok {
			old.topicsMu.Lock()
			c.Topics = old.Topics
			old.topicsMu.Unlock()
			done = r.halt(old)
		}
		r.conns[name] = c
	})
	if done != nil {
		<-done
	}
	s.startWithMarks(c)
}

// startWithMarks starts c's tasks here if it should run, once this replica has turned every
// offset rewind of the log into marks over what its sinks hold: a replica that missed a
// rewind, or replays a compacted log where the rewind comes before the definition, must not
// skip what the rewind asked for. A rewind that cannot be applied yet holds the start back;
// follow retries it.
func (s *Server) startWithMarks(c *connector) {
	value, _ := s.cluster.Log.Get(sharedKey(sharedRereadPrefix, c.Name))
	err := s.applyReread(c.Name, value)
	s.reg.locked(func() {
		if err != nil {
			s.pendingMarks[c.Name] = true
			return
		}
		delete(s.pendingMarks, c.Name)
		if s.reg.conns[c.Name] == c && c.Target == stateRunning && c.startErr == nil {
			s.reg.start(c)
		}
	})
}

// retryMarks tries again the starts held back by startWithMarks.
func (s *Server) retryMarks() {
	var waiting []*connector
	s.reg.locked(func() {
		for name := range s.pendingMarks {
			if c, ok := s.reg.conns[name]; ok {
				waiting = append(waiting, c)
			} else {
				delete(s.pendingMarks, name)
			}
		}
	})
	for _, c := range waiting {
		s.startWithMarks(c)
	}
}

func (s *Server) decodeDefinition(value []byte) (sharedDefinition, error) {
	var def sharedDefinition
	plain, _, err := s.deps.Keyring.Open(value)
	if err == nil {
		err = json.Unmarshal(plain, &def)
	}
	if err == nil && (def.Name == "" || def.Config == nil) {
		err = errors.New("no name or config")
	}
	return def, err
}

// applyTopics sets a connector's active topics.
func (s *Server) applyTopics(name string, value []byte) {
	var topics []string
	if value != nil {
		if err := json.Unmarshal(value, &topics); err != nil {
			s.reg.log.Warn("active topics not applied", "connector", name, "error", err)
			return
		}
	}
	slices.Sort(topics)
	s.reg.locked(func() {
		if c, ok := s.reg.conns[name]; ok {
			c.topicsMu.Lock()
			c.Topics = topics
			if value == nil && c.consumer != nil { // reset: the next record of a topic makes it active again
				c.consumer.ResetActiveTopics()
			}
			c.topicsMu.Unlock()
		}
	})
}

// applyRestart restarts this replica's tasks of a running connector.
func (s *Server) applyRestart(name string, value []byte) {
	var req struct {
		OnlyFailed bool `json:"onlyFailed"`
	}
	_ = json.Unmarshal(value, &req)
	r := s.reg
	var c *connector
	var restart bool
	r.locked(func() {
		var ok bool
		if c, ok = r.conns[name]; !ok || c.Target != stateRunning {
			return
		}
		failed := c.startErr != nil
		if c.consumer != nil {
			st, _ := c.consumer.State()
			failed = failed || st == kafka.StateFailed
		}
		restart = !req.OnlyFailed || failed
	})
	if restart {
		r.stop(c)
		r.locked(func() { r.start(c) })
	}
}

// reassign restarts, with this replica's new share of tasks, each running connector whose
// share changed.
func (s *Server) reassign() {
	r := s.reg
	var moved []*connector
	r.locked(func() {
		for _, name := range slices.Sorted(maps.Keys(r.conns)) {
			c := r.conns[name]
			if c.Target == stateRunning && c.startErr == nil && !s.pendingMarks[name] && !slices.Equal(r.assign(c), c.assigned) {
				moved = append(moved, c)
			}
		}
	})
	for _, c := range moved {
		r.stop(c)
		r.locked(func() {
			if r.conns[c.Name] == c && c.Target == stateRunning {
				r.start(c)
			}
		})
	}
	if len(moved) > 0 {
		s.kickStatus()
	}
}

// assign returns the ids of c's tasks this replica runs (see ownerOf); nil runs them all
// (single node); r.mu is held.
func (r *registry) assign(c *connector) []int {
	if r.cluster == nil {
		return nil
	}
	members := r.cluster.Members()
	ids := []int{}
	for id := range c.pipeline.TasksMax {
		if ownerOf(c.Name, members, id).Name == r.cluster.Self {
			ids = append(ids, id)
		}
	}
	return ids
}

// ownerOf is the member task id of connector name runs on: the live member at (id + a hash
// of the name) modulo their number, so that connectors with one task each spread too.
func ownerOf(name string, members []Member, id int) Member {
	if len(members) == 0 {
		return Member{}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return members[(int(h.Sum32()%uint32(len(members)))+id)%len(members)]
}

// Reread marks in distributed mode. The records a replica's sinks hold are its own, so an
// offset rewind is written to the log as a rule, and each replica turns every rule it has not
// applied yet into marks over what its sinks hold, kept in its data directory.
const sharedRereadKind = "reread-shared"

// rereadRules are a connector's rewinds, in order; ID tells one connector of a name from the
// next, whose rules start again.
type rereadRules struct {
	ID    string       `json:"id"`
	Rules []rereadRule `json:"rules"`
}

// rereadRule is one rewind: streams whose records are all written again, those written again
// up to an offset, or every stream of the connector's topics.
type rereadRule struct {
	All   bool             `json:"all,omitempty"`
	Reset []string         `json:"reset,omitempty"`
	Set   map[string]int64 `json:"set,omitempty"`
}

// rereadState is what a replica applied of a connector's rules.
type rereadState struct {
	ID      string           `json:"id"`
	Applied int              `json:"applied"`
	Marks   map[string]int64 `json:"marks"`
}

// mark raises marks (nil: none yet) to the highest offset held of every stream whose records
// rule writes again, and returns them.
func (rule rereadRule) mark(marks map[string]int64, p kafka.Pipeline, held map[string]int64) map[string]int64 {
	for stream, highest := range held {
		if rule.again(p, stream, highest) {
			if marks == nil {
				marks = map[string]int64{}
			}
			marks[stream] = max(marks[stream], highest)
		}
	}
	return marks
}

// again tells whether the records of stream up to highest are written again under rule.
func (rule rereadRule) again(p kafka.Pipeline, stream string, highest int64) bool {
	if rule.All {
		topic := stream[:strings.LastIndexByte(stream, '/')]
		if p.TopicsRegex != nil {
			return p.TopicsRegex.MatchString(topic) && topic != p.DeadLetterTopic
		}
		return slices.Contains(p.Topics, topic)
	}
	if slices.Contains(rule.Reset, stream) {
		return true
	}
	at, ok := rule.Set[stream]
	return ok && at <= highest
}

// addRereadRule appends rule to c's rules in the log and waits until this replica applied it.
func (s *Server) addRereadRule(c *connector, rule rereadRule) error {
	key := sharedKey(sharedRereadPrefix, c.Name)
	for {
		value, version := s.cluster.Log.Get(key)
		var rules rereadRules
		if value != nil {
			if err := json.Unmarshal(value, &rules); err != nil {
				return fmt.Errorf("connector %s: reread rules: %w", c.Name, err)
			}
		}
		if rules.ID == "" {
			rules.ID = strconv.FormatInt(time.Now().UnixNano(), 36)
		}
		rules.Rules = append(rules.Rules, rule)
		data, _ := json.Marshal(rules)
		err := s.sharedWrite(context.Background(), key, version, data)
		if !errors.Is(err, cluster.ErrConflict) {
			return err
		}
	}
}

// applyReread turns the rules of the log's value (nil: none) this replica has not applied yet
// into marks over what its sinks hold, keeps them in its data directory and gives them to the
// connector. An error leaves the rules unapplied.
func (s *Server) applyReread(name string, value []byte) error {
	r := s.reg
	var c *connector
	r.locked(func() { c = r.conns[name] })
	if c == nil {
		return nil // applied with the connector's definition
	}
	var rules rereadRules
	if value != nil {
		if err := json.Unmarshal(value, &rules); err != nil {
			return fmt.Errorf("connector %s: reread rules: %w", name, err)
		}
	}
	var local rereadState
	if err := r.store.loadSide(sharedRereadKind, name, &local); err != nil {
		return err
	}
	if local.ID != rules.ID { // another connector of that name, or none
		local = rereadState{ID: rules.ID}
	}
	if local.Applied < len(rules.Rules) {
		held, err := s.held(c)
		if err != nil {
			return fmt.Errorf("connector %s: %w", name, err)
		}
		marks := maps.Clone(local.Marks)
		for _, rule := range rules.Rules[local.Applied:] {
			marks = rule.mark(marks, c.pipeline, held)
		}
		local.Applied, local.Marks = len(rules.Rules), marks
		if err := r.store.saveSide(sharedRereadKind, name, local, false); err != nil {
			return err
		}
	}
	r.locked(func() { c.Reread = local.Marks })
	return nil
}

// sharedActiveTopics adds this replica's active topics of c to those in the log.
func (r *registry) sharedActiveTopics(c *connector, topics []string) error {
	if _, v := r.cluster.Log.Get(sharedKey(sharedConnectorPrefix, c.Name)); v == 0 && !c.fromFile {
		return nil // deleted meanwhile: its state is removed, not written again
	}
	key := sharedKey(sharedTopicsPrefix, c.Name)
	for range 10 {
		value, version := r.cluster.Log.Get(key)
		var logged []string
		if value != nil {
			if err := json.Unmarshal(value, &logged); err != nil {
				return err
			}
		}
		merged := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(logged), topics...))))
		if slices.Equal(merged, slices.Compact(slices.Sorted(slices.Values(logged)))) {
			return nil
		}
		data, _ := json.Marshal(merged)
		ctx, cancel := context.WithTimeout(context.Background(), sharedWriteTimeout)
		_, err := r.cluster.Log.Put(ctx, key, version, data)
		cancel()
		if !errors.Is(err, cluster.ErrConflict) {
			return err
		}
	}
	return errors.New("active topics: too many concurrent writers")
}

// sharedResetTopics empties c's active topics in the log.
func (s *Server) sharedResetTopics(c *connector) error {
	key := sharedKey(sharedTopicsPrefix, c.Name)
	for range 10 {
		_, version := s.cluster.Log.Get(key)
		if version == 0 {
			return nil
		}
		if err := s.sharedWrite(context.Background(), key, version, nil); !errors.Is(err, cluster.ErrConflict) {
			return err
		}
	}
	return errors.New("active topics: too many concurrent writers")
}

// Task states in the status topic: each member publishes, under "connectors/<name>", the
// states of the tasks it runs.
type publishedTasks struct {
	Worker string                   `json:"worker"`
	Tasks  map[string]publishedTask `json:"tasks"` // by task id
}

type publishedTask struct {
	State string `json:"state"`
	Trace string `json:"trace,omitempty"`
}

// statusInterval is how often a member looks for changed task states to publish.
const statusInterval = time.Second

func (s *Server) kickStatus() {
	select {
	case s.statusKick <- struct{}{}:
	default:
	}
}

// publishStatuses publishes this member's task states whenever they change, until ctx ends;
// then it removes them, bounded by done.
func (s *Server) publishStatuses(ctx context.Context) {
	// What this member published before a crash counts as published: the states of tasks it
	// no longer runs are removed rather than left for the others to read.
	published := map[string][]byte{}
	s.reg.locked(func() {
		for name := range s.reg.conns {
			if data, ok := s.cluster.Statuses.Of(sharedStatusPrefix + url.PathEscape(name))[s.cluster.Self]; ok {
				published[name] = data
			}
		}
	})
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		now := s.localTasks()
		for name, data := range now {
			if string(published[name]) == string(data) {
				continue
			}
			if err := s.cluster.Statuses.Publish(ctx, sharedStatusPrefix+url.PathEscape(name), data); err != nil {
				if ctx.Err() == nil {
					s.reg.log.Warn("task states not published", "connector", name, "error", err)
				}
				continue
			}
			published[name] = data
		}
		for name := range published {
			if _, ok := now[name]; !ok {
				if err := s.cluster.Statuses.Remove(ctx, sharedStatusPrefix+url.PathEscape(name)); err == nil {
					delete(published, name)
				}
			}
		}
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for name := range published {
				_ = s.cluster.Statuses.Remove(rctx, sharedStatusPrefix+url.PathEscape(name))
			}
			return
		case <-tick.C:
		case <-s.statusKick:
		}
	}
}

// localTasks are the states of the tasks this member runs, by connector, as published.
func (s *Server) localTasks() map[string][]byte {
	out := map[string][]byte{}
	s.reg.locked(func() {
		for name, c := range s.reg.conns {
			tasks := s.reg.localTaskStates(c)
			if len(tasks) == 0 {
				continue
			}
			data, _ := json.Marshal(publishedTasks{Worker: s.worker, Tasks: tasks})
			out[name] = data
		}
	})
	return out
}

// localTaskStates are the states of c's tasks this replica runs; r.mu is held.
func (r *registry) localTaskStates(c *connector) map[string]publishedTask {
	if c.Target != stateRunning || c.consumer == nil || c.cancel == nil {
		if c.Target == stateRunning && c.startErr != nil {
			out := map[string]publishedTask{}
			for _, id := range c.assigned {
				out[strconv.Itoa(id)] = publishedTask{State: stateFailed, Trace: c.startErr.Error()}
			}
			return out
		}
		return nil
	}
	out := map[string]publishedTask{}
	st, _ := c.consumer.State()
	states := c.consumer.TaskStates()
	for _, id := range c.consumer.Tasks() {
		t := publishedTask{State: stateRunning}
		if st == kafka.StateFailed {
			t.State = string(states[id].State)
			if states[id].Err != nil {
				t.Trace = states[id].Err.Error()
			}
		}
		out[strconv.Itoa(id)] = t
	}
	return out
}

// clusterStatus is c's ConnectorStateInfo across the cluster: each task as the member running
// it published it, this member's own from its consumer; r.mu is held.
func (s *Server) clusterStatus(r *http.Request, c *connector) connectorStatus {
	members := s.cluster.Members()
	owner := ownerOf(c.Name, members, 0)
	out := connectorStatus{Name: c.Name, Type: "sink", Connector: stateInfo{State: c.Target, WorkerID: owner.Worker}}
	if c.Target == stateStopped {
		out.Tasks = []taskState{}
		return out
	}
	reports := map[string]map[string]publishedTask{} // member → task id → state
	workers := map[string]string{}
	live := map[string]bool{}
	for _, m := range members {
		live[m.Name] = true
	}
	for member, data := range s.cluster.Statuses.Of(sharedStatusPrefix + url.PathEscape(c.Name)) {
		var p publishedTasks
		if !live[member] || member == s.cluster.Self || json.Unmarshal(data, &p) != nil {
			continue
		}
		reports[member], workers[member] = p.Tasks, p.Worker
	}
	reports[s.cluster.Self], workers[s.cluster.Self] = s.reg.localTaskStates(c), s.worker
	for id := range c.pipeline.TasksMax {
		m := ownerOf(c.Name, members, id)
		t := taskState{ID: id, stateInfo: stateInfo{State: stateUnassigned, WorkerID: m.Worker}}
		if c.Target == statePaused {
			t.State = statePaused
		} else if p, ok := reports[m.Name][strconv.Itoa(id)]; ok {
			t.State, t.Trace = p.State, redact(r, c.Config, p.Trace)
		} else { // moving between members: the one still running it
			for _, name := range slices.Sorted(maps.Keys(reports)) {
				if p, ok := reports[name][strconv.Itoa(id)]; ok {
					t.State, t.WorkerID, t.Trace = p.State, workers[name], redact(r, c.Config, p.Trace)
					break
				}
			}
		}
		out.Tasks = append(out.Tasks, t)
	}
	if c.Target == stateRunning && c.startErr == nil && !slices.ContainsFunc(out.Tasks, func(t taskState) bool { return t.State != stateUnassigned }) {
		out.Connector.State = stateUnassigned
	}
	return out
}

// stoppedTimeout bounds the wait for the other replicas to stop a connector's tasks.
const stoppedTimeout = 15 * time.Second

// awaitStoppedEverywhere waits until no other live member publishes running tasks of c, or
// stoppedTimeout passes: the group's offsets move only once its members have left.
func (s *Server) awaitStoppedEverywhere(c *connector) {
	key := sharedStatusPrefix + url.PathEscape(c.Name)
	for deadline := time.Now().Add(stoppedTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		live := map[string]bool{}
		for _, m := range s.cluster.Members() {
			live[m.Name] = m.Name != s.cluster.Self
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(s.cluster.Statuses.Of(key))), func(m string) bool { return live[m] }) {
			return
		}
	}
}
