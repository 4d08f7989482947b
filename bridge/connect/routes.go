package connect

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	bodies := map[string]bool{} // routes that read a request body
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	body := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		bodies[pattern] = true
		handle(pattern, h)
	}
	handle("GET /{$}", s.serverInfo)
	handle("GET /health", s.health)
	handle("GET /connectors", s.list)
	body("POST /connectors", s.create)
	handle("GET /connectors/{name}", s.info)
	handle("DELETE /connectors/{name}", s.remove)
	handle("GET /connectors/{name}/config", s.config)
	body("PUT /connectors/{name}/config", s.putConfig)
	body("PATCH /connectors/{name}/config", s.patchConfig)
	handle("GET /connectors/{name}/status", s.statusOf)
	handle("GET /connectors/{name}/tasks", s.tasks)
	handle("GET /connectors/{name}/tasks-config", s.tasksConfig)
	handle("GET /connectors/{name}/tasks/{id}/status", s.taskStatus)
	handle("POST /connectors/{name}/restart", s.restart)
	handle("POST /connectors/{name}/tasks/{id}/restart", s.restartTask)
	handle("PUT /connectors/{name}/pause", s.lifecycle(statePaused, http.StatusAccepted))
	handle("PUT /connectors/{name}/resume", s.lifecycle(stateRunning, http.StatusAccepted))
	handle("PUT /connectors/{name}/stop", s.lifecycle(stateStopped, http.StatusNoContent))
	handle("GET /connectors/{name}/topics", s.topics)
	handle("PUT /connectors/{name}/topics/reset", s.resetTopics)
	handle("GET /connectors/{name}/offsets", s.offsets)
	body("PATCH /connectors/{name}/offsets", s.alterOffsets)
	handle("DELETE /connectors/{name}/offsets", s.resetOffsets)
	handle("GET /connector-plugins", s.plugins)
	handle("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	body("PUT /connector-plugins/{plugin}/config/validate", s.validate)
	handle("GET /admin/loggers", s.loggers)
	handle("GET /admin/loggers/{logger}", s.logger)
	body("PUT /admin/loggers/{logger}", s.setLoggerLevel)
	return s.cfg.Auth.authenticate(conform(mux, bodies))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	names := slices.Sorted(maps.Keys(s.reg.conns))
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, append([]string{}, names...))
		return nil
	}
	out := map[string]map[string]any{}
	for _, name := range names {
		c, item := s.reg.conns[name], map[string]any{}
		if slices.Contains(expand, "status") {
			item["status"] = s.status(r, c)
		}
		if slices.Contains(expand, "info") {
			item["info"] = s.infoFor(r, c)
		}
		out[name] = item
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		if e, ok := err.(*apiError); ok {
			return e
		}
		return errorf(http.StatusBadRequest, "Invalid JSON body: %v", err)
	}
	name := strings.TrimSpace(req.Name) // an empty name is refused by the name check, as in Connect
	if req.Config == nil {
		return errorf(http.StatusBadRequest, "Connector config cannot be empty")
	}
	if err := unmask(req.Config, nil); err != nil {
		return err
	}
	initial := strings.ToUpper(req.InitialState)
	switch initial {
	case "":
		initial = stateRunning
	case stateRunning, statePaused, stateStopped:
	default:
		return errorf(http.StatusBadRequest, "initial_state: must be RUNNING, PAUSED or STOPPED, got %q", req.InitialState)
	}
	info, _, err := s.put(name, req.Config, true, initial)
	if err != nil {
		return err
	}
	info.Config = masked(r, info.Config)
	w.Header().Set("Location", location(r, name))
	writeJSON(w, http.StatusCreated, info)
	return nil
}

// location is the absolute URL of connector name, its name percent-encoded as a path segment,
// as JAX-RS builds Connect's Location header.
func location(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/connectors/" + name}
	return u.String()
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	return s.withConnector(r, func(c *connector) error {
		writeJSON(w, http.StatusOK, s.infoFor(r, c))
		return nil
	})
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) error {
	return s.withConnector(r, func(c *connector) error {
		writeJSON(w, http.StatusOK, masked(r, c.Config))
		return nil
	})
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) error {
	cfg, err := decodeConfig(r.Body)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	s.reg.mu.Lock()
	if c, ok := s.reg.conns[name]; ok {
		err = unmask(cfg, c.Config)
	} else {
		err = unmask(cfg, nil)
	}
	s.reg.mu.Unlock()
	if err != nil {
		return err
	}
	info, created, err := s.put(name, cfg, false, stateRunning)
	if err != nil {
		return err
	}
	info.Config = masked(r, info.Config)
	if created {
		w.Header().Set("Location", location(r, name))
		writeJSON(w, http.StatusCreated, info)
	} else {
		writeJSON(w, http.StatusOK, info)
	}
	return nil
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) error {
	patch, err := decodeConfig(r.Body)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	s.reg.mu.Lock()
	c, ok := s.reg.conns[name]
	var cfg map[string]string
	if ok {
		cfg = maps.Clone(c.Config)
	}
	s.reg.mu.Unlock()
	if !ok {
		return missing(name)
	}
	if err := unmask(patch, cfg); err != nil {
		return err
	}
	for k, v := range patch {
		if v == deleted {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	info, _, err := s.put(name, cfg, false, stateRunning)
	if err != nil {
		return err
	}
	info.Config = masked(r, info.Config)
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) error {
	return s.operate(r, func(c *connector) error {
		if s.cluster != nil {
			if err := s.sharedRemove(c); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		s.reg.stop(c)
		var err error
		s.reg.locked(func() {
			if err = s.reg.store.remove(c); err == nil {
				delete(s.reg.conns, c.Name)
			}
		})
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// operate runs fn on the connector named in the path holding its op lock but not the
// registry's: fn may wait for the consumer to stop while other calls are answered. fn takes
// the registry's lock for what it reads or changes.
func (s *Server) operate(r *http.Request, fn func(c *connector) error) error {
	name := r.PathValue("name")
	for {
		s.reg.mu.Lock()
		c, ok := s.reg.conns[name]
		s.reg.mu.Unlock()
		if !ok {
			return missing(name)
		}
		c.op.Lock()
		s.reg.mu.Lock()
		current := s.reg.conns[name] == c
		s.reg.mu.Unlock()
		if current {
			defer c.op.Unlock()
			return fn(c)
		}
		c.op.Unlock() // replaced or deleted meanwhile: look it up again
	}
}

// withConnector runs fn on the connector named in the path under the registry's lock.
func (s *Server) withConnector(r *http.Request, fn func(c *connector) error) error {
	name := r.PathValue("name")
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	c, ok := s.reg.conns[name]
	if !ok {
		return missing(name)
	}
	return fn(c)
}

// missing is the 404 of a call naming a connector that does not exist, in the words most of
// Connect's calls use; asMissing rewords it for those that say it otherwise.
func missing(name string) *apiError {
	return &apiError{status: http.StatusNotFound, message: "Connector " + name + " not found", missing: true}
}

// asMissing rewords err when it is missing's 404.
func asMissing(err error, format string, args ...any) error {
	if e, ok := err.(*apiError); ok && e.missing {
		return errorf(http.StatusNotFound, format, args...)
	}
	return err
}
