package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// sourceRecord is one source with its sinks, stored as
// <dataDir>/definitions/<projectId>/<branchId>/<sourceId>.json.
type sourceRecord struct {
	Source Source `json:"source"`
	Sinks  []Sink `json:"sinks"`
}

func definitionsDir(dataDir string) string { return filepath.Join(dataDir, "definitions") }

func sourcePath(dataDir string, k SourceKey) string {
	return filepath.Join(definitionsDir(dataDir), strconv.FormatInt(k.ProjectID, 10),
		strconv.FormatInt(k.BranchID, 10), k.SourceID+".json")
}

func saveSource(dataDir string, rec *sourceRecord) error {
	path := sourcePath(dataDir, rec.Source.Key)
	if err := durable.MkdirAll(filepath.Dir(path)); err != nil {
		return fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	if err := durable.Write(path, rec); err != nil {
		return fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	return nil
}

// loadSources reads every stored source.
func loadSources(dataDir string) ([]*sourceRecord, error) {
	var out []*sourceRecord
	err := filepath.WalkDir(definitionsDir(dataDir), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == definitionsDir(dataDir) {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		var rec sourceRecord
		if err := durable.Read(path, &rec); err != nil {
			return err
		}
		out = append(out, &rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load definitions: %w", err)
	}
	return out, nil
}
