package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// columnTask is the work of a tableColumnAdd job.
type columnTask struct {
	Branch  int64       `json:"branch,omitempty"`
	TableID string      `json:"tableId"`
	Column  columnBody  `json:"column"`
	Type    *columnType `json:"type,omitempty"`
}

// handleAddColumn queues a tableColumnAdd job (POST .../tables/{table}/columns): a typed table
// needs the column's type, an untyped one takes none.
func (e *Emulator) handleAddColumn(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body columnBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if !namePattern.MatchString(body.Name) {
		return errInvalid("Invalid column name %q", body.Name)
	}
	ct, typed, err := typeOf(body, false)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.requestTableLocked(r, tok, true)
	if err != nil {
		return err
	}
	if slices.Contains(t.Columns, body.Name) {
		return errorf(http.StatusBadRequest, "storage.tables.columnAlreadyExists", "The column %q already exists in the table %s", body.Name, t.ID)
	}
	if t.Types != nil && !typed {
		return errInvalid("The table %s is typed: the column %q needs a definition or a basetype", t.ID, body.Name)
	}
	if t.Types == nil && typed {
		return errInvalid("The table %s is not typed: the column %q cannot have a type", t.ID, body.Name)
	}
	task := columnTask{Branch: t.Branch, TableID: t.ID, Column: body}
	if typed {
		task.Type = &ct
	}
	params := map[string]any{"name": body.Name}
	j, err := e.queueJobLocked(r, "tableColumnAdd", t.ID, tok, params, task)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, e.jobJSON(r, j))
	return nil
}

// addColumnLocked runs a tableColumnAdd job: the column is appended, empty in every row.
func (e *Emulator) addColumnLocked(raw json.RawMessage) (*table, error) {
	var task columnTask
	if err := json.Unmarshal(raw, &task); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	t, ok := e.st.Tables[objectKey(task.Branch, task.TableID)]
	if !ok {
		return nil, &jobFailure{code: "storage.tables.notFound", message: "Table " + task.TableID + " not found"}
	}
	name := task.Column.Name
	if slices.Contains(t.Columns, name) {
		return nil, &jobFailure{code: "storage.tables.columnAlreadyExists", message: "The column " + name + " already exists"}
	}
	rows, err := e.readRowsLocked(t)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i] = append(rows[i], "")
	}
	t.Columns = append(slices.Clone(t.Columns), name)
	if task.Type != nil {
		t.Types[name] = *task.Type
	}
	if err := e.writeRowsLocked(t, rows); err != nil {
		t.Columns = t.Columns[:len(t.Columns)-1]
		delete(t.Types, name)
		return nil, err
	}
	return t, nil
}
