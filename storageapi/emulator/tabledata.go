package emulator

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxPreviewRows is the largest data-preview limit Storage accepts.
const maxPreviewRows = 1000

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
