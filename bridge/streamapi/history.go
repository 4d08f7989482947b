package streamapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/sink"
)

// Deleted lists, undelete, versions and rollback, as Keboola's Stream API has them.

func (s *Server) listDeletedSources(c *call) (int, any, error) {
	var deleted []sink.Source
	for _, src := range s.m.DeletedSources() {
		if src.Key.ProjectID == c.token.ProjectID && src.Key.BranchID == c.branch {
			deleted = append(deleted, src)
		}
	}
	return s.sourceList(c, deleted)
}

func (s *Server) undeleteSource(c *call) (int, any, error) {
	k := c.sourceKey()
	found := false
	for _, src := range s.m.DeletedSources() {
		found = found || src.Key == k
	}
	if !found {
		return 0, nil, httperr.New(http.StatusNotFound, "stream.api.sourceNotFound", "Deleted source %q not found.", k.SourceID)
	}
	if len(s.branchSources(c)) >= maxSourcesPerBranch {
		return 0, nil, httperr.New(http.StatusUnprocessableEntity, "stream.api.resourceLimitReached",
			"Maximum number of sources per branch is %d.", maxSourcesPerBranch)
	}
	return s.runTask(c, "api.undelete.source", s.objectPath(k, ""), func() (string, *TaskOutputs, error) {
		return "Source has been undeleted successfully.", s.sourceOutputs(k), s.m.UndeleteSource(k, c.actor())
	})
}

func (s *Server) listDeletedSinks(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	defs, err := s.m.DeletedSinks(src.Key)
	if err != nil {
		return 0, nil, err
	}
	return s.sinkList(c, src.Key, defs)
}

func (s *Server) undeleteSink(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	k := c.sinkKey()
	defs, err := s.m.DeletedSinks(src.Key)
	if err != nil {
		return 0, nil, err
	}
	found := false
	for _, d := range defs {
		found = found || d.Key == k
	}
	if !found {
		return 0, nil, httperr.New(http.StatusNotFound, "stream.api.sinkNotFound", "Deleted sink %q not found.", k.SinkID)
	}
	return s.runTask(c, "api.undelete.sink", s.objectPath(k.SourceKey, k.SinkID), func() (string, *TaskOutputs, error) {
		return "Sink has been undeleted successfully.", s.sinkOutputs(k), s.m.UndeleteSink(k, c.actor())
	})
}

// versionList answers a page of versions, oldest first; afterId and lastId are version numbers.
func versionList[T any](c *call, versions []T, history func(T) sink.History) (int, any, error) {
	q := c.r.URL.Query()
	limit, err := pageLimit(q)
	if err != nil {
		return 0, nil, err
	}
	after := 0
	if a := q.Get("afterId"); a != "" {
		if after, err = strconv.Atoi(a); err != nil || after < 0 {
			return 0, nil, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "afterId must be a version number, got %q.", a)
		}
	}
	page := Page{Limit: limit, TotalCount: len(versions), AfterID: q.Get("afterId")}
	views := make([]VersionView, 0, min(len(versions), limit))
	for _, v := range versions {
		if h := history(v); h.Version > after && len(views) < limit {
			views = append(views, versionView(h))
		}
	}
	if len(views) > 0 {
		page.LastID = strconv.Itoa(views[len(views)-1].Number)
	}
	return http.StatusOK, VersionList{Versions: views, Page: page}, nil
}

// version returns the version numbered by the path, or a 404 naming what.
func version[T any](c *call, versions []T, history func(T) sink.History, what, id string) (T, error) {
	var zero T
	n, err := strconv.Atoi(c.r.PathValue("number"))
	if err == nil {
		for _, v := range versions {
			if history(v).Version == n {
				return v, nil
			}
		}
	}
	return zero, httperr.New(http.StatusNotFound, "stream.api."+what+"VersionNotFound", "Version %q of %s %q not found.",
		c.r.PathValue("number"), what, id)
}

func sourceHistory(s sink.Source) sink.History { return s.History }
func sinkHistory(s sink.Sink) sink.History     { return s.History }

func (s *Server) sourceVersions(c *call) ([]sink.Source, error) {
	k := c.sourceKey()
	versions, err := s.m.SourceVersions(k)
	if errors.Is(err, sink.ErrSourceNotFound) {
		return nil, notFoundSource(k)
	}
	return versions, err
}

func (s *Server) sinkVersions(c *call) ([]sink.Sink, error) {
	def, err := s.sink(c)
	if err != nil {
		return nil, err
	}
	return s.m.SinkVersions(def.Key)
}

// listVersions serves the versions list of the entities load reads.
func listVersions[T any](load func(*call) ([]T, error), history func(T) sink.History) endpoint {
	return func(c *call) (int, any, error) {
		versions, err := load(c)
		if err != nil {
			return 0, nil, err
		}
		return versionList(c, versions, history)
	}
}

// versionDetail serves one version of the entities load reads.
func versionDetail[T any](load func(*call) ([]T, error), history func(T) sink.History, what string) endpoint {
	return func(c *call) (int, any, error) {
		v, err := pickVersion(c, load, history, what)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, versionView(history(v)), nil
	}
}

// pickVersion reads the entity's versions and returns the one numbered by the path.
func pickVersion[T any](c *call, load func(*call) ([]T, error), history func(T) sink.History, what string) (T, error) {
	versions, err := load(c)
	if err != nil {
		var zero T
		return zero, err
	}
	id := c.r.PathValue("sinkId")
	if what == "source" {
		id = c.r.PathValue("sourceId")
	}
	return version(c, versions, history, what, id)
}

func rollbackDescription(n int) string {
	return fmt.Sprintf("Rollback to version %q.", strconv.Itoa(n))
}

// rollbackSource makes a version's content the source's next version; the secret and the
// disabled state stay as they are (as in Keboola, a rollback does not enable or disable).
func (s *Server) rollbackSource(c *call) (int, any, error) {
	v, err := pickVersion(c, s.sourceVersions, sourceHistory, "source")
	if err != nil {
		return 0, nil, err
	}
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	src.Name, src.Description, src.Settings = v.Name, v.Description, v.Settings
	src.Change = c.change("", rollbackDescription(v.Version))
	return s.putSourceTask(c, "api.rollback.sourceVersion", "Source version was rolled back successfully.", src)
}

// rollbackSink makes a version's content the sink's next version; the disabled state stays.
func (s *Server) rollbackSink(c *call) (int, any, error) {
	v, err := pickVersion(c, s.sinkVersions, sinkHistory, "sink")
	if err != nil {
		return 0, nil, err
	}
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	disabled, history := def.Disabled, def.History
	def = v
	def.Disabled, def.History = disabled, history
	def.Change = c.change("", rollbackDescription(v.Version))
	if err := s.checkSink(&def); err != nil {
		return 0, nil, err
	}
	return s.putSinkTask(c, "api.rollback.sinkVersion", "Sink version was rolled back successfully.", def, nil)
}
