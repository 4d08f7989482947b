package streamapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// SourceView is a source as the API shows it.
type SourceView struct {
	ProjectID   int64         `json:"projectId"`
	BranchID    int64         `json:"branchId"`
	SourceID    string        `json:"sourceId"`
	Type        string        `json:"type"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	HTTP        *HTTPView     `json:"http,omitempty"`
	Version     VersionView   `json:"version"`
	Created     EventView     `json:"created"`
	Deleted     *EventView    `json:"deleted,omitempty"`
	Disabled    *DisabledView `json:"disabled,omitempty"`
}

// HTTPView holds the intake URL of an http source.
type HTTPView struct {
	URL string `json:"url"`
}

// VersionView is one version of an entity: the current one in an entity, or one of the list.
type VersionView struct {
	Number      int        `json:"number"`
	Hash        string     `json:"hash"`
	Description string     `json:"description"`
	At          string     `json:"at"`
	By          sink.Actor `json:"by"`
}

// EventView is when and by whom an entity was created or deleted.
type EventView struct {
	At string     `json:"at"`
	By sink.Actor `json:"by"`
}

// DisabledView says the entity is disabled; At is the time of the change that disabled it.
type DisabledView struct {
	At     string     `json:"at"`
	By     sink.Actor `json:"by"`
	Reason string     `json:"reason"`
}

// SinkView is a sink as the API shows it.
type SinkView struct {
	ProjectID   int64         `json:"projectId"`
	BranchID    int64         `json:"branchId"`
	SourceID    string        `json:"sourceId"`
	SinkID      string        `json:"sinkId"`
	Type        string        `json:"type"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Table       TableView     `json:"table"`
	Version     VersionView   `json:"version"`
	Created     EventView     `json:"created"`
	Deleted     *EventView    `json:"deleted,omitempty"`
	Disabled    *DisabledView `json:"disabled,omitempty"`
}

// TableView is a table sink's destination and mapping.
type TableView struct {
	Type    string      `json:"type"`
	TableID string      `json:"tableId"`
	Mapping MappingView `json:"mapping"`
}

// MappingView holds the columns.
type MappingView struct {
	Columns []mapping.Column `json:"columns"`
}

// Page is Keboola's pagination object.
type Page struct {
	Limit      int    `json:"limit"`
	TotalCount int    `json:"totalCount"`
	AfterID    string `json:"afterId"`
	LastID     string `json:"lastId"`
}

// hiddenSecret stands for an http source's secret in the intake URL shown to a token that is not
// an admin's: the secret lets anyone write into the source's tables.
const hiddenSecret = "[hidden]"

// sourceView is src as a token sees it: only an admin (master) token reads the intake URL
// with its secret.
func (s *Server) sourceView(src sink.Source, admin bool) SourceView {
	v := SourceView{ProjectID: src.Key.ProjectID, BranchID: src.Key.BranchID, SourceID: src.Key.SourceID, Type: src.Type,
		Name: src.Name, Description: src.Description, Version: versionView(src.History), Created: createdView(src.History),
		Deleted: deletedView(src.History), Disabled: disabledView(src.Disabled, src.History)}
	if src.Type == "http" {
		secret := src.Secret
		if !admin {
			secret = hiddenSecret
		}
		v.HTTP = &HTTPView{URL: fmt.Sprintf("%s/stream/%d/%s/%s", s.cfg.IntakeURL, src.Key.ProjectID, src.Key.SourceID, secret)}
	}
	return v
}

func sinkView(def sink.Sink) SinkView {
	v := SinkView{ProjectID: def.Key.ProjectID, BranchID: def.Key.BranchID, SourceID: def.Key.SourceID, SinkID: def.Key.SinkID,
		Type: "table", Name: def.Name, Description: def.Description,
		Table:   TableView{Type: "keboola", TableID: def.TableID, Mapping: MappingView{Columns: def.Columns}},
		Version: versionView(def.History), Created: createdView(def.History),
		Deleted: deletedView(def.History), Disabled: disabledView(def.Disabled, def.History)}
	if v.Table.Mapping.Columns == nil {
		v.Table.Mapping.Columns = []mapping.Column{}
	}
	return v
}

func formatTime(t time.Time) string { return t.UTC().Format(sink.TimeFormat) }

// versionView shows a version; definitions stored before versions were described are
// described as made by kbridge.
func versionView(h sink.History) VersionView {
	v := VersionView{Number: h.Version, Hash: h.Change.Hash, Description: h.Change.Description, At: formatTime(h.Updated), By: h.Change.By}
	if v.By.Type == "" {
		v.By = sink.System
	}
	return v
}

func eventView(e sink.Event) EventView {
	if e.By.Type == "" {
		e.By = sink.System
	}
	return EventView{At: formatTime(e.At), By: e.By}
}

// createdView shows the creation; a definition stored before creations were recorded shows
// the time of its current version.
func createdView(h sink.History) EventView {
	e := h.Created
	if e.At.IsZero() {
		e.At = h.Updated
	}
	return eventView(e)
}

func deletedView(h sink.History) *EventView {
	if !h.Deleted || h.DeletedAt == nil {
		return nil
	}
	v := eventView(*h.DeletedAt)
	return &v
}

func disabledView(disabled bool, h sink.History) *DisabledView {
	if !disabled {
		return nil
	}
	v := versionView(h)
	return &DisabledView{At: v.At, By: v.By, Reason: "API"}
}

func (s *Server) sourceURL(k sink.SourceKey) string {
	return fmt.Sprintf("%s/v1/branches/%d/sources/%s", s.cfg.PublicURL, k.BranchID, k.SourceID)
}

func (s *Server) sinkURL(k sink.SinkKey) string {
	return s.sourceURL(k.SourceKey) + "/sinks/" + k.SinkID
}

// paginate returns the ids after afterId, at most limit, from ids sorted ascending.
func paginate[T any](q url.Values, items []T, id func(T) string) ([]T, Page, error) {
	p := Page{AfterID: q.Get("afterId"), TotalCount: len(items)}
	var err error
	if p.Limit, err = pageLimit(q); err != nil {
		return nil, p, err
	}
	out := make([]T, 0, min(len(items), p.Limit))
	for _, it := range items {
		if id(it) > p.AfterID && len(out) < p.Limit {
			out = append(out, it)
		}
	}
	if len(out) > 0 {
		p.LastID = id(out[len(out)-1])
	}
	return out, p, nil
}

// pageLimit reads the limit query parameter: 1 to 100, 100 when absent.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, httperr.New(http.StatusBadRequest, "stream.api.invalidRange", "limit must be between 1 and 100, got %q.", v)
	}
	return n, nil
}

func notFoundSource(k sink.SourceKey) error {
	return httperr.New(http.StatusNotFound, "stream.api.sourceNotFound", "Source %q not found.", k.SourceID)
}

func notFoundSink(k sink.SinkKey) error {
	return httperr.New(http.StatusNotFound, "stream.api.sinkNotFound", "Sink %q not found.", k.SinkID)
}
