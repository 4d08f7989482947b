package durable_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kbridge/kbridge/storageapi/durable"
)

func TestWriteReadReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	for i := range 3 {
		if err := durable.Write(path, map[string]int{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]int
	if err := durable.Read(path, &got); err != nil || got["v"] != 2 {
		t.Fatalf("%v %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "r.json.123.tmp"), []byte("torn"), 0o644)
	if err := durable.Clean(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %v", entries)
	}
}
