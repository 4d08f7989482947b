package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

func (e *Emulator) tableJSON(base string, t *table) map[string]any {
	b := e.st.Buckets[objectKey(t.Branch, t.BucketID)]
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
		"isTyped":        t.Types != nil,
		"columns":        t.Columns,
		"metadata":       metadataJSON(t.Metadata),
		"columnMetadata": e.columnMetadataJSON(t),
	}
	if t.RowsCount == 0 {
		out["dataSizeBytes"] = 0 // Storage counts data, not the emulator's header line
	}
	if t.Types != nil {
		out["definition"] = definitionJSON(t)
	}
	if b != nil {
		out["bucket"] = map[string]any{"id": b.ID, "uri": base + "/v2/storage/buckets/" + b.ID, "name": b.Name, "stage": b.Stage,
			"displayName": b.DisplayName, "description": b.Description, "created": formatTime(b.Created),
			"lastChangeDate": nil, "isReadOnly": false, "backend": "snowflake"}
	}
	return out
}

func metadataJSON(list []metadata) []any {
	out := make([]any, 0, len(list))
	for _, m := range list {
		out = append(out, map[string]any{"id": m.ID, "key": m.Key, "value": m.Value, "provider": m.Provider, "timestamp": formatTime(m.Timestamp)})
	}
	return out
}

// columnMetadataJSON is {"column": [metadata...]}, or [] when no column has any (Storage
// sends an empty JSON array then, which go-client accepts).
func (e *Emulator) columnMetadataJSON(t *table) any {
	if len(t.ColumnMetadata) == 0 {
		return []any{}
	}
	out := map[string]any{}
	for c, list := range t.ColumnMetadata {
		out[c] = metadataJSON(list)
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
	Branch     int64                 `json:"branch,omitempty"`
	BucketID   string                `json:"bucketId"`
	Name       string                `json:"name"`
	Columns    []string              `json:"columns"`
	PrimaryKey []string              `json:"primaryKey"`
	Types      map[string]columnType `json:"types,omitempty"` // nil: an untyped table
}

func (e *Emulator) handleCreateTable(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Name             string       `json:"name"`
		PrimaryKeysNames []string     `json:"primaryKeysNames"`
		Columns          []columnBody `json:"columns"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	task := tableTask{BucketID: r.PathValue("bucket"), Name: body.Name, PrimaryKey: body.PrimaryKeysNames}
	typed := 0
	for _, c := range body.Columns {
		task.Columns = append(task.Columns, c.Name)
		ct, ok, err := typeOf(c, slices.Contains(body.PrimaryKeysNames, c.Name))
		if err != nil {
			return err
		}
		if ok {
			if task.Types == nil {
				task.Types = map[string]columnType{}
			}
			task.Types[c.Name] = ct
			typed++
		}
	}
	if typed > 0 && typed < len(body.Columns) {
		return errInvalid("Either every column or none has a type (basetype or definition)")
	}
	if err := validateTable(task); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return err
	}
	task.Branch = branch
	if _, err := e.bucketLocked(branch, task.BucketID, tok); err != nil {
		return err
	}
	if !tok.canWriteBucket(task.BucketID) {
		return errForbidden("You don't have write access to the bucket %s", task.BucketID)
	}
	id := task.BucketID + "." + task.Name
	if _, ok := e.st.Tables[objectKey(branch, id)]; ok {
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
	if _, ok := e.st.Buckets[objectKey(task.Branch, task.BucketID)]; !ok {
		return nil, &jobFailure{code: "storage.buckets.notFound", message: "Bucket " + task.BucketID + " not found"}
	}
	if _, ok := e.st.Tables[objectKey(task.Branch, id)]; ok {
		return nil, &jobFailure{code: "storage.tables.alreadyExists", message: "The table " + id + " already exists"}
	}
	t := &table{Branch: task.Branch, ID: id, BucketID: task.BucketID, Name: task.Name, Columns: task.Columns,
		PrimaryKey: task.PrimaryKey, Created: now(), Types: task.Types}
	if err := e.writeRowsLocked(t, nil); err != nil {
		return nil, err
	}
	e.st.Tables[t.key()] = t
	return t, nil
}

// requestTableLocked finds the request's table ({branch} and {table} path values) the token
// may read (or write); e.mu must be held.
func (e *Emulator) requestTableLocked(r *http.Request, tok *token, write bool) (*table, error) {
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return nil, err
	}
	return e.tableLocked(branch, r.PathValue("table"), tok, write)
}

// tableLocked finds a table of the branch the token may read (or write); e.mu must be held.
func (e *Emulator) tableLocked(branch int64, id string, tok *token, write bool) (*table, error) {
	t, ok := e.st.Tables[objectKey(branch, id)]
	if !ok {
		return nil, errorf(http.StatusNotFound, "storage.tables.notFound", "The table %q was not found in the bucket %q in the project \"%d\"", id, bucketOf(id), e.cfg.ProjectID)
	}
	if !tok.canReadBucket(t.BucketID) {
		return nil, errForbidden("You don't have access to the table %s", id)
	}
	if write && !tok.canWriteBucket(t.BucketID) {
		return nil, errForbidden("You don't have write access to the bucket %s", t.BucketID)
	}
	return t, nil
}

func (e *Emulator) handleGetTable(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.requestTableLocked(r, tok, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e.tableJSON(e.baseURL(r), t))
	return nil
}

func (e *Emulator) handleListTables(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(e.st.Tables))
	for key, t := range e.st.Tables {
		if t.Branch == branch && tok.canReadBucket(t.BucketID) {
			ids = append(ids, key)
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

type metadataEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// handleSetMetadata creates or updates table metadata and column metadata (go-client sends
// the columns' entries as {"columnsMetadata": {"all": [{columnName, key, value}]}}).
func (e *Emulator) handleSetMetadata(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Provider        string          `json:"provider"`
		Metadata        []metadataEntry `json:"metadata"`
		ColumnsMetadata map[string][]struct {
			ColumnName string `json:"columnName"`
			metadataEntry
		} `json:"columnsMetadata"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Provider) == "" {
		return errInvalid("provider is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.requestTableLocked(r, tok, true)
	if err != nil {
		return err
	}
	for group, entries := range body.ColumnsMetadata {
		for _, m := range entries {
			col := m.ColumnName
			if col == "" {
				col = group // the form keyed by column name
			}
			if !slices.Contains(t.Columns, col) {
				return errInvalid("Column %q is not a column of the table %s", col, t.ID)
			}
		}
	}
	for _, m := range body.Metadata {
		t.Metadata = e.upsertMetadata(t.Metadata, body.Provider, m)
	}
	for group, entries := range body.ColumnsMetadata {
		for _, m := range entries {
			col := m.ColumnName
			if col == "" {
				col = group
			}
			if t.ColumnMetadata == nil {
				t.ColumnMetadata = map[string][]metadata{}
			}
			t.ColumnMetadata[col] = e.upsertMetadata(t.ColumnMetadata[col], body.Provider, m.metadataEntry)
		}
	}
	if err := e.saveLocked(); err != nil {
		return err
	}
	columns := e.columnMetadataJSON(t)
	if _, empty := columns.([]any); empty {
		columns = map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"metadata": metadataJSON(t.Metadata), "columnsMetadata": columns})
	return nil
}

// upsertMetadata replaces the provider's entry of the key or appends one.
func (e *Emulator) upsertMetadata(list []metadata, provider string, m metadataEntry) []metadata {
	entry := metadata{ID: fmt.Sprint(e.st.nextID()), Key: m.Key, Value: m.Value, Provider: provider, Timestamp: now()}
	if i := slices.IndexFunc(list, func(x metadata) bool { return x.Key == m.Key && x.Provider == provider }); i >= 0 {
		list[i] = entry
		return list
	}
	return append(list, entry)
}
