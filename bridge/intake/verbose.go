package intake

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/kbridge/kbridge/sink"
)

// verboseBody is the ?verbose=true answer, shaped as Keboola's.
type verboseBody struct {
	StatusCode int             `json:"statusCode"`
	Message    string          `json:"message"`
	Records    int             `json:"records"`
	Sources    []verboseSource `json:"sources"`
}

type verboseSource struct {
	ProjectID  int64         `json:"projectId"`
	SourceID   string        `json:"sourceId"`
	BranchID   int64         `json:"branchId"`
	StatusCode int           `json:"statusCode"`
	Message    string        `json:"message"`
	Sinks      []verboseSink `json:"sinks"`
}

type verboseSink struct {
	SinkID     string `json:"sinkId"`
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// writeVerbose describes where the records went: per source (branch) and sink, "processed"
// (fsynced, 200) or "accepted" (buffered, 202).
func (s *Server) writeVerbose(ctx *fasthttp.RequestCtx, q *request, status int) {
	body := verboseBody{StatusCode: status, Records: len(q.events)}
	total := 0
	for _, key := range q.keys {
		vs := verboseSource{ProjectID: key.ProjectID, SourceID: key.SourceID, BranchID: key.BranchID, StatusCode: http.StatusOK}
		src, _ := s.sink.Source(key)
		defs, _ := s.sink.Sinks(key)
		for _, def := range defs {
			if def.Disabled {
				continue
			}
			vk := verboseSink{SinkID: def.Key.SinkID, StatusCode: http.StatusOK, Message: "processed"}
			if st, err := sink.ResolveSettings(src.Settings, def.Settings); err == nil && !st.SyncWait {
				vk.StatusCode, vk.Message, vs.StatusCode = http.StatusAccepted, "accepted", http.StatusAccepted
			}
			vs.Sinks = append(vs.Sinks, vk)
		}
		vs.Message = fmt.Sprintf("Successfully written to %d/%d sinks.", len(vs.Sinks), len(vs.Sinks))
		total += len(vs.Sinks)
		body.Sources = append(body.Sources, vs)
	}
	body.Message = fmt.Sprintf("Successfully written to %d/%d sinks.", total, total)
	data, _ := json.Marshal(body)
	ctx.Response.Header.SetContentTypeBytes(jsonType)
	ctx.SetStatusCode(status)
	ctx.Response.SetBodyRaw(append(data, '\n'))
}
