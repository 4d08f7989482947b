package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// branchTask is the work of a devBranchCreate job.
type branchTask struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// requestBranch is the branch a request addresses: 0 for the default branch (the legacy paths
// and /branch/{default id}/...), else the id of an existing development branch. An unknown
// branch is a 404, a malformed id a 400. e.mu must be held.
func (e *Emulator) requestBranchLocked(r *http.Request) (int64, error) {
	v := r.PathValue("branch")
	if v == "" || v == "default" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, errInvalid("Invalid branch id %q: expected a positive integer", v)
	}
	if id == e.cfg.DefaultBranchID {
		return 0, nil
	}
	if _, ok := e.st.Branches[id]; !ok {
		return 0, errorf(http.StatusNotFound, "storage.devBranches.notFound", "Branch \"%d\" not found.", id)
	}
	return id, nil
}

func (e *Emulator) branchJSON(b *branch) map[string]any {
	if b == nil {
		return map[string]any{"id": e.cfg.DefaultBranchID, "name": "Main", "description": "", "created": formatTime(e.started),
			"isDefault": true}
	}
	return map[string]any{"id": b.ID, "name": b.Name, "description": b.Description, "created": formatTime(b.Created), "isDefault": false}
}

func (e *Emulator) handleDevBranches(w http.ResponseWriter, _ *http.Request, _ *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []any{e.branchJSON(nil)}
	for _, id := range slices.Sorted(maps.Keys(e.st.Branches)) {
		out = append(out, e.branchJSON(e.st.Branches[id]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleCreateBranch queues a devBranchCreate job whose results are the branch, as Storage does.
func (e *Emulator) handleCreateBranch(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body branchTask
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Name) == "" {
		return errInvalid("name is required")
	}
	if !tok.IsMaster {
		return errForbidden("token %s cannot create branches", tok.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	j, err := e.queueJobLocked(r, "devBranchCreate", "", tok, body, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, e.jobJSON(r, j))
	return nil
}

// createBranchLocked runs a devBranchCreate job: the next id after the highest one known.
func (e *Emulator) createBranchLocked(raw json.RawMessage) (any, error) {
	var task branchTask
	if err := json.Unmarshal(raw, &task); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	id := e.cfg.DefaultBranchID
	for _, b := range e.st.Branches {
		if b.Name == task.Name {
			return nil, &jobFailure{code: "storage.devBranches.alreadyExists", message: fmt.Sprintf("Branch %q already exists.", task.Name)}
		}
		id = max(id, b.ID)
	}
	b := &branch{ID: id + 1, Name: task.Name, Description: task.Description, Created: now()}
	e.st.Branches[b.ID] = b
	return e.branchJSON(b), nil
}
