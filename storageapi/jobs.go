package storageapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Job statuses.
const (
	JobStatusWaiting    = "waiting"
	JobStatusProcessing = "processing"
	JobStatusSuccess    = "success"
	JobStatusError      = "error"
)

// Job is an asynchronous Storage job.
type Job struct {
	ID              int64           `json:"id"`
	Status          string          `json:"status"`
	URL             string          `json:"url"`
	TableID         string          `json:"tableId"`
	OperationName   string          `json:"operationName"`
	OperationParams json.RawMessage `json:"operationParams"`
	CreatedTime     Time            `json:"createdTime"`
	StartTime       Time            `json:"startTime"`
	EndTime         Time            `json:"endTime"`
	// Results is the raw results object; null or [] until success.
	Results json.RawMessage `json:"results"`
	Error   *JobErrorDetail `json:"error,omitempty"`
	// CreatorToken is the token that started the job.
	CreatorToken struct {
		ID          string `json:"id"`
		Description string `json:"description"`
	} `json:"creatorToken"`
}

// JobErrorDetail is the error of a failed job.
type JobErrorDetail struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	ExceptionID string `json:"exceptionId"`
}

// ImportResults are the results of a successful tableImport job.
type ImportResults struct {
	ImportedRowsCount int64    `json:"importedRowsCount"`
	TotalRowsCount    int64    `json:"totalRowsCount"`
	ImportedColumns   []string `json:"importedColumns"`
	Warnings          []any    `json:"warnings"`
}

// Finished reports whether the job reached success or error.
func (j *Job) Finished() bool { return j.Status == JobStatusSuccess || j.Status == JobStatusError }

// ImportResults decodes the results of a finished tableImport job.
func (j *Job) ImportResults() (*ImportResults, error) {
	var r ImportResults
	raw := bytes.TrimSpace(j.Results)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte("[]")) {
		return &r, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("job %d results: %w", j.ID, err)
	}
	return &r, nil
}

// GetJob reads a job; an unknown job id is ErrNotFound.
func (c *Client) GetJob(ctx context.Context, jobID int64) (*Job, error) {
	var j Job
	if _, err := c.do(ctx, call{method: http.MethodGet, path: pathf("jobs/%s", jobID), out: &j}); err != nil {
		return nil, fmt.Errorf("get job %d: %w", jobID, err)
	}
	return &j, nil
}

// WaitForJob polls the job until it finishes or ctx ends; the wait is bounded only by
// ctx, so give it a deadline. A job that ends with status "error" is a *JobError
// (errors.Is ErrJobFailed). Polls start at JobPoll.InitialInterval and double up to
// JobPoll.MaxInterval. Safe to call again for the same id, e.g. after a restart.
func (c *Client) WaitForJob(ctx context.Context, jobID int64) (*Job, error) {
	wait := c.cfg.JobPoll.InitialInterval
	for {
		job, err := c.GetJob(ctx, jobID)
		if err != nil {
			return nil, fmt.Errorf("wait for job: %w", err)
		}
		switch job.Status {
		case JobStatusSuccess:
			return job, nil
		case JobStatusError:
			e := &JobError{JobID: job.ID, Operation: job.OperationName}
			if job.Error != nil {
				e.Code, e.Message, e.ExceptionID = job.Error.Code, job.Error.Message, job.Error.ExceptionID
			}
			return job, e
		}
		if err := c.sleep(ctx, wait); err != nil {
			return job, fmt.Errorf("wait for job %d (last status %s): %w", jobID, job.Status, err)
		}
		wait = min(wait*2, c.cfg.JobPoll.MaxInterval)
	}
}

// ListJobs reads the project's most recent jobs, newest first, at most limit of them
// (Storage's jobs list, GET /v2/storage/jobs).
func (c *Client) ListJobs(ctx context.Context, limit int) ([]Job, error) {
	var out []Job
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "jobs", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// ImportedFileID is the staging file a tableImport job imports (operationParams.source.fileId),
// 0 for other jobs.
func (j *Job) ImportedFileID() int64 {
	if j.OperationName != "tableImport" {
		return 0
	}
	var p struct {
		Source struct {
			FileID json.Number `json:"fileId"`
		} `json:"source"`
	}
	if json.Unmarshal(j.OperationParams, &p) != nil {
		return 0
	}
	id, _ := p.Source.FileID.Int64()
	return id
}
