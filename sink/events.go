package sink

import (
	"context"
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi"
)

// Storage events the stream service writes, with the components, messages, params and
// results of Keboola's (keboola-as-code: internal/pkg/service/stream/sink/type/tablesink/
// keboola/bridge/event.go, schemas ext.keboola.stream.sliceUpload and .fileImport).
const (
	EventSliceUpload = "keboola.stream.sliceUpload"
	EventFileImport  = "keboola.stream.fileImport"
)

// eventTimeFormat is how the events' statistics write times (UTC, milliseconds).
const eventTimeFormat = "2006-01-02T15:04:05.000Z"

// sendEvent writes one event with the sink's token: info with the statistics when there are
// records, error with the error's text. Failing to write it is logged, never fails the level.
func (p *pipeline) sendEvent(ctx context.Context, component string, d time.Duration, err error, st local.Stats, slices int) {
	msg := map[string][2]string{
		EventSliceUpload: {"Slice upload done.", "Slice upload failed."},
		EventFileImport:  {"File import done.", "File import failed."},
	}[component]
	ev := storageapi.CreateEventRequest{Component: component, Message: msg[0], Type: storageapi.EventInfo, Duration: d.Seconds(),
		Params: map[string]any{"projectId": p.key.ProjectID, "branchId": p.key.BranchID, "sourceId": p.key.SourceID,
			"streamId": p.key.SourceKey.String(), "sinkId": p.key.SinkID}}
	switch {
	case err != nil:
		ev.Message, ev.Type, ev.Results = msg[1], storageapi.EventError, map[string]any{"error": err.Error()}
	case st.Records > 0:
		ev.Results = map[string]any{"statistics": map[string]any{
			"firstRecordAt":    st.FirstRecordAt.UTC().Format(eventTimeFormat),
			"lastRecordAt":     st.LastRecordAt.UTC().Format(eventTimeFormat),
			"recordsCount":     st.Records,
			"slicesCount":      slices,
			"uncompressedSize": st.UncompressedSize,
			"compressedSize":   st.CompressedSize,
			"stagingSize":      st.CompressedSize,
		}}
	}
	c, cerr := p.client(ctx)
	if cerr == nil {
		_, cerr = c.CreateEvent(ctx, ev)
	}
	if cerr != nil {
		p.log.Warn("storage event not written", "component", component, "error", cerr)
	}
}
