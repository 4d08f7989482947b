package connect

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
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
	p, warnings, err := s.tr.pipeline(cfg)
	if err != nil {
		return connectorInfo{}, false, invalidConfig(keyErrors(err))
	}
	if why := s.cfg.collision(name, p.GroupID); why != "" {
		return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s %s", name, why)
	}
	for _, w := range warnings {
		s.reg.log.Warn("connector key", "connector", name, "warning", w)
	}
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	old, exists := s.reg.conns[name]
	if exists && mustBeNew {
		return connectorInfo{}, false, errorf(http.StatusConflict, "Connector %s already exists", name)
	}
	c := &connector{Name: name, Config: cfg, Target: initial, pipeline: p}
	if exists {
		c.Target, c.Reread = old.Target, old.Reread
	} else if err := s.reg.store.saveSide(topicsKind, name, nil, true); err != nil { // a namesake's, left by a file
		return connectorInfo{}, false, fmt.Errorf("save connector %s: %w", name, err)
	}
	if err := s.reg.store.save(c); err != nil {
		return connectorInfo{}, false, fmt.Errorf("save connector %s: %w", name, err)
	}
	if exists {
		s.reg.halt(old)
		c.Topics = old.Topics // its consumer has stopped: nothing adds to them any more
	}
	s.reg.conns[name] = c
	if c.Target == stateRunning {
		s.reg.start(c)
	}
	return s.infoOf(c), !exists, nil
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

// status is c's ConnectorStateInfo; the registry's lock is held. The tasks are the members of
// one consumer, which stops as a whole when a task fails: each task says why it stopped.
func (s *Server) status(c *connector) connectorStatus {
	state, tasks := s.reg.status(c)
	out := connectorStatus{Name: c.Name, Type: "sink", Tasks: make([]taskState, len(tasks)),
		Connector: stateInfo{State: state, WorkerID: s.worker}}
	if state == stateFailed {
		out.Connector.State = stateRunning // the connector runs; its tasks failed
	}
	for i, t := range tasks {
		out.Tasks[i] = taskState{ID: i, stateInfo: stateInfo{State: t.state, WorkerID: s.worker, Trace: t.trace}}
	}
	return out
}
