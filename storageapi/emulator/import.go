package emulator

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// importTask is the work of a tableImport job.
type importTask struct {
	Branch         int64    `json:"branch,omitempty"`
	TableID        string   `json:"tableId"`
	FileID         int64    `json:"fileId"`
	Incremental    bool     `json:"incremental"`
	WithoutHeaders bool     `json:"withoutHeaders"`
	Columns        []string `json:"columns"`
	Delimiter      string   `json:"delimiter"`
}

func (e *Emulator) handleImport(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		DataFileID     flexInt  `json:"dataFileId"`
		Incremental    flexBool `json:"incremental"`
		WithoutHeaders flexBool `json:"withoutHeaders"`
		Columns        []string `json:"columns"`
		Delimiter      string   `json:"delimiter"`
		Enclosure      string   `json:"enclosure"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.DataFileID <= 0 {
		return errInvalid("dataFileId is required")
	}
	if body.Delimiter == "" {
		body.Delimiter = ","
	}
	if utf8.RuneCountInString(body.Delimiter) != 1 {
		return errInvalid("delimiter must be one character, got %q", body.Delimiter)
	}
	if body.Enclosure != "" && body.Enclosure != `"` {
		return errInvalid(`the emulator supports only the enclosure '"', got %q`, body.Enclosure)
	}
	task := importTask{TableID: r.PathValue("table"), FileID: int64(body.DataFileID), Incremental: bool(body.Incremental),
		WithoutHeaders: bool(body.WithoutHeaders), Columns: body.Columns, Delimiter: body.Delimiter}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.requestTableLocked(r, tok, true)
	if err != nil {
		return err
	}
	task.Branch = t.Branch
	if _, err := e.fileLocked(fmt.Sprint(task.FileID), tok); err != nil {
		return err
	}
	params := map[string]any{
		"params": map[string]any{"incremental": task.Incremental, "withoutHeaders": task.WithoutHeaders,
			"columns": nonNil(task.Columns), "delimiter": task.Delimiter, "enclosure": `"`},
		"source": map[string]any{"fileId": task.FileID, "type": "file"},
		"queue":  "main_fast",
	}
	j, err := e.queueJobLocked(r, "tableImport", task.TableID, tok, params, task)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, e.jobJSON(r, j))
	return nil
}

// importLocked runs a tableImport job with Storage's semantics: non-incremental replaces
// the rows; incremental appends, or upserts by primary key (the last row of a key wins).
// e.mu must be held.
func (e *Emulator) importLocked(raw json.RawMessage) (any, error) {
	var task importTask
	if err := json.Unmarshal(raw, &task); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	t, ok := e.st.Tables[objectKey(task.Branch, task.TableID)]
	if !ok {
		return nil, &jobFailure{code: "storage.tables.notFound", message: "Table " + task.TableID + " not found"}
	}
	f, ok := e.st.Files[task.FileID]
	if !ok {
		return nil, &jobFailure{code: "storage.files.notFound", message: fmt.Sprintf("File %d not found", task.FileID)}
	}
	data, err := e.fileContentLocked(f)
	if err != nil {
		return nil, err
	}
	fileColumns, rows, err := parseImport(data, task, t.Columns)
	if err != nil {
		return nil, err
	}
	switch {
	case task.Incremental && len(t.PrimaryKey) == 0:
		// Appending needs no merge: write only the new rows, so an import costs what it
		// brings, not what the table already holds.
		if err := e.appendRowsLocked(t, rows); err != nil {
			return nil, err
		}
	case task.Incremental:
		// An upsert writes the new versions of the rows it brings and points their slots
		// at them: the rows the table holds are neither read nor rewritten.
		if err := e.upsertRowsLocked(t, rows); err != nil {
			return nil, err
		}
	default:
		if err := e.writeRowsLocked(t, rows); err != nil {
			return nil, err
		}
	}
	ts := now()
	t.LastImportDate, t.LastChangeDate = &ts, &ts
	return map[string]any{"importedRowsCount": len(rows), "warnings": []any{}, "importedColumns": fileColumns,
		"totalRowsCount": t.RowsCount, "totalDataSizeBytes": t.DataSizeBytes}, nil
}

// fileContentLocked is the file's CSV: the blob itself, or its manifest's slices in order,
// each gunzipped when named *.gz or starting with the gzip magic.
func (e *Emulator) fileContentLocked(f *file) ([]byte, error) {
	if !f.IsSliced {
		return e.sliceContentLocked(f.Container, f.BlobName)
	}
	raw, err := e.readBlobLocked(f.Container, f.BlobName+"manifest")
	if err != nil {
		return nil, &jobFailure{code: "storage.import.missingManifest", message: "Manifest of the sliced file is missing: " + err.Error()}
	}
	var manifest struct {
		Entries []struct {
			URL string `json:"url"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, &jobFailure{code: "storage.import.invalidManifest", message: "Manifest is not valid JSON: " + err.Error()}
	}
	var out bytes.Buffer
	for _, entry := range manifest.Entries {
		u, err := url.Parse(entry.URL)
		container, blob, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if err != nil || u.Scheme != "azure" || !ok {
			return nil, &jobFailure{code: "storage.import.invalidManifest", message: "Invalid manifest entry " + entry.URL}
		}
		data, err := e.sliceContentLocked(container, blob)
		if err != nil {
			return nil, err
		}
		out.Write(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), nil
}

func (e *Emulator) sliceContentLocked(container, blob string) ([]byte, error) {
	data, err := e.readBlobLocked(container, blob)
	if err != nil {
		return nil, &jobFailure{code: "storage.import.missingSlice", message: "Slice is missing: " + err.Error()}
	}
	if !strings.HasSuffix(blob, ".gz") && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err == nil {
		data, err = io.ReadAll(zr)
	}
	if err != nil {
		return nil, &jobFailure{code: "storage.import.invalidGzip", message: fmt.Sprintf("Slice %s is not valid gzip: %v", blob, err)}
	}
	return data, nil
}

// parseImport parses the CSV and maps its columns onto the table's column order.
func parseImport(data []byte, task importTask, tableColumns []string) ([]string, [][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma, _ = utf8.DecodeRuneInString(task.Delimiter)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		return nil, nil, &jobFailure{code: "storage.import.invalidCsv", message: "Invalid CSV: " + err.Error()}
	}
	fileColumns := task.Columns
	switch {
	case len(fileColumns) > 0:
	case task.WithoutHeaders:
		fileColumns = tableColumns
	case len(records) > 0:
		fileColumns, records = records[0], records[1:]
	}
	var unknown, missing []string
	idx := make([]int, len(fileColumns))
	for i, c := range fileColumns {
		if idx[i] = slices.Index(tableColumns, c); idx[i] < 0 {
			unknown = append(unknown, c)
		}
	}
	for _, c := range tableColumns {
		// An incremental load may bring a subset of the columns: the others stay empty.
		if !slices.Contains(fileColumns, c) && !task.Incremental {
			missing = append(missing, c)
		}
	}
	if len(unknown) > 0 || len(missing) > 0 {
		return nil, nil, &jobFailure{code: "storage.import.columnsMismatch",
			message: fmt.Sprintf("Columns of the file do not match the table: unknown [%s], missing [%s]", strings.Join(unknown, ", "), strings.Join(missing, ", "))}
	}
	rows := make([][]string, 0, len(records))
	for n, rec := range records {
		if len(rec) != len(fileColumns) {
			return nil, nil, &jobFailure{code: "storage.import.invalidCsv",
				message: fmt.Sprintf("Invalid CSV: row %d has %d values, expected %d", n+1, len(rec), len(fileColumns))}
		}
		row := make([]string, len(tableColumns))
		for i, v := range rec {
			row[idx[i]] = v
		}
		rows = append(rows, row)
	}
	return slices.Clone(fileColumns), rows, nil
}
