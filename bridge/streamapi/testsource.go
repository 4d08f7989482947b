package streamapi

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
)

// TestResult is the answer of the test endpoint: each enabled sink's row for the request.
type TestResult struct {
	ProjectID int64       `json:"projectId"`
	BranchID  int64       `json:"branchId"`
	SourceID  string      `json:"sourceId"`
	Tables    []TestTable `json:"tables"`
}

// TestTable is one sink's rendered row.
type TestTable struct {
	SinkID  string    `json:"sinkId"`
	TableID string    `json:"tableId"`
	Rows    []TestRow `json:"rows"`
}

// TestRow holds the CSV cell of each column.
type TestRow struct {
	Columns []TestColumn `json:"columns"`
}

// TestColumn is one cell.
type TestColumn struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// testSource renders the request as one record through every enabled sink without writing.
func (s *Server) testSource(c *call) (int, any, error) {
	src, err := s.source(c)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(c.r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return 0, nil, httperr.New(http.StatusRequestEntityTooLarge, "stream.api.bodyTooLarge", "The request body is larger than %d bytes.", mbe.Limit)
	}
	if err != nil {
		return 0, nil, httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Cannot read the body: %v.", err)
	}
	h := c.r.Header.Clone()
	h.Del("X-StorageApi-Token")
	h.Del("Authorization")
	ev := mapping.Event{Body: body, Header: h, ClientIP: testClientIP(c.r), ReceivedAt: s.now()}
	defs, err := s.m.Sinks(src.Key)
	if err != nil {
		return 0, nil, err
	}
	out := TestResult{ProjectID: src.Key.ProjectID, BranchID: src.Key.BranchID, SourceID: src.Key.SourceID, Tables: []TestTable{}}
	for _, def := range defs {
		if def.Disabled {
			continue
		}
		m, err := mapping.CompileStored(def.Columns, s.mcfg)
		if err != nil {
			return 0, nil, err
		}
		values, err := m.NewRenderer().Values(&ev)
		if err != nil {
			return 0, nil, httperr.New(http.StatusUnprocessableEntity, "stream.api.unprocessableContent", "%s", httperr.Sentence(err.Error()))
		}
		row := TestRow{}
		for i, name := range m.Names() {
			row.Columns = append(row.Columns, TestColumn{Name: name, Value: values[i]})
		}
		out.Tables = append(out.Tables, TestTable{SinkID: def.Key.SinkID, TableID: def.TableID, Rows: []TestRow{row}})
	}
	return http.StatusOK, out, nil
}

// testClientIP is X-Real-IP, then the first X-Forwarded-For address, then the peer, as
// Keboola's test endpoint does.
func testClientIP(r *http.Request) netip.Addr {
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return a.Unmap()
	}
	first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
	if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
