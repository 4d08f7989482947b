package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// sourceRecord is one source with its sinks: the unit the definitions store keeps, sealed when
// keys are configured (it holds the source's secret and the sinks' tokens).
type sourceRecord struct {
	Source Source `json:"source"`
	Sinks  []Sink `json:"sinks"`
}

// storedSource is a record as a definitions store returns it, with its version in the store.
type storedSource struct {
	rec     *sourceRecord
	version int64
}

// definitionStore keeps the sources' records: one sealed file per source in the data directory
// (localDefinitions, a single node) or the records of a log every replica shares
// (SharedDefinitions). The manager calls it with its lock held, one call at a time.
type definitionStore interface {
	// load returns every stored record, at New.
	load() ([]storedSource, error)
	// save stores rec, read at version expected (0: a source the store does not have), and
	// returns the record's new version; an error matching ErrConflict when another writer
	// changed it meanwhile.
	save(rec *sourceRecord, expected int64) (int64, error)
}

// localDefinitions stores each source as
// <dataDir>/definitions/<projectId>/<branchId>/<sourceId>.json. The data directory is locked
// by one process, so there is no concurrent writer: versions only count.
type localDefinitions struct {
	dataDir string
	ring    *durable.Keyring
}

func definitionsDir(dataDir string) string { return filepath.Join(dataDir, "definitions") }

func sourcePath(dataDir string, k SourceKey) string {
	return filepath.Join(definitionsDir(dataDir), strconv.FormatInt(k.ProjectID, 10),
		strconv.FormatInt(k.BranchID, 10), k.SourceID+".json")
}

func (l localDefinitions) save(rec *sourceRecord, expected int64) (int64, error) {
	path := sourcePath(l.dataDir, rec.Source.Key)
	if err := durable.MkdirAll(filepath.Dir(path)); err != nil {
		return 0, fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	if err := durable.WriteSealed(path, rec, l.ring); err != nil {
		return 0, fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	return expected + 1, nil
}

// load reads every stored source; a record in clear text or sealed with an older key is
// written again under the current key.
func (l localDefinitions) load() ([]storedSource, error) {
	var out []storedSource
	dir := definitionsDir(l.dataDir)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		var rec sourceRecord
		stale, err := durable.ReadSealed(path, &rec, l.ring)
		if err != nil {
			return err
		}
		if stale {
			if err := durable.WriteSealed(path, &rec, l.ring); err != nil {
				return err
			}
		}
		out = append(out, storedSource{rec: &rec, version: 1})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load definitions: %w", err)
	}
	return out, nil
}
