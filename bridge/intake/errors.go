package intake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// retryShutdown is the Retry-After of answers given while stopping.
const retryShutdown = time.Second

func shutdownError() *httperr.Error {
	e := httperr.New(http.StatusServiceUnavailable, "stream.in.shutdown", "The server is shutting down, please retry.")
	e.RetryAfter = retryShutdown
	return e
}

func lookupError(res lookupResult) *httperr.Error {
	if res == disabled {
		return httperr.New(http.StatusNotFound, "stream.in.disabledSource",
			"The specified source is disabled.")
	}
	return httperr.New(http.StatusNotFound, "stream.in.noSourceFound",
		"The specified combination of projectID, sourceID and secret was not found.")
}

// sinkError maps an error of Sink.Write or Write.Wait to an answer.
func (s *Server) sinkError(err error) *httperr.Error {
	var bp *sink.BackpressureError
	switch {
	case errors.As(err, &bp):
		name := "stream.in.pipelineNotReady"
		if errors.Is(err, sink.ErrDiskFull) {
			name = "stream.in.diskFull"
		}
		e := httperr.New(http.StatusServiceUnavailable, name, "Cannot accept records now (%s), please retry.", bp.Reason)
		e.RetryAfter = max(bp.RetryAfter, time.Second)
		return e
	case errors.Is(err, sink.ErrSourceNotFound):
		return lookupError(notFound)
	case errors.Is(err, sink.ErrNoEnabledSink):
		return httperr.New(http.StatusConflict, "stream.in.noEnabledSink",
			"The source has no enabled sink, the record was not written.")
	case errors.Is(err, sink.ErrClosed):
		return shutdownError()
	case errors.Is(err, sink.ErrNotReady), errors.Is(err, sink.ErrDiskFull):
		e := httperr.New(http.StatusServiceUnavailable, "stream.in.pipelineNotReady", "Cannot accept records now, please retry.")
		e.RetryAfter = time.Second
		return e
	case errors.Is(err, context.DeadlineExceeded):
		e := httperr.New(http.StatusServiceUnavailable, "stream.in.timeout",
			"The records were not confirmed in time; they may have been written, please retry.")
		e.RetryAfter, e.Err = time.Second, err
		return e
	case errors.Is(err, context.Canceled):
		return &httperr.Error{Status: http.StatusServiceUnavailable, Name: "stream.in.canceled", Message: "The request was canceled.", Err: err}
	}
	return &httperr.Error{Status: http.StatusInternalServerError, Name: "stream.in.writeFailed",
		Message: "The records could not be written durably, please retry.", Err: err}
}

// renderError answers events that a sink could not render: 415 for an unusable content type,
// else 422 naming the column; for NDJSON every failed line is listed.
func renderError(wr *sink.Write, q *request, ndjson bool) *httperr.Error {
	var lines []httperr.LineError
	var first error
	for i := range q.events {
		err := wr.Err(i)
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		if ndjson && len(lines) < maxLineErrors {
			lines = append(lines, httperr.LineError{Line: int(q.refs[i].line), Error: httperr.Sentence(err.Error())})
		}
	}
	if first == nil {
		first = errors.New("the record could not be rendered")
	}
	return columnError(first, lines, wr.Failed(), len(q.events))
}

const maxLineErrors = 100

func columnError(first error, lines []httperr.LineError, failed, total int) *httperr.Error {
	if lines == nil {
		if errors.Is(first, mapping.ErrUnsupportedContentType) {
			return httperr.New(http.StatusUnsupportedMediaType, "stream.in.unsupportedContentType", "%s", httperr.Sentence(first.Error()))
		}
		return httperr.New(http.StatusUnprocessableEntity, "stream.in.unprocessableContent", "%s", httperr.Sentence(first.Error()))
	}
	e := httperr.New(http.StatusUnprocessableEntity, "stream.in.unprocessableContent",
		"%d of %d lines cannot be written, nothing was written.", failed, total)
	e.Lines = lines
	return e
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
