package emulator

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// previewFilter is one whereFilters[i] of a data preview: the rows whose column compares
// with the values by the operator (eq: any of them, ne: none of them, the others: the first).
type previewFilter struct {
	column   int
	operator string
	values   []string
	numeric  bool
}

// previewOrder is one orderBy[i] of a data preview.
type previewOrder struct {
	column  int
	desc    bool
	numeric bool
}

// numericTypes are the dataType values that compare as numbers.
var numericTypes = map[string]bool{"INTEGER": true, "DOUBLE": true, "BIGINT": true, "REAL": true, "DECIMAL": true, "NUMERIC": true, "FLOAT": true}

// filterAndOrder applies a data preview's whereFilters[i][column|operator|values][j|dataType]
// and orderBy[i][column|order|dataType] (PHP-style array keys, as go-client sends them) to
// the rows of the table's columns. It returns a new slice; rows are not modified.
func filterAndOrder(columns []string, rows [][]string, q url.Values) ([][]string, error) {
	filters, err := parseFilters(columns, q)
	if err != nil {
		return nil, err
	}
	orders, err := parseOrders(columns, q)
	if err != nil {
		return nil, err
	}
	if len(filters) == 0 && len(orders) == 0 {
		return rows, nil
	}
	out := make([][]string, 0, len(rows))
	for _, row := range rows {
		if matchesAll(row, filters) {
			out = append(out, row)
		}
	}
	slices.SortStableFunc(out, func(a, b []string) int {
		for _, o := range orders {
			c := compareCells(a[o.column], b[o.column], o.numeric)
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return out, nil
}

func parseFilters(columns []string, q url.Values) ([]previewFilter, error) {
	var out []previewFilter
	for i := 0; ; i++ {
		p := fmt.Sprintf("whereFilters[%d]", i)
		name := q.Get(p + "[column]")
		if name == "" {
			break
		}
		f := previewFilter{column: slices.Index(columns, name), operator: q.Get(p + "[operator]"),
			numeric: numericTypes[strings.ToUpper(q.Get(p+"[dataType]"))]}
		if f.column < 0 {
			return nil, errInvalid("%s[column]: unknown column %q", p, name)
		}
		if f.operator == "" {
			f.operator = "eq"
		}
		if !slices.Contains([]string{"eq", "ne", "gt", "ge", "lt", "le"}, f.operator) {
			return nil, errInvalid("%s[operator]: %q is not one of eq, ne, gt, ge, lt, le", p, f.operator)
		}
		for j := 0; ; j++ {
			v, ok := q[fmt.Sprintf("%s[values][%d]", p, j)]
			if !ok {
				break
			}
			f.values = append(f.values, v[0])
		}
		f.values = append(f.values, q[p+"[values][]"]...)
		if len(f.values) == 0 {
			return nil, errInvalid("%s[values]: at least one value is required", p)
		}
		if f.numeric {
			for _, v := range f.values {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					return nil, errInvalid("%s[values]: %q is not a number", p, v)
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func parseOrders(columns []string, q url.Values) ([]previewOrder, error) {
	var out []previewOrder
	for i := 0; ; i++ {
		p := fmt.Sprintf("orderBy[%d]", i)
		name := q.Get(p + "[column]")
		if name == "" {
			break
		}
		o := previewOrder{column: slices.Index(columns, name), numeric: numericTypes[strings.ToUpper(q.Get(p+"[dataType]"))]}
		if o.column < 0 {
			return nil, errInvalid("%s[column]: unknown column %q", p, name)
		}
		switch strings.ToUpper(q.Get(p + "[order]")) {
		case "", "ASC":
		case "DESC":
			o.desc = true
		default:
			return nil, errInvalid("%s[order]: %q is not ASC or DESC", p, q.Get(p+"[order]"))
		}
		out = append(out, o)
	}
	return out, nil
}

func matchesAll(row []string, filters []previewFilter) bool {
	for _, f := range filters {
		if !f.matches(row[f.column]) {
			return false
		}
	}
	return true
}

func (f previewFilter) matches(cell string) bool {
	switch f.operator {
	case "eq":
		return slices.ContainsFunc(f.values, func(v string) bool { return compareCells(cell, v, f.numeric) == 0 })
	case "ne":
		return !slices.ContainsFunc(f.values, func(v string) bool { return compareCells(cell, v, f.numeric) == 0 })
	}
	c := compareCells(cell, f.values[0], f.numeric)
	switch f.operator {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0 // le
}

// compareCells compares as numbers when numeric (a cell that is not a number sorts first),
// else as strings.
func compareCells(a, b string, numeric bool) int {
	if !numeric {
		return strings.Compare(a, b)
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return cmp.Compare(x, y)
}
