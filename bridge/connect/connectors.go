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
		return connectorInfo{}, false, errorf(http.StatusBadRequest, "Connector configuration is invalid and contains the following 1 error(s):\n%v\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`", err)
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
		c.Target = old.Target
	}
	if err := s.reg.store.save(c); err != nil {
		return connectorInfo{}, false, fmt.Errorf("save connector %s: %w", name, err)
	}
	if exists {
		s.reg.halt(old)
	}
	s.reg.conns[name] = c
	if c.Target == stateRunning {
		s.reg.start(c)
	}
	return s.infoOf(c), !exists, nil
}

// infoOf is c's ConnectorInfo; the registry's lock is held.
func (s *Server) infoOf(c *connector) connectorInfo {
	_, _, n := s.reg.status(c)
	tasks := make([]taskID, n)
	for i := range tasks {
		tasks[i] = taskID{Connector: c.Name, Task: i}
	}
	return connectorInfo{Name: c.Name, Config: c.Config, Tasks: tasks, Type: "sink"}
}

// status is c's ConnectorStateInfo; the registry's lock is held. The tasks are one consumer
// group, so they share the connector's state and trace.
func (s *Server) status(c *connector) connectorStatus {
	state, trace, n := s.reg.status(c)
	out := connectorStatus{Name: c.Name, Type: "sink", Tasks: make([]taskState, n),
		Connector: stateInfo{State: state, WorkerID: s.worker, Trace: trace}}
	if state == stateFailed {
		out.Connector.State, out.Connector.Trace = stateRunning, "" // the connector runs; its tasks failed
	}
	for i := range out.Tasks {
		out.Tasks[i] = taskState{ID: i, stateInfo: stateInfo{State: state, WorkerID: s.worker, Trace: trace}}
	}
	return out
}
