package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

func (e *Emulator) tableJSON(base string, t *table) map[string]any {
	b := e.st.Buckets[t.BucketID]
	cols := make([]any, 0, len(t.Columns))
	for _, c := range t.Columns {
		def := map[string]any{"type": "VARCHAR", "nullable": !slices.Contains(t.PrimaryKey, c)}
		if !slices.Contains(t.PrimaryKey, c) {
			def["length"] = "16777216"
		}
		cols = append(cols, map[string]any{"name": c, "definition": def, "basetype": "STRING"})
	}
	meta := make([]any, 0, len(t.Metadata))
	for _, m := range t.Metadata {
		meta = append(meta, map[string]any{"id": m.ID, "key": m.Key, "value": m.Value, "provider": m.Provider, "timestamp": formatTime(m.Timestamp)})
	}
	out := map[string]any{
		"uri":            base + "/v2/storage/tables/" + t.ID,
		"id":             t.ID,
		"name":           t.Name,
		"displayName":    t.Name,
		"primaryKey":     nonNil(t.PrimaryKey),
		"created":        formatTime(t.Created),
		"lastImportDate": formatTimePtr(t.LastImportDate),
		"lastChangeDate": formatTimePtr(t.LastChangeDate),
		"rowsCount":      t.RowsCount,
		"dataSizeBytes":  t.DataSizeBytes,
		"isTyped":        true,
		"columns":        t.Columns,
		"definition":     map[string]any{"primaryKeysNames": nonNil(t.PrimaryKey), "columns": cols},
		"metadata":       meta,
		"columnMetadata": []any{},
	}
	if b != nil {
		out["bucket"] = map[string]any{"id": b.ID, "name": b.Name, "stage": b.Stage, "displayName": b.DisplayName}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// tableTask is the work of a tableDefinitionCreate job.
type tableTask struct {
	BucketID   string   `json:"bucketId"`
	Name       string   `json:"name"`
	Columns    []string `json:"columns"`
	PrimaryKey []string `json:"primaryKey"`
}

func (e *Emulator) handleCreateTable(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Name             string   `json:"name"`
		PrimaryKeysNames []string `json:"primaryKeysNames"`
		Columns          []struct {
			Name string `json:"name"`
		} `json:"columns"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	task := tableTask{BucketID: r.PathValue("bucket"), Name: body.Name, PrimaryKey: body.PrimaryKeysNames}
	for _, c := range body.Columns {
		task.Columns = append(task.Columns, c.Name)
	}
	if err := validateTable(task); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.bucketLocked(task.BucketID, tok); err != nil {
		return err
	}
	if !tok.canWriteBucket(task.BucketID) {
		return errForbidden("You don't have write access to the bucket %s", task.BucketID)
	}
	id := task.BucketID + "." + task.Name
	if _, ok := e.st.Tables[id]; ok {
		return errorf(http.StatusBadRequest, "storage.tables.alreadyExists", "The table %q already exists", id)
	}
	params := map[string]any{"name": task.Name, "primaryKeysNames": nonNil(task.PrimaryKey), "columns": body.Columns}
	j, err := e.queueJobLocked(r, "tableDefinitionCreate", "", tok, params, task)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, e.jobJSON(r, j))
	return nil
}

func validateTable(t tableTask) error {
	if !namePattern.MatchString(t.Name) {
		return errInvalid("Invalid table name %q", t.Name)
	}
	if len(t.Columns) == 0 {
		return errInvalid("A table needs at least one column")
	}
	for i, c := range t.Columns {
		if !namePattern.MatchString(c) {
			return errInvalid("Invalid column name %q", c)
		}
		if slices.Contains(t.Columns[:i], c) {
			return errInvalid("Duplicate column %q", c)
		}
	}
	for _, k := range t.PrimaryKey {
		if !slices.Contains(t.Columns, k) {
			return errInvalid("Primary key column %q is not a column of the table", k)
		}
	}
	return nil
}

// createTableLocked runs a tableDefinitionCreate job; e.mu must be held.
func (e *Emulator) createTableLocked(raw json.RawMessage) (*table, error) {
	var task tableTask
	if err := json.Unmarshal(raw, &task); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	id := task.BucketID + "." + task.Name
	if _, ok := e.st.Buckets[task.BucketID]; !ok {
		return nil, &jobFailure{code: "storage.buckets.notFound", message: "Bucket " + task.BucketID + " not found"}
	}
	if _, ok := e.st.Tables[id]; ok {
		return nil, &jobFailure{code: "storage.tables.alreadyExists", message: "The table " + id + " already exists"}
	}
	t := &table{ID: id, BucketID: task.BucketID, Name: task.Name, Columns: task.Columns, PrimaryKey: task.PrimaryKey, Created: now()}
	if err := e.writeRowsLocked(t, nil); err != nil {
		return nil, err
	}
	e.st.Tables[id] = t
	return t, nil
}

// tableLocked finds a table the token may read (or write); e.mu must be held.
func (e *Emulator) tableLocked(id string, tok *token, write bool) (*table, error) {
	t, ok := e.st.Tables[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, "storage.tables.notFound", "The table %q was not found in the bucket %q in the project \"%d\"", id, bucketOf(id), e.cfg.ProjectID)
	}
	if !tok.canReadBucket(t.BucketID) || (write && !tok.canWriteBucket(t.BucketID)) {
		return nil, errForbidden("You don't have access to the table %s", id)
	}
	return t, nil
}

func (e *Emulator) handleGetTable(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tableLocked(r.PathValue("table"), tok, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e.tableJSON(e.baseURL(r), t))
	return nil
}

func (e *Emulator) handleListTables(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.st.Tables))
	for id, t := range e.st.Tables {
		if tok.canReadBucket(t.BucketID) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, e.tableJSON(e.baseURL(r), e.st.Tables[id]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (e *Emulator) handleSetMetadata(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Provider string `json:"provider"`
		Metadata []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"metadata"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Provider) == "" {
		return errInvalid("provider is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.tableLocked(r.PathValue("table"), tok, true)
	if err != nil {
		return err
	}
	for _, m := range body.Metadata {
		i := slices.IndexFunc(t.Metadata, func(x metadata) bool { return x.Key == m.Key && x.Provider == body.Provider })
		entry := metadata{ID: fmt.Sprint(e.st.nextID()), Key: m.Key, Value: m.Value, Provider: body.Provider, Timestamp: now()}
		if i >= 0 {
			t.Metadata[i] = entry
		} else {
			t.Metadata = append(t.Metadata, entry)
		}
	}
	if err := e.saveLocked(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"metadata": e.tableJSON(e.baseURL(r), t)["metadata"], "columnsMetadata": map[string]any{}})
	return nil
}
