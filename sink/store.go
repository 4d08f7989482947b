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
// <dataDir>/definitions/<projectId>/<branchId>/<sourceId>.json, sealed when keys are
// configured (it holds the source's secret).
type sourceRecord struct {
	Source Source `json:"source"`
	Sinks  []Sink `json:"sinks"`
}

func definitionsDir(dataDir string) string { return filepath.Join(dataDir, "definitions") }

func sourcePath(dataDir string, k SourceKey) string {
	return filepath.Join(definitionsDir(dataDir), strconv.FormatInt(k.ProjectID, 10),
		strconv.FormatInt(k.BranchID, 10), k.SourceID+".json")
}

func saveSource(dataDir string, rec *sourceRecord, ring *durable.Keyring) error {
	path := sourcePath(dataDir, rec.Source.Key)
	if err := durable.MkdirAll(filepath.Dir(path)); err != nil {
		return fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	if err := durable.WriteSealed(path, rec, ring); err != nil {
		return fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	return nil
}

// loadSources reads every stored source; a record in clear text or sealed with an older key
// is written again under the current key.
func loadSources(dataDir string, ring *durable.Keyring) ([]*sourceRecord, error) {
	var out []*sourceRecord
	err := filepath.WalkDir(definitionsDir(dataDir), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == definitionsDir(dataDir) {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		var rec sourceRecord
		stale, err := durable.ReadSealed(path, &rec, ring)
		if err != nil {
			return err
		}
		if stale {
			if err := durable.WriteSealed(path, &rec, ring); err != nil {
				return err
			}
		}
		out = append(out, &rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load definitions: %w", err)
	}
	return out, nil
}
