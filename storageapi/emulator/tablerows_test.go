package emulator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An upsert into a table with a primary key replaces each row of a key where it stands (the
// last row of a key in the import wins), adds new keys at the end, and appends only the rows
// it brings to the table's data: the rows already held are not rewritten. After a restart the
// key index is rebuilt from disk and upserts go on the same way.
func TestUpsertAppendsAndKeepsKeyOrder(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	_, base, stop := serve(t, cfg)
	a := newAPI(t, base, masterToken)
	setupOrders(t, a)
	data := filepath.Join(cfg.DataDir, "tables", "in.c-shop.orders.csv")
	preview := func(a *api) string {
		return string(a.expect(200, "GET", "/v2/storage/tables/in.c-shop.orders/data-preview", ""))
	}
	rowsCount := func(a *api) float64 {
		var tbl map[string]any
		if err := json.Unmarshal(a.expect(200, "GET", "/v2/storage/tables/in.c-shop.orders", ""), &tbl); err != nil {
			t.Fatal(err)
		}
		return tbl["rowsCount"].(float64)
	}
	read := func() string {
		b, err := os.ReadFile(data)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	waitJob(t, a, startImport(t, a, "1,a\n2,b\n", "3,c\n")["id"], "success")
	before := read()
	waitJob(t, a, startImport(t, a, "2,B\n4,d\n", "2,BB\n1,A\n")["id"], "success")
	if got, want := preview(a), `"id","payload"`+"\n"+`"1","A"`+"\n"+`"2","BB"`+"\n"+`"3","c"`+"\n"+`"4","d"`+"\n"; got != want {
		t.Fatalf("after the upsert:\n%s\nwant:\n%s", got, want)
	}
	if got := rowsCount(a); got != 4 {
		t.Errorf("rowsCount = %v, want 4", got)
	}
	after := read()
	if !strings.HasPrefix(after, before) {
		t.Fatalf("the upsert rewrote the rows held:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if tail := after[len(before):]; tail != "1,A\n2,BB\n4,d\n" {
		t.Errorf("the upsert wrote %q, want only the new version of each key it brings", tail)
	}

	stop()
	_, base, _ = serve(t, cfg)
	a = newAPI(t, base, masterToken)
	waitJob(t, a, startImport(t, a, "3,C\n5,e\n", "1,A2\n")["id"], "success")
	want := `"id","payload"` + "\n" + `"1","A2"` + "\n" + `"2","BB"` + "\n" + `"3","C"` + "\n" + `"4","d"` + "\n" + `"5","e"` + "\n"
	if got := preview(a); got != want {
		t.Fatalf("after a restart and an upsert:\n%s\nwant:\n%s", got, want)
	}
	if got := rowsCount(a); got != 5 {
		t.Errorf("rowsCount after the restart = %v, want 5", got)
	}
}
