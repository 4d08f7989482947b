package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Job statuses.
const (
	statusWaiting    = "waiting"
	statusProcessing = "processing"
	statusSuccess    = "success"
	statusError      = "error"
)

// jobFailure ends a job with status "error" and this code and message.
type jobFailure struct{ code, message string }

func (f *jobFailure) Error() string { return f.code + ": " + f.message }

// queueJobLocked stores a new waiting job and wakes the worker; e.mu must be held.
func (e *Emulator) queueJobLocked(r *http.Request, operation, tableID string, tok *token, params, task any) (*job, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encode job params: %w", err)
	}
	t, err := json.Marshal(task)
	if err != nil {
		return nil, fmt.Errorf("encode job task: %w", err)
	}
	j := &job{ID: e.st.nextID(), Status: statusWaiting, TableID: tableID, Operation: operation, Params: p, Task: t,
		Created: now(), CreatorTokenID: tok.ID, BaseURL: e.baseURL(r)}
	e.st.Jobs[j.ID] = j
	if err := e.saveLocked(); err != nil {
		return nil, err
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return j, nil
}

func (e *Emulator) jobJSON(r *http.Request, j *job) map[string]any {
	var tableID any
	if j.TableID != "" {
		tableID = j.TableID
	}
	var results any
	if len(j.Results) > 0 {
		results = json.RawMessage(j.Results)
	}
	creator := map[string]any{"id": j.CreatorTokenID, "description": ""}
	if t := e.tokenByIDLocked(j.CreatorTokenID); t != nil {
		creator["description"] = t.Description
	}
	out := map[string]any{
		"id": j.ID, "status": j.Status, "url": e.baseURL(r) + "/v2/storage/jobs/" + strconv.FormatInt(j.ID, 10),
		"tableId": tableID, "operationName": j.Operation, "operationParams": json.RawMessage(j.Params),
		"createdTime": formatTime(j.Created), "startTime": formatTimePtr(j.Started), "endTime": formatTimePtr(j.Ended),
		"runId": nil, "results": results, "creatorToken": creator, "metrics": map[string]any{"inBytes": 0, "outBytes": 0},
	}
	if j.Error != nil {
		out["error"] = j.Error
	}
	return out
}

func (e *Emulator) handleGetJob(w http.ResponseWriter, r *http.Request, _ *token) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	j, ok := e.st.Jobs[id]
	if err != nil || !ok {
		return errorf(http.StatusNotFound, "storage.jobs.notFound", "Job %s not found", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, e.jobJSON(r, j))
	return nil
}

// handleListJobs lists the project's jobs, newest first: limit (default 100, at most 1000)
// and offset.
func (e *Emulator) handleListJobs(w http.ResponseWriter, r *http.Request, _ *token) error {
	limit, offset := 100, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, "storage.validation", "limit must be a positive integer, got %q", v)
		}
		limit = min(n, 1000)
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "storage.validation", "offset must be a non-negative integer, got %q", v)
		}
		offset = n
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int64, 0, len(e.st.Jobs))
	for id := range e.st.Jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	out := []map[string]any{}
	for _, id := range ids[min(offset, len(ids)):min(offset+limit, len(ids))] {
		out = append(out, e.jobJSON(r, e.st.Jobs[id]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Run processes jobs one at a time, oldest first, until ctx ends. Jobs left waiting or
// processing by an earlier process are run again. It returns when ctx ends.
func (e *Emulator) Run(ctx context.Context) {
	for {
		id, ok := e.nextJob()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
				continue
			}
		}
		if err := e.runJob(ctx, id); err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Error("job failed to run", "job", id, "error", err)
			if sleepCtx(ctx, time.Second) != nil { // do not spin on a persistent failure
				return
			}
		}
	}
}

// nextJob is the oldest unfinished job.
func (e *Emulator) nextJob() (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var best int64
	for id, j := range e.st.Jobs {
		if (j.Status == statusWaiting || j.Status == statusProcessing) && (best == 0 || id < best) {
			best = id
		}
	}
	return best, best != 0
}

// runJob waits until the job is JobDelay old, marks it processing, applies job faults,
// executes it and records the outcome.
func (e *Emulator) runJob(ctx context.Context, id int64) error {
	e.mu.Lock()
	ready := e.st.Jobs[id].Created.Add(e.cfg.JobDelay)
	e.mu.Unlock()
	if err := sleepCtx(ctx, time.Until(ready)); err != nil {
		return err
	}
	if err := e.updateJob(id, func(j *job) { started := now(); j.Status, j.Started = statusProcessing, &started }); err != nil {
		return err
	}
	fail, message, slow := e.jobFault()
	if err := sleepCtx(ctx, slow); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	j := e.st.Jobs[id]
	var results any
	var err error
	if fail {
		err = &jobFailure{code: "storage.emulator.injectedFailure", message: message}
	} else {
		results, err = e.executeLocked(j)
	}
	ended := now()
	j.Ended = &ended
	var jf *jobFailure
	switch {
	case err == nil:
		j.Status = statusSuccess
		j.Results, err = json.Marshal(results)
		if err != nil {
			return fmt.Errorf("encode job %d results: %w", id, err)
		}
	case errors.As(err, &jf):
		j.Status, j.Error = statusError, &jobError{Code: jf.code, Message: jf.message, ExceptionID: "exception-" + randomHex(8)}
	default:
		j.Status, j.Error = statusError, &jobError{Code: "storage.internal", Message: err.Error(), ExceptionID: "exception-" + randomHex(8)}
	}
	e.jobEventLocked(j)
	return e.saveLocked()
}

func (e *Emulator) updateJob(id int64, fn func(*job)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(e.st.Jobs[id])
	return e.saveLocked()
}

// executeLocked does the job's work; e.mu must be held.
func (e *Emulator) executeLocked(j *job) (any, error) {
	switch j.Operation {
	case "tableDefinitionCreate":
		t, err := e.createTableLocked(j.Task)
		if err != nil {
			return nil, err
		}
		j.TableID = t.ID
		return e.tableJSON(j.BaseURL, t), nil
	case "tableImport":
		return e.importLocked(j.Task)
	case "devBranchCreate":
		return e.createBranchLocked(j.Task)
	case "tableColumnAdd":
		t, err := e.addColumnLocked(j.Task)
		if err != nil {
			return nil, err
		}
		return e.tableJSON(j.BaseURL, t), nil
	}
	return nil, &jobFailure{code: "storage.emulator.unknownOperation", message: "unknown operation " + j.Operation}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
