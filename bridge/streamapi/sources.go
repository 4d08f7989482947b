package streamapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/sink"
)

// maxSourcesPerBranch is Keboola's limit.
const maxSourcesPerBranch = 100

type sourceBody struct {
	SourceID          *string `json:"sourceId"`
	Type              *string `json:"type"`
	Name              *string `json:"name"`
	Description       *string `json:"description"`
	ChangeDescription string  `json:"changeDescription,omitempty"`
}

// validate checks the fields present; create requires name and type.
func (b *sourceBody) validate(create bool) error {
	if create && b.Name == nil {
		return missingField("name")
	}
	if create && b.Type == nil {
		return missingField("type")
	}
	if err := checkLength("name", b.Name, 1, 40); err != nil {
		return err
	}
	if err := checkLength("description", b.Description, 0, 4096); err != nil {
		return err
	}
	if b.Type != nil && *b.Type != "http" {
		if *b.Type == "otlp" {
			return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Source type \"otlp\" is not supported by kbridge.")
		}
		return httperr.New(http.StatusBadRequest, "stream.api.invalidEnumValue", "body.type must be one of [\"http\", \"otlp\"] but got value %q.", *b.Type)
	}
	return nil
}

func missingField(name string) error {
	return httperr.New(http.StatusBadRequest, "stream.api.missingField", "%q is missing from body.", name)
}

func checkLength(field string, v *string, lo, hi int) error {
	if v == nil {
		return nil
	}
	n := len([]rune(*v))
	switch {
	case n < lo:
		return httperr.New(http.StatusBadRequest, "stream.api.invalidLength",
			"Length of body.%s must be greater or equal than %d but got value %q (len=%d).", field, lo, *v, n)
	case n > hi:
		return httperr.New(http.StatusBadRequest, "stream.api.invalidLength",
			"Length of body.%s must be lesser or equal than %d but got value %q (len=%d).", field, hi, *v, n)
	}
	return nil
}

func (s *Server) createSource(c *call) (int, any, error) {
	var b sourceBody
	if err := decode(c.r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(true); err != nil {
		return 0, nil, err
	}
	id := normalizeID(*b.Name)
	if b.SourceID != nil {
		id = normalizeID(*b.SourceID)
	}
	if err := checkID(id, "sourceId"); err != nil {
		return 0, nil, err
	}
	k := sink.SourceKey{ProjectID: c.token.ProjectID, BranchID: c.branch, SourceID: id}
	if _, ok := s.m.Source(k); ok {
		return 0, nil, httperr.New(http.StatusConflict, "stream.api.sourceAlreadyExists", "Source %q already exists in the branch.", id)
	}
	if len(s.branchSources(c)) >= maxSourcesPerBranch {
		return 0, nil, httperr.New(http.StatusUnprocessableEntity, "stream.api.resourceLimitReached",
			"Maximum number of sources per branch is %d.", maxSourcesPerBranch)
	}
	src := sink.Source{Key: k, Type: "http", Name: *b.Name, Secret: newSecret()}
	src.Change = c.change(b.ChangeDescription, "New source.")
	if b.Description != nil {
		src.Description = *b.Description
	}
	err := s.m.CreateSource(src)
	if errors.Is(err, sink.ErrConflict) { // another replica created it meanwhile
		return 0, nil, httperr.New(http.StatusConflict, "stream.api.sourceAlreadyExists", "Source %q already exists in the branch.", id)
	}
	return s.runTask(c, "api.create.source", s.objectPath(k, ""), func() (string, *TaskOutputs, error) {
		return "Source has been created successfully.", s.sourceOutputs(k), err
	})
}

func (s *Server) objectPath(k sink.SourceKey, sinkID string) string {
	p := fmt.Sprintf("%d/%s", k.BranchID, k.SourceID)
	if sinkID != "" {
		p += "/" + sinkID
	}
	return p
}

func (s *Server) sourceOutputs(k sink.SourceKey) *TaskOutputs {
	return &TaskOutputs{URL: s.sourceURL(k), ProjectID: k.ProjectID, BranchID: k.BranchID, SourceID: k.SourceID}
}

// branchSources lists the sources of the call's project and branch, ordered by id.
func (s *Server) branchSources(c *call) []sink.Source {
	var out []sink.Source
	for _, src := range s.m.Sources() {
		if src.Key.ProjectID == c.token.ProjectID && src.Key.BranchID == c.branch {
			out = append(out, src)
		}
	}
	slices.SortFunc(out, func(a, b sink.Source) int { return cmpString(a.Key.SourceID, b.Key.SourceID) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) listSources(c *call) (int, any, error) { return s.sourceList(c, s.branchSources(c)) }

// sourceList answers a page of sources ordered by id.
func (s *Server) sourceList(c *call, sources []sink.Source) (int, any, error) {
	items, page, err := paginate(c.r.URL.Query(), sources, func(src sink.Source) string { return src.Key.SourceID })
	if err != nil {
		return 0, nil, err
	}
	views := make([]SourceView, 0, len(items))
	for _, src := range items {
		views = append(views, s.sourceView(src, c.token.Admin))
	}
	return http.StatusOK, SourceList{ProjectID: c.token.ProjectID, BranchID: c.branch, Page: page, Sources: views}, nil
}

// source returns the call's source or a 404.
func (s *Server) source(c *call) (sink.Source, error) {
	k := c.sourceKey()
	src, ok := s.m.Source(k)
	if !ok {
		return sink.Source{}, notFoundSource(k)
	}
	return src, nil
}

func (s *Server) getSource(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.sourceView(src, c.token.Admin), nil
}

func (s *Server) updateSource(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	var b sourceBody
	if err := decode(c.r, &b); err != nil {
		return 0, nil, err
	}
	if b.SourceID != nil {
		return 0, nil, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "sourceId cannot be changed.")
	}
	if err := b.validate(false); err != nil {
		return 0, nil, err
	}
	if b.Name != nil {
		src.Name = *b.Name
	}
	if b.Description != nil {
		src.Description = *b.Description
	}
	src.Change = c.change(b.ChangeDescription, "Updated.")
	return s.putSourceTask(c, "api.update.source", "Source has been updated successfully.", src)
}

func (s *Server) putSourceTask(c *call, typ, result string, src sink.Source) (int, any, error) {
	return s.runTask(c, typ, s.objectPath(src.Key, ""), func() (string, *TaskOutputs, error) {
		return result, s.sourceOutputs(src.Key), s.m.PutSource(src)
	})
}

// deleteSource deletes the source and its sinks (soft: they can be undeleted, and the id can
// be created again); the sinks' waiting data is still imported.
func (s *Server) deleteSource(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	return s.runTask(c, "api.delete.source", s.objectPath(src.Key, ""), func() (string, *TaskOutputs, error) {
		return "Source has been deleted successfully.", s.sourceOutputs(src.Key), s.m.DeleteSource(src.Key, c.actor())
	})
}

func (s *Server) enableSource(enable bool) endpoint {
	typ, result, desc := "api.disable.source", "Source has been disabled successfully.", "Disabled."
	if enable {
		typ, result, desc = "api.enable.source", "Source has been enabled successfully.", "Enabled."
	}
	return func(c *call) (int, any, error) {
		src, err := s.source(c)
		if err != nil {
			return 0, nil, err
		}
		src.Disabled, src.Change = !enable, c.change("", desc)
		return s.putSourceTask(c, typ, result, src)
	}
}

func (s *Server) rotateSecret(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	src.Secret, src.Change = newSecret(), c.change("", "Rotated secret.")
	if err := s.m.PutSource(src); err != nil {
		return 0, nil, err
	}
	s.onChange()
	src, _ = s.m.Source(src.Key)
	return http.StatusOK, s.sourceView(src, c.token.Admin), nil
}
