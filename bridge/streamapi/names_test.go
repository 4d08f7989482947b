package streamapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Table, bucket and column names Storage refuses are refused at sink creation and patch with a
// 400 naming the field, instead of a sink whose every import fails.
func TestStorageNamesRefusedAtCreation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.as(t, masterToken, "POST", "/v1/branches/default/sources", `{"sourceId":"shop","name":"Shop","type":"http"}`, http.StatusAccepted)
	body := func(tableID, column string) string {
		b, _ := json.Marshal(map[string]any{"name": "Orders", "sinkId": "orders", "type": "table", "table": map[string]any{
			"type": "keboola", "tableId": tableID, "mapping": map[string]any{"columns": []map[string]any{
				{"type": "uuid", "name": "id"}, {"type": "body", "name": column}}}}})
		return string(b)
	}
	const sinks = "/v1/branches/default/sources/shop/sinks"
	for _, c := range []struct{ tableID, column, field string }{
		{"in.c-shop.t;DROP TABLE x", "body", `tableId: table id "in.c-shop.t;DROP TABLE x": the table name`},
		{"in.c-shop." + strings.Repeat("t", 300), "body", "tableId: table id"},
		{"in.c-shop.tábulka", "body", `the table name "tábulka"`},
		{`in.c-shop.t"q`, "body", `the table name "t\"q"`},
		{"in.c-sh op.orders", "body", `the bucket name "sh op"`},
		{"in.c-.orders", "body", `the bucket name ""`},
		{"in.c-shop.orders", "a b", `column 2 "a b": name:`},
		{"in.c-shop.orders", "_timestamp", `column 2 "_timestamp": name:`},
		{"in.c-shop.orders", strings.Repeat("c", 65), `name: want 1 to 64`},
		{"in.c-shop.orders", "😀", `column 2 "😀": name:`},
		{"in.c-shop.orders", `x"; DROP`, `name: want 1 to 64`},
	} {
		got := e.as(t, masterToken, "POST", sinks, body(c.tableID, c.column), http.StatusBadRequest)
		var env struct {
			StatusCode int    `json:"statusCode"`
			Error      string `json:"error"`
			Message    string `json:"message"`
		}
		if err := json.Unmarshal([]byte(got), &env); err != nil || env.StatusCode != 400 || !strings.Contains(env.Message, c.field) {
			t.Errorf("table %q column %q: %s, want a 400 naming %q", c.tableID, c.column, got, c.field)
		}
	}
	e.as(t, masterToken, "POST", sinks, body("in.c-shop.orders", "body_2"), http.StatusAccepted)
	patch := fmt.Sprintf(`{"table":{"type":"keboola","tableId":%q}}`, "in.c-shop.bad name")
	if got := e.as(t, masterToken, "PATCH", sinks+"/orders", patch, http.StatusBadRequest); !strings.Contains(got, `the table name \"bad name\"`) {
		t.Errorf("patch: %s", got)
	}
}
