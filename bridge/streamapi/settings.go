package streamapi

import (
	"errors"
	"net/http"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/sink"
)

type settingsBody struct {
	ChangeDescription string         `json:"changeDescription,omitempty"`
	Settings          []settingPatch `json:"settings"`
}

type settingPatch struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// readPatch decodes a settings PATCH and validates it as a user patch: a bad value is a 400
// with one line per key, a protected key a 403.
func readPatch(c *call) (sink.Patch, sink.Change, error) {
	var b settingsBody
	if err := decode(c.r, &b); err != nil {
		return nil, sink.Change{}, err
	}
	if b.Settings == nil {
		return nil, sink.Change{}, missingField("settings")
	}
	change := c.change(b.ChangeDescription, "Updated settings.")
	p := sink.Patch{}
	for _, kv := range b.Settings {
		p[kv.Key] = kv.Value
	}
	err := p.Validate(false)
	var pke *sink.ProtectedKeyError
	switch {
	case errors.As(err, &pke):
		return nil, change, httperr.New(http.StatusForbidden, "stream.api.forbidden", "%s", httperr.Sentence(pke.Error()))
	case err != nil:
		return nil, change, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Invalid settings:\n%s", err.Error())
	}
	return p, change, nil
}

func (s *Server) sourceSettings(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, SettingsResult{Settings: sink.DescribeSettings(nil, src.Settings)}, nil
}

func (s *Server) patchSourceSettings(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	p, change, err := readPatch(c)
	if err != nil {
		return 0, nil, err
	}
	src.Settings, src.Change = src.Settings.Merge(p), change
	return s.putSourceTask(c, "api.update.sourceSettings", "Source settings have been updated successfully.", src)
}

func (s *Server) sinkSettings(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	views, err := s.m.SinkSettings(def.Key)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, SettingsResult{Settings: views}, nil
}

func (s *Server) patchSinkSettings(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	p, change, err := readPatch(c)
	if err != nil {
		return 0, nil, err
	}
	def.Settings, def.Change = def.Settings.Merge(p), change
	return s.putSinkTask(c, "api.update.sinkSettings", "Sink settings have been updated successfully.", def, nil)
}
