package storageapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Table is a Storage table with its columns and primary key.
type Table struct {
	ID             string           `json:"id"`
	Name           string           `json:"name"`
	DisplayName    string           `json:"displayName"`
	PrimaryKey     []string         `json:"primaryKey"`
	Columns        []string         `json:"columns"`
	Created        Time             `json:"created"`
	LastImportDate Time             `json:"lastImportDate"`
	LastChangeDate Time             `json:"lastChangeDate"`
	RowsCount      int64            `json:"rowsCount"`
	DataSizeBytes  int64            `json:"dataSizeBytes"`
	IsTyped        bool             `json:"isTyped"`
	Definition     *TableDefinition `json:"definition,omitempty"`
	Metadata       []Metadata       `json:"metadata"`
	Bucket         TableBucket      `json:"bucket"`
}

// TableBucket is the bucket summary inside a table.
type TableBucket struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Stage       string `json:"stage"`
	DisplayName string `json:"displayName"`
}

// TableDefinition is the typed definition of a table.
type TableDefinition struct {
	PrimaryKeysNames []string           `json:"primaryKeysNames"`
	Columns          []ColumnDefinition `json:"columns"`
}

// ColumnDefinition is one column of a typed table.
type ColumnDefinition struct {
	Name     string `json:"name"`
	BaseType string `json:"basetype,omitempty"`
}

// Metadata is one key/value pair on a table.
type Metadata struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	Value    string `json:"value"`
	Provider string `json:"provider"`
}

// CreateTableRequest defines a table of STRING columns with an optional primary key
// (a subset of Columns).
type CreateTableRequest struct {
	Name       string
	Columns    []string
	PrimaryKey []string
}

// GetTable reads a table; a missing table is ErrNotFound.
func (c *Client) GetTable(ctx context.Context, tableID string) (*Table, error) {
	var t Table
	if _, err := c.do(ctx, call{method: http.MethodGet, path: pathf("tables/%s", tableID), out: &t}); err != nil {
		return nil, fmt.Errorf("get table %s: %w", tableID, err)
	}
	return &t, nil
}

// ListTables lists the tables the token can see.
func (c *Client) ListTables(ctx context.Context) ([]Table, error) {
	var out []Table
	q := url.Values{"include": {"columns"}}
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "tables", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

// CreateTable creates a table in the bucket from a definition and waits for the job.
// An existing table is ErrAlreadyExists unless the create was retried, in which case
// the table is read back.
func (c *Client) CreateTable(ctx context.Context, bucketID string, req CreateTableRequest) (*Table, error) {
	type column struct {
		Name     string `json:"name"`
		BaseType string `json:"basetype"`
	}
	body := struct {
		Name             string   `json:"name"`
		PrimaryKeysNames []string `json:"primaryKeysNames"`
		Columns          []column `json:"columns"`
	}{Name: req.Name, PrimaryKeysNames: req.PrimaryKey}
	if body.PrimaryKeysNames == nil {
		body.PrimaryKeysNames = []string{}
	}
	for _, name := range req.Columns {
		body.Columns = append(body.Columns, column{Name: name, BaseType: "STRING"})
	}
	id := bucketID + "." + req.Name
	var job Job
	retried, err := c.do(ctx, call{method: http.MethodPost, path: pathf("buckets/%s/tables-definition", bucketID), body: body, out: &job})
	if err != nil && retried && errors.Is(err, ErrAlreadyExists) {
		return c.GetTable(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", id, err)
	}
	done, err := c.WaitForJob(ctx, job.ID)
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", id, err)
	}
	var t Table
	if err := json.Unmarshal(done.Results, &t); err != nil || t.ID == "" {
		return c.GetTable(ctx, id)
	}
	return &t, nil
}

// CheckColumns compares the table with the expected columns and primary key. Column
// order does not matter (imports name their columns); primary key order does not either.
// A difference is a *ColumnsMismatchError naming it, matching ErrColumnsMismatch.
func (t *Table) CheckColumns(columns, primaryKey []string) error {
	e := &ColumnsMismatchError{TableID: t.ID}
	for _, c := range columns {
		if !slices.Contains(t.Columns, c) {
			e.Missing = append(e.Missing, c)
		}
	}
	for _, c := range t.Columns {
		if !slices.Contains(columns, c) {
			e.Unexpected = append(e.Unexpected, c)
		}
	}
	have, want := slices.Sorted(slices.Values(t.PrimaryKey)), slices.Sorted(slices.Values(primaryKey))
	if !slices.Equal(have, want) {
		e.PrimaryKey, e.WantPrimaryKey = nonNil(t.PrimaryKey), nonNil(primaryKey)
	}
	if e.Missing == nil && e.Unexpected == nil && e.PrimaryKey == nil {
		return nil
	}
	return e
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ImportOptions are the import-async parameters.
type ImportOptions struct {
	// Incremental appends (or upserts by primary key); false replaces the table's contents.
	Incremental bool
	// WithoutHeaders: the file has no header row.
	WithoutHeaders bool
	// Columns are the file's columns in file order; the first line is then data.
	Columns []string
	// Delimiter and Enclosure default to "," and `"`.
	Delimiter, Enclosure string
}

// ImportFile starts an asynchronous import of a Storage file into the table and returns
// the job as created (status "waiting"). The caller should persist Job.ID before waiting,
// so that after a crash it re-polls the job instead of importing twice. The request is
// retried only when Storage refused it outright (429, 503 or a failed connect), since a
// retry after an ambiguous failure could start a second import.
func (c *Client) ImportFile(ctx context.Context, tableID string, fileID int64, opts ImportOptions) (*Job, error) {
	body := map[string]any{"dataFileId": fileID}
	if opts.Incremental {
		body["incremental"] = 1
	}
	if opts.WithoutHeaders {
		body["withoutHeaders"] = 1
	}
	if len(opts.Columns) > 0 {
		body["columns"] = opts.Columns
	}
	if opts.Delimiter != "" {
		body["delimiter"] = opts.Delimiter
	}
	if opts.Enclosure != "" {
		body["enclosure"] = opts.Enclosure
	}
	var job Job
	r := call{method: http.MethodPost, path: pathf("tables/%s/import-async", tableID), body: body, out: &job, onlyRefused: true}
	if _, err := c.do(ctx, r); err != nil {
		return nil, fmt.Errorf("import file %d into table %s: %w", fileID, tableID, err)
	}
	return &job, nil
}

// DataPreview returns up to limit rows of the table as RFC 4180 CSV with a header row
// (limit 0 means the server default of 100; the maximum is 1000).
func (c *Client) DataPreview(ctx context.Context, tableID string, limit int) ([]byte, error) {
	q := url.Values{"format": {"rfc"}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []byte
	if _, err := c.do(ctx, call{method: http.MethodGet, path: pathf("tables/%s/data-preview", tableID), query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("preview table %s: %w", tableID, err)
	}
	return out, nil
}

// SetTableMetadata stores key/value pairs on the table under the provider, replacing
// earlier values of the same keys.
func (c *Client) SetTableMetadata(ctx context.Context, tableID, provider string, metadata map[string]string) error {
	type entry struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	body := struct {
		Provider string  `json:"provider"`
		Metadata []entry `json:"metadata"`
	}{Provider: provider}
	for _, key := range slices.Sorted(maps.Keys(metadata)) {
		body.Metadata = append(body.Metadata, entry{Key: key, Value: metadata[key]})
	}
	if _, err := c.do(ctx, call{method: http.MethodPost, path: pathf("tables/%s/metadata", tableID), body: body}); err != nil {
		return fmt.Errorf("set metadata of table %s: %w", tableID, err)
	}
	return nil
}

// AddColumn adds a column to the table (tableColumnAdd) and waits for the job. A typed table
// (Table.IsTyped) takes the column with baseType (e.g. "STRING"), an untyped one with "".
func (c *Client) AddColumn(ctx context.Context, tableID, name, baseType string) error {
	body := map[string]string{"name": name}
	if baseType != "" {
		body["basetype"] = baseType
	}
	var job Job
	if _, err := c.do(ctx, call{method: http.MethodPost, path: pathf("tables/%s/columns", tableID), body: body, out: &job}); err != nil {
		return fmt.Errorf("add column %s to table %s: %w", name, tableID, err)
	}
	if _, err := c.WaitForJob(ctx, job.ID); err != nil {
		return fmt.Errorf("add column %s to table %s: %w", name, tableID, err)
	}
	return nil
}
