package streamapi

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
)

// Task is Keboola's task object. kbridge runs the operation before answering (definition
// changes are local file writes), so a task is returned finished; clients that poll
// GET /v1/tasks/{taskId} see the same object until it expires.
type Task struct {
	TaskID     string       `json:"taskId"`
	Type       string       `json:"type"`
	URL        string       `json:"url"`
	Status     string       `json:"status"`
	IsFinished bool         `json:"isFinished"`
	CreatedAt  string       `json:"createdAt"`
	FinishedAt string       `json:"finishedAt,omitempty"`
	Duration   *int64       `json:"duration,omitempty"`
	Result     string       `json:"result,omitempty"`
	Error      string       `json:"error,omitempty"`
	Outputs    *TaskOutputs `json:"outputs,omitempty"`

	project int64
	expires time.Time
}

// TaskOutputs point at the entity a task changed.
type TaskOutputs struct {
	URL       string `json:"url,omitempty"`
	ProjectID int64  `json:"projectId"`
	BranchID  int64  `json:"branchId"`
	SourceID  string `json:"sourceId,omitempty"`
	SinkID    string `json:"sinkId,omitempty"`
}

const timeFormat = "2006-01-02T15:04:05.000Z"

// taskStore keeps finished tasks until their TTL; expired tasks are dropped on each insert.
type taskStore struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	tasks map[string]*Task
}

func (ts *taskStore) put(t *Task) {
	now := ts.now()
	t.expires = now.Add(ts.ttl)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tasks == nil {
		ts.tasks = map[string]*Task{}
	}
	for id, old := range ts.tasks {
		if now.After(old.expires) {
			delete(ts.tasks, id)
		}
	}
	ts.tasks[t.TaskID] = t
}

func (ts *taskStore) get(id string, project int64) (*Task, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.tasks[id]
	if !ok || t.project != project || ts.now().After(t.expires) {
		return nil, false
	}
	return t, true
}

// runTask runs op as a task of typ on the object path (e.g. "123/my-source") and returns
// 202 with the finished task. op returns the success message and the outputs.
func (s *Server) runTask(c *call, typ, object string, op func() (string, *TaskOutputs, error)) (int, any, error) {
	start := s.now()
	t := &Task{TaskID: typ + "/" + object + "/" + randomID(16), Type: typ, CreatedAt: start.UTC().Format(timeFormat),
		project: c.token.ProjectID}
	t.URL = s.cfg.PublicURL + "/v1/tasks/" + t.TaskID
	result, outputs, err := op()
	end := s.now()
	d := end.Sub(start).Milliseconds()
	t.FinishedAt, t.Duration, t.IsFinished, t.Outputs = end.UTC().Format(timeFormat), &d, true, outputs
	if err != nil {
		t.Status, t.Error = "error", err.Error()
	} else {
		t.Status, t.Result = "success", result
	}
	s.tasks.put(t)
	s.onChange()
	return http.StatusAccepted, t, nil
}

func (s *Server) getTask(c *call) (int, any, error) {
	id := strings.TrimPrefix(c.r.PathValue("taskId"), "/")
	t, ok := s.tasks.get(id, c.token.ProjectID)
	if !ok {
		return 0, nil, httperr.New(http.StatusNotFound, "stream.api.taskNotFound", "Task %q not found.", id)
	}
	return http.StatusOK, t, nil
}
