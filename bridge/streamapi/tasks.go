package streamapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/storageapi/durable"
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
}

// TaskOutputs point at the entity a task changed.
type TaskOutputs struct {
	URL       string `json:"url,omitempty"`
	ProjectID int64  `json:"projectId"`
	BranchID  int64  `json:"branchId"`
	SourceID  string `json:"sourceId,omitempty"`
	SinkID    string `json:"sinkId,omitempty"`
}

// storedTask is a task with what the store needs to answer and expire it.
type storedTask struct {
	Task    Task      `json:"task"`
	Project int64     `json:"projectId"`
	Expires time.Time `json:"expires"`
}

// SharedTasks are the tasks of every replica of a cluster. Both methods may be called
// concurrently.
type SharedTasks interface {
	// Publish shows this replica's task id to every replica (data nil: removes it).
	Publish(ctx context.Context, id string, data []byte) error
	// Lookup returns every replica's data of task id, reading first what any replica published
	// before the call.
	Lookup(ctx context.Context, id string) ([][]byte, error)
}

// sharedTaskTimeout bounds one publication or lookup of a shared task.
const sharedTaskTimeout = 5 * time.Second

// taskStore keeps finished tasks until their TTL; expired tasks are dropped on each insert.
// With a file, the tasks are written to it after each insert and read back by New, so a task
// answered before a restart can still be polled after it. With shared tasks, every task is
// also published to the other replicas, and a task this replica does not have is looked up
// among theirs.
type taskStore struct {
	ttl    time.Duration
	now    func() time.Time
	file   string      // "" keeps tasks in memory only
	shared SharedTasks // nil: this replica's tasks only
	log    *slog.Logger
	mu     sync.Mutex
	tasks  map[string]storedTask
}

// load reads the tasks a previous process stored; a missing file is no task.
func (ts *taskStore) load() error {
	ts.tasks = map[string]storedTask{}
	if ts.file == "" {
		return nil
	}
	var list []storedTask
	if err := durable.Read(ts.file, &list); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("load tasks: %w", err)
	}
	for _, t := range list {
		ts.tasks[t.Task.TaskID] = t
	}
	return nil
}

func (ts *taskStore) put(t Task, project int64) error {
	st := storedTask{Task: t, Project: project, Expires: ts.now().Add(ts.ttl)}
	expired, err := ts.putLocal(st)
	if ts.shared != nil {
		ts.publish(st, expired)
	}
	return err
}

// publish shows st to the other replicas and removes the expired tasks; a failure is logged
// (the task is still answered here).
func (ts *taskStore) publish(st storedTask, expired []string) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTaskTimeout)
	defer cancel()
	data, err := json.Marshal(st)
	if err == nil {
		err = ts.shared.Publish(ctx, st.Task.TaskID, data)
	}
	if err != nil {
		ts.log.Error("task not shared with the other replicas", "task", st.Task.TaskID, "error", err)
	}
	for _, id := range expired {
		if err := ts.shared.Publish(ctx, id, nil); err != nil {
			ts.log.Warn("expired task not removed from the other replicas", "task", id, "error", err)
		}
	}
}

// putLocal stores st and returns the ids of the tasks that expired.
func (ts *taskStore) putLocal(st storedTask) (expired []string, err error) {
	now := ts.now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	list := make([]storedTask, 0, len(ts.tasks)+1)
	for id, old := range ts.tasks {
		if now.After(old.Expires) {
			delete(ts.tasks, id)
			expired = append(expired, id)
			continue
		}
		list = append(list, old)
	}
	ts.tasks[st.Task.TaskID] = st
	if ts.file == "" {
		return expired, nil
	}
	if err := durable.MkdirAll(filepath.Dir(ts.file)); err != nil {
		return expired, fmt.Errorf("store task: %w", err)
	}
	if err := durable.Write(ts.file, append(list, st)); err != nil {
		return expired, fmt.Errorf("store task: %w", err)
	}
	return expired, nil
}

// get returns task id of project, this replica's or, with shared tasks, another's.
func (ts *taskStore) get(ctx context.Context, id string, project int64) (Task, bool) {
	ts.mu.Lock()
	t, ok := ts.tasks[id]
	ts.mu.Unlock()
	if ok || ts.shared == nil {
		return t.Task, ok && ts.valid(t, project)
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTaskTimeout)
	defer cancel()
	found, err := ts.shared.Lookup(ctx, id)
	if err != nil {
		ts.log.Warn("task lookup among the other replicas", "task", id, "error", err)
	}
	for _, data := range found {
		var st storedTask
		if json.Unmarshal(data, &st) == nil && st.Task.TaskID == id && ts.valid(st, project) {
			return st.Task, true
		}
	}
	return Task{}, false
}

// valid tells whether t is a task of project that has not expired.
func (ts *taskStore) valid(t storedTask, project int64) bool {
	return t.Project == project && !ts.now().After(t.Expires)
}

// runTask runs op as a task of typ on the object path (e.g. "123/my-source") and returns
// 202 with the finished task. op returns the success message and the outputs.
func (s *Server) runTask(c *call, typ, object string, op func() (string, *TaskOutputs, error)) (int, any, error) {
	start := s.now()
	t := Task{TaskID: typ + "/" + object + "/" + randomID(16), Type: typ, CreatedAt: formatTime(start)}
	t.URL = s.cfg.PublicURL + "/v1/tasks/" + t.TaskID
	result, outputs, err := op()
	end := s.now()
	d := end.Sub(start).Milliseconds()
	t.FinishedAt, t.Duration, t.IsFinished, t.Outputs = formatTime(end), &d, true, outputs
	if err != nil {
		t.Status, t.Error = "error", err.Error()
	} else {
		t.Status, t.Result = "success", result
	}
	if err := s.tasks.put(t, c.token.ProjectID); err != nil {
		s.log.Error("task not stored", "task", t.TaskID, "error", err)
	}
	s.onChange()
	return http.StatusAccepted, t, nil
}

func (s *Server) getTask(c *call) (int, any, error) {
	id := strings.TrimPrefix(c.r.PathValue("taskId"), "/")
	t, ok := s.tasks.get(c.r.Context(), id, c.token.ProjectID)
	if !ok {
		return 0, nil, taskNotFound(id)
	}
	return http.StatusOK, t, nil
}

// getSourceTask answers a task under its source's path: a task of another source is not
// found there.
func (s *Server) getSourceTask(c *call) (int, any, error) {
	id := strings.TrimPrefix(c.r.PathValue("taskId"), "/")
	k := c.sourceKey()
	t, ok := s.tasks.get(c.r.Context(), id, c.token.ProjectID)
	if !ok || t.Outputs == nil || t.Outputs.BranchID != k.BranchID || t.Outputs.SourceID != k.SourceID {
		return 0, nil, taskNotFound(id)
	}
	return http.StatusOK, t, nil
}

func taskNotFound(id string) error {
	return httperr.New(http.StatusNotFound, "stream.api.taskNotFound", "Task %q not found.", id)
}

// tasksFile is where the tasks persist inside a data directory.
func tasksFile(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, "api", "tasks.json")
}
