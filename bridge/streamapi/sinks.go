package streamapi

import (
	"errors"
	"net/http"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

type sinkBody struct {
	SinkID            *string    `json:"sinkId"`
	Type              *string    `json:"type"`
	Name              *string    `json:"name"`
	Description       *string    `json:"description"`
	ChangeDescription string     `json:"changeDescription,omitempty"`
	AllowedSignals    []string   `json:"allowedSignals,omitempty"`
	Table             *tableBody `json:"table"`
}

type tableBody struct {
	Type    string       `json:"type"`
	TableID string       `json:"tableId"`
	Mapping *mappingBody `json:"mapping"`
}

type mappingBody struct {
	Columns []mapping.Column `json:"columns"`
}

func (b *sinkBody) validate(create bool) error {
	if create && b.Name == nil {
		return missingField("name")
	}
	if create && b.Table == nil {
		return missingField("table")
	}
	if err := checkLength("name", b.Name, 1, 40); err != nil {
		return err
	}
	if err := checkLength("description", b.Description, 0, 4096); err != nil {
		return err
	}
	if b.Type != nil && *b.Type != "table" {
		return httperr.New(http.StatusBadRequest, "stream.api.invalidEnumValue", "body.type must be one of [\"table\"] but got value %q.", *b.Type)
	}
	if len(b.AllowedSignals) > 0 {
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "allowedSignals apply only to OTLP sources, which kbridge does not support.")
	}
	if t := b.Table; t != nil {
		if t.Type != "keboola" {
			return httperr.New(http.StatusBadRequest, "stream.api.invalidEnumValue", "body.table.type must be one of [\"keboola\"] but got value %q.", t.Type)
		}
		if t.Mapping == nil && create {
			return missingField("table.mapping")
		}
	}
	return nil
}

// apply copies the body's fields onto def.
func (b *sinkBody) apply(def *sink.Sink) {
	if b.Name != nil {
		def.Name = *b.Name
	}
	if b.Description != nil {
		def.Description = *b.Description
	}
	if b.Table != nil {
		def.TableID = b.Table.TableID
		if b.Table.Mapping != nil {
			def.Columns = b.Table.Mapping.Columns
		}
	}
}

// checkSink validates the definition as the manager will (ids, table id, columns).
func (s *Server) checkSink(def *sink.Sink) error {
	if _, err := def.Validate(s.mcfg); err != nil {
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "%s", httperr.Sentence(err.Error()))
	}
	return nil
}

func (s *Server) createSink(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	var b sinkBody
	if err := decode(c.r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(true); err != nil {
		return 0, nil, err
	}
	id := normalizeID(*b.Name)
	if b.SinkID != nil {
		id = normalizeID(*b.SinkID)
	}
	if err := checkID(id, "sinkId"); err != nil {
		return 0, nil, err
	}
	def := sink.Sink{Key: sink.SinkKey{SourceKey: src.Key, SinkID: id}}
	b.apply(&def)
	def.Change = c.change(b.ChangeDescription, "New sink.")
	if err := s.checkSink(&def); err != nil {
		return 0, nil, err
	}
	defs, err := s.m.Sinks(src.Key)
	if err != nil {
		return 0, nil, err
	}
	for _, d := range defs {
		if d.Key == def.Key {
			return 0, nil, httperr.New(http.StatusConflict, "stream.api.sinkAlreadyExists", "Sink %q already exists in the source.", id)
		}
	}
	if len(defs) >= sink.MaxSinksPerSource {
		return 0, nil, httperr.New(http.StatusUnprocessableEntity, "stream.api.resourceLimitReached",
			"Maximum number of sinks per source is %d.", sink.MaxSinksPerSource)
	}
	// Another replica changed the source meanwhile: Keboola answers a concurrent duplicate
	// create so.
	conflict := httperr.New(http.StatusConflict, "stream.api.sinkAlreadyExists", "Sink %q already exists in the source.", id)
	return s.putSinkTask(c, "api.create.sink", "Sink has been created successfully.", def, conflict)
}

// putSinkTask puts the sink and answers its task. A sink Storage refuses (its table exists
// with other columns, its branch does not exist) is answered at once with the 4xx naming why,
// as Keboola answers it, instead of a task that failed; so is conflict, when not nil, for a
// definition another replica changed meanwhile (distributed mode).
func (s *Server) putSinkTask(c *call, typ, result string, def sink.Sink, conflict error) (int, any, error) {
	put := s.m.PutSink
	if conflict != nil { // a create: a sink another replica created meanwhile is the conflict
		put = s.m.CreateSink
	}
	err := put(def)
	if r := refusal(err); r != err {
		return 0, nil, r
	}
	if conflict != nil && errors.Is(err, sink.ErrConflict) {
		return 0, nil, conflict
	}
	return s.runTask(c, typ, s.objectPath(def.Key.SourceKey, def.Key.SinkID), func() (string, *TaskOutputs, error) {
		return result, s.sinkOutputs(def.Key), err
	})
}

// refusal turns a definition Storage refuses into its HTTP error: a table with other columns
// is a 400 naming them, a branch the project does not have a 404; other errors are returned
// as they are.
func refusal(err error) error {
	var te *sink.TableError
	switch {
	case errors.As(err, &te):
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "%s", httperr.Sentence(te.Error()))
	case errors.Is(err, sink.ErrBranchNotFound):
		return httperr.New(http.StatusNotFound, "stream.api.branchNotFound", "%s", httperr.Sentence(err.Error()))
	}
	return err
}

func (s *Server) sinkOutputs(k sink.SinkKey) *TaskOutputs {
	return &TaskOutputs{URL: s.sinkURL(k), ProjectID: k.ProjectID, BranchID: k.BranchID, SourceID: k.SourceID, SinkID: k.SinkID}
}

func (s *Server) listSinks(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	defs, err := s.m.Sinks(src.Key)
	if err != nil {
		return 0, nil, err
	}
	return s.sinkList(c, src.Key, defs)
}

// sinkList answers a page of the source's sinks.
func (s *Server) sinkList(c *call, k sink.SourceKey, defs []sink.Sink) (int, any, error) {
	items, page, err := paginate(c.r.URL.Query(), defs, func(d sink.Sink) string { return d.Key.SinkID })
	if err != nil {
		return 0, nil, err
	}
	views := make([]SinkView, 0, len(items))
	for _, d := range items {
		views = append(views, sinkView(d))
	}
	return http.StatusOK, SinkList{ProjectID: k.ProjectID, BranchID: k.BranchID, SourceID: k.SourceID, Page: page, Sinks: views}, nil
}

// sink returns the call's sink or a 404 (of the source or the sink).
func (s *Server) sink(c *call) (sink.Sink, error) {
	k := c.sinkKey()
	defs, err := s.m.Sinks(k.SourceKey)
	if errors.Is(err, sink.ErrSourceNotFound) {
		return sink.Sink{}, notFoundSource(k.SourceKey)
	}
	if err != nil {
		return sink.Sink{}, err
	}
	for _, d := range defs {
		if d.Key == k {
			return d, nil
		}
	}
	return sink.Sink{}, notFoundSink(k)
}

func (s *Server) getSink(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sinkView(def), nil
}

func (s *Server) updateSink(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	var b sinkBody
	if err := decode(c.r, &b); err != nil {
		return 0, nil, err
	}
	if b.SinkID != nil {
		return 0, nil, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "sinkId cannot be changed.")
	}
	if err := b.validate(false); err != nil {
		return 0, nil, err
	}
	b.apply(&def)
	def.Change = c.change(b.ChangeDescription, "Updated.")
	if err := s.checkSink(&def); err != nil {
		return 0, nil, err
	}
	return s.putSinkTask(c, "api.update.sink", "Sink has been updated successfully.", def, nil)
}

func (s *Server) deleteSink(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	return s.runTask(c, "api.delete.sink", s.objectPath(def.Key.SourceKey, def.Key.SinkID), func() (string, *TaskOutputs, error) {
		return "Sink has been deleted successfully.", s.sinkOutputs(def.Key), s.m.DeleteSink(def.Key, c.actor())
	})
}

func (s *Server) enableSink(enable bool) endpoint {
	typ, result, desc := "api.disable.sink", "Sink has been disabled successfully.", "Disabled."
	if enable {
		typ, result, desc = "api.enable.sink", "Sink has been enabled successfully.", "Enabled."
	}
	return func(c *call) (int, any, error) {
		def, err := s.sink(c)
		if err != nil {
			return 0, nil, err
		}
		def.Disabled, def.Change = !enable, c.change("", desc)
		return s.putSinkTask(c, typ, result, def, nil)
	}
}

func (s *Server) sinkStatistics(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.m.SinkStatistics(def.Key)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (s *Server) sinkFiles(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	failed := c.r.URL.Query().Get("failedFiles") == "true"
	files, err := s.m.SinkFiles(def.Key, failed)
	if err != nil {
		return 0, nil, err
	}
	if files == nil {
		files = []sink.FileStatistics{}
	}
	return http.StatusOK, FilesResult{Files: files}, nil
}

// clearSinkStatistics restarts the sink's statistics from zero; 200 with no body, as Keboola.
func (s *Server) clearSinkStatistics(c *call) (int, any, error) {
	def, err := s.sink(c)
	if err != nil {
		return 0, nil, err
	}
	if err := s.m.ClearStatistics(def.Key); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nil, nil
}

// clearSourceStatistics restarts the statistics of every sink of the source.
func (s *Server) clearSourceStatistics(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	if err := s.m.ClearSourceStatistics(src.Key); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, nil, nil
}
