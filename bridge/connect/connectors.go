package connect

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/kbridge/kbridge/sink"
)

// put creates or replaces a connector; an existing one keeps its target state. The config is
// checked first: an invalid one answers 400 in Connect's words and changes nothing.
func (s *Server) put(name string, cfg map[string]string, mustBeNew bool, initial string) (connectorInfo, bool, error) {
	cfg = maps.Clone(cfg)
	if n, ok := cfg["name"]; ok && strings.TrimSpace(n) != name {
		return connectorInfo{}, false, errorf(http.StatusBadRequest,
			"Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	cfg["name"] = name
	if _, err := checkClass(cfg); err != nil {
		return connectorInfo{}, false, err
	}
	p, warnings, err := s.tr.pipeline(cfg)
	if err != nil {
		return connectorInfo{}, false, invalidConfig(keyErrors(err))
	}
	if s.tr.sources != nil { // a connector whose records have nowhere to go is refused, not left to fail
		if _, ok := s.tr.sources.Source(sink.SourceKey{ProjectID: s.tr.projectID, BranchID: s.tr.branchID, SourceID: p.Source}); !ok {
			return connectorInfo{}, false, invalidConfig([]keyError{{key: "kbridge.source", msg: fmt.Sprintf("source %q not found", p.Source)}})
		}
	}
	if why := s.cfg.collision(name, p.GroupID); why != "" {
		return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s %s", name, why)
	}
	for _, w := range warnings {
		s.reg.log.Warn("connector key", "connector", name, "warning", w)
	}
	if s.cluster != nil {
		return s.sharedPut(name, cfg, mustBeNew, initial)
	}
	for {
		s.reg.mu.Lock()
		old, exists := s.reg.conns[name]
		s.reg.mu.Unlock()
		if exists && mustBeNew {
			return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s already exists", name)
		}
		if exists {
			old.op.Lock()
		}
		info, done, err := s.replace(name, old, &connector{Name: name, Config: cfg, Target: initial, pipeline: p})
		if exists {
			old.op.Unlock()
		}
		if !done {
			continue // created, replaced or deleted meanwhile: look again
		}
		return info, !exists, err
	}
}

// replace puts c in the place of old (nil when there is none), if old is still the connector
// of that name; done is false when it is not. old's op lock is held; old's consumer is stopped
// and c's started without holding the registry's lock across the stop.
func (s *Server) replace(name string, old, c *connector) (info connectorInfo, done bool, err error) {
	c.op.Lock()
	defer c.op.Unlock()
	var stopped <-chan struct{}
	s.reg.locked(func() {
		if s.reg.conns[name] != old {
			return
		}
		done = true
		if old != nil {
			c.Target, c.Reread = old.Target, old.Reread
		} else if err = s.reg.store.saveSide(topicsKind, name, nil, true); err != nil { // a namesake's, left by a file
			err = fmt.Errorf("save connector %s: %w", name, err)
			return
		}
		if err = s.reg.store.save(c); err != nil {
			err = fmt.Errorf("save connector %s: %w", name, err)
			return
		}
		if old != nil {
			stopped = s.reg.halt(old)
		}
		s.reg.conns[name] = c
	})
	if !done || err != nil {
		return connectorInfo{}, done, err
	}
	if stopped != nil {
		<-stopped
	}
	s.reg.locked(func() {
		if old != nil {
			old.topicsMu.Lock()
			c.Topics = old.Topics // its consumer has stopped: nothing adds to them any more
			old.topicsMu.Unlock()
		}
		if c.Target == stateRunning {
			s.reg.start(c)
		}
		info = s.infoOf(c)
	})
	return info, true, nil
}

// infoOf is c's ConnectorInfo; the registry's lock is held.
func (s *Server) infoOf(c *connector) connectorInfo {
	_, states := s.reg.status(c)
	tasks := make([]taskID, len(states))
	for i := range tasks {
		tasks[i] = taskID{Connector: c.Name, Task: i}
	}
	return connectorInfo{Name: c.Name, Config: c.Config, Tasks: tasks, Type: "sink"}
}

// infoFor is c's ConnectorInfo as the caller of r may see it (secrets masked); the
// registry's lock is held.
func (s *Server) infoFor(r *http.Request, c *connector) connectorInfo {
	info := s.infoOf(c)
	info.Config = masked(r, info.Config)
	return info
}

// status is c's ConnectorStateInfo, a trace quoting a secret redacted for the caller of r; the
// registry's lock is held. The tasks are the members of one consumer, which stops as a whole
// when a task fails: each task says why it stopped.
func (s *Server) status(r *http.Request, c *connector) connectorStatus {
	if s.cluster != nil {
		return s.clusterStatus(r, c)
	}
	state, tasks := s.reg.status(c)
	out := connectorStatus{Name: c.Name, Type: "sink", Tasks: make([]taskState, len(tasks)),
		Connector: stateInfo{State: state, WorkerID: s.worker}}
	if state == stateFailed {
		out.Connector.State = stateRunning // the connector runs; its tasks failed
	}
	for i, t := range tasks {
		out.Tasks[i] = taskState{ID: i, stateInfo: stateInfo{State: t.state, WorkerID: s.worker, Trace: redact(r, c.Config, t.trace)}}
	}
	return out
}
