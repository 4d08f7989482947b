package connect

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// loggers answers every logger's level and when it was last changed over the API (Connect's
// LoggingResource.listLoggers): "root" and one logger per kbridge component.
func (s *Server) loggers(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, s.deps.Loggers.All())
	return nil
}

func (s *Server) logger(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("logger")
	level, ok := s.deps.Loggers.Get(name)
	if !ok {
		return errorf(http.StatusNotFound, "Logger %s not found.", name)
	}
	writeJSON(w, http.StatusOK, level)
	return nil
}

// setLoggerLevel sets the level of a logger and those under it, with Connect's checks and
// messages. scope=worker (the default, and what any other scope falls back to) answers the
// loggers set; scope=cluster answers 204: kbridge's replicas share no log levels, so it is
// this worker's change, as in Connect's standalone mode.
func (s *Server) setLoggerLevel(w http.ResponseWriter, r *http.Request) error {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		return errorf(http.StatusBadRequest, "Invalid JSON body: %v", err)
	}
	raw, ok := body["level"]
	if !ok || raw == nil {
		return errorf(http.StatusBadRequest, "Desired 'level' parameter was not specified in request.")
	}
	level := text(raw)
	namespace := r.PathValue("logger")
	names, ok := s.deps.Loggers.Set(namespace, level)
	if !ok {
		return errorf(http.StatusNotFound, "invalid log level '%s'.", level)
	}
	scope := r.URL.Query().Get("scope")
	s.reg.log.Info("logger level set", "namespace", namespace, "level", strings.ToUpper(level), "scope", scope, "loggers", names)
	if strings.EqualFold(scope, "cluster") {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, append([]string{}, names...))
	return nil
}
