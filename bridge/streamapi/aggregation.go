package streamapi

import (
	"net/http"

	"github.com/kbridge/kbridge/sink"
)

// AggregatedSource is a source with its sinks and their statistics (the UI's one call).
type AggregatedSource struct {
	SourceView
	Sinks []AggregatedSink `json:"sinks"`
}

// AggregatedSink is a sink with its statistics.
type AggregatedSink struct {
	SinkView
	Statistics *AggregatedStatistics `json:"statistics,omitempty"`
}

// AggregatedStatistics are a sink's totals, levels and files.
type AggregatedStatistics struct {
	Total  sink.LevelStatistics  `json:"total"`
	Levels sink.Levels           `json:"levels"`
	Files  []sink.FileStatistics `json:"files"`
}

// aggregateSources answers GET /v1/branches/{branchId}/aggregation/sources: a page of the
// branch's sources, each with its sinks and their statistics.
func (s *Server) aggregateSources(c *call) (int, any, error) {
	items, page, err := paginate(c.r.URL.Query(), s.branchSources(c), func(src sink.Source) string { return src.Key.SourceID })
	if err != nil {
		return 0, nil, err
	}
	out := make([]AggregatedSource, 0, len(items))
	for _, src := range items {
		defs, err := s.m.Sinks(src.Key)
		if err != nil {
			continue // deleted since it was listed
		}
		agg := AggregatedSource{SourceView: s.sourceView(src, c.token.Admin), Sinks: make([]AggregatedSink, 0, len(defs))}
		for _, def := range defs {
			agg.Sinks = append(agg.Sinks, AggregatedSink{SinkView: sinkView(def), Statistics: s.sinkAggregate(def.Key)})
		}
		out = append(out, agg)
	}
	return http.StatusOK, AggregatedSourceList{ProjectID: c.token.ProjectID, BranchID: c.branch, Page: page, Sources: out}, nil
}

// sinkAggregate is nil when the sink's statistics cannot be read (it was deleted meanwhile).
func (s *Server) sinkAggregate(k sink.SinkKey) *AggregatedStatistics {
	st, err := s.m.SinkStatistics(k)
	if err != nil {
		return nil
	}
	files, err := s.m.SinkFiles(k, false)
	if err != nil {
		return nil
	}
	if files == nil {
		files = []sink.FileStatistics{}
	}
	return &AggregatedStatistics{Total: st.Total, Levels: st.Levels, Files: files}
}
