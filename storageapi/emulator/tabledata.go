package emulator

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxPreviewRows is the largest data-preview limit Storage accepts.
const maxPreviewRows = 1000

func (e *Emulator) tablePath(id string) string {
	return filepath.Join(e.cfg.DataDir, "tables", id+".csv")
}

// readRowsLocked reads a table's rows (without the header); e.mu must be held.
func (e *Emulator) readRowsLocked(t *table) ([][]string, error) {
	data, err := os.ReadFile(e.tablePath(t.key()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", t.ID, err)
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse table %s: %w", t.ID, err)
	}
	if len(records) == 0 {
		return nil, nil
	}
	return records[1:], nil
}

// writeRowsLocked replaces a table's rows atomically and updates its counters; e.mu must be held.
func (e *Emulator) writeRowsLocked(t *table, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(t.Columns); err != nil {
		return fmt.Errorf("write table %s: %w", t.ID, err)
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write table %s: %w", t.ID, err)
	}
	if err := writeFileAtomic(e.tablePath(t.key()), buf.Bytes()); err != nil {
		return err
	}
	t.RowsCount = int64(len(rows))
	t.DataSizeBytes = int64(buf.Len())
	return nil
}

// appendRowsLocked appends rows to a table without a primary key and updates its counters;
// e.mu must be held. The table file gets its header when it has none yet. A failed append is
// cut back, so the file holds either the old rows or the old and the new ones.
func (e *Emulator) appendRowsLocked(t *table, rows [][]string) error {
	path := e.tablePath(t.key())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if info.Size() == 0 {
		_ = w.Write(t.Columns)
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	if _, err = f.Write(buf.Bytes()); err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(info.Size())
		return fmt.Errorf("append to table %s: %w", t.ID, err)
	}
	t.RowsCount += int64(len(rows))
	t.DataSizeBytes = info.Size() + int64(buf.Len())
	return nil
}

func (e *Emulator) handleDataPreview(w http.ResponseWriter, r *http.Request, tok *token) error {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPreviewRows {
			return errInvalid("limit must be between 0 (the default) and %d, got %q", maxPreviewRows, v)
		}
		if n > 0 {
			limit = n
		}
	}
	format := q.Get("format")
	if format == "" {
		format = "rfc"
	}
	if format != "rfc" && format != "json" {
		return errInvalid("format must be rfc or json, got %q", format)
	}
	e.mu.Lock()
	t, err := e.requestTableLocked(r, tok, false)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	columns := slices.Clone(t.Columns)
	rows, err := e.readRowsLocked(t)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if rows, err = filterAndOrder(columns, rows, q); err != nil {
		return err
	}
	columns, rows, err = selectColumns(columns, rows, q.Get("columns"))
	if err != nil {
		return err
	}
	rows = rows[:min(limit, len(rows))]
	if format == "json" {
		writeJSON(w, http.StatusOK, previewJSON(columns, rows))
		return nil
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	_, err = w.Write(quotedCSV(columns, rows))
	return err
}

// selectColumns keeps the comma-separated columns, in that order; empty keeps all.
func selectColumns(columns []string, rows [][]string, want string) ([]string, [][]string, error) {
	if want == "" {
		return columns, rows, nil
	}
	names := strings.Split(want, ",")
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = slices.Index(columns, n); idx[i] < 0 {
			return nil, nil, errInvalid("unknown column %q", n)
		}
	}
	out := make([][]string, len(rows))
	for r, row := range rows {
		out[r] = make([]string, len(idx))
		for i, j := range idx {
			out[r][i] = row[j]
		}
	}
	return names, out, nil
}

// quotedCSV renders RFC 4180 CSV with every value quoted, as Storage's preview does.
func quotedCSV(columns []string, rows [][]string) []byte {
	var b bytes.Buffer
	line := func(values []string) {
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(v, `"`, `""`))
			b.WriteByte('"')
		}
		b.WriteByte('\n')
	}
	line(columns)
	for _, r := range rows {
		line(r)
	}
	return b.Bytes()
}

func previewJSON(columns []string, rows [][]string) map[string]any {
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		cells := make([]any, len(columns))
		for i, c := range columns {
			v := row[i]
			truncated := len(v) > 16384
			if truncated {
				v = v[:16384]
			}
			cells[i] = map[string]any{"columnName": c, "value": v, "isTruncated": truncated}
		}
		out = append(out, cells)
	}
	return map[string]any{"columns": columns, "rows": out}
}
