package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// Every version of a definition is kept as a copy, as Keboola keeps one per entity and
// version: <dataDir>/versions/<projectId>/<branchId>/<sourceId>/source/<number>.json and
// …/<sourceId>/sinks/<sinkId>/<number>.json. Copies hold no secret: a rollback keeps the
// source's current secret.

// ErrVersionNotFound is returned for a version number that was never stored.
var ErrVersionNotFound = errors.New("version not found")

func versionsDir(dataDir string, k SourceKey) string {
	return filepath.Join(dataDir, "versions", strconv.FormatInt(k.ProjectID, 10), strconv.FormatInt(k.BranchID, 10), k.SourceID)
}

func sourceVersionsDir(dataDir string, k SourceKey) string {
	return filepath.Join(versionsDir(dataDir, k), "source")
}

func sinkVersionsDir(dataDir string, k SinkKey) string {
	return filepath.Join(versionsDir(dataDir, k.SourceKey), "sinks", k.SinkID)
}

func versionFile(dir string, n int) string { return filepath.Join(dir, fmt.Sprintf("%010d.json", n)) }

func saveVersion(dir string, n int, v any) error {
	if err := durable.MkdirAll(dir); err != nil {
		return fmt.Errorf("save version %d: %w", n, err)
	}
	if err := durable.Write(versionFile(dir, n), v); err != nil {
		return fmt.Errorf("save version %d: %w", n, err)
	}
	return nil
}

// loadVersions reads every version in dir, oldest first.
func loadVersions[T any](dir string) ([]T, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	var out []T
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var v T
		if err := durable.Read(filepath.Join(dir, e.Name()), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// versionHash is 16 hex digits of the SHA-256 of the definition without its history: two
// versions with the same content have the same hash.
func versionHash(v any) string {
	data, _ := json.Marshal(v) // definitions always encode: Validate passed
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func (s Source) contentHash() string {
	s.History, s.Secret = History{}, ""
	return versionHash(s)
}

func (s Sink) contentHash() string {
	s.History, s.Token = History{}, nil
	return versionHash(s)
}

// nextVersion fills h as the next version after prev (nil: the first), made now by change.
func (h *History) nextVersion(prev *History, now Event, defaultDescription string) {
	h.Version, h.Updated = 1, now.At
	if prev != nil {
		h.Version = prev.Version + 1
		if !prev.Deleted {
			h.Created = prev.Created
		}
	}
	if h.Created.At.IsZero() {
		h.Created = now
	}
	if h.Change.Description == "" {
		h.Change.Description = defaultDescription
	}
	h.Change.By = now.By
	h.Deleted, h.DeletedAt, h.DeletedWithSource = false, nil, false
}

// SourceVersions lists the stored versions of an existing source, oldest first.
func (m *Manager) SourceVersions(k SourceKey) ([]Source, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if ss := m.sources[k]; ss == nil || ss.rec.Source.Deleted {
		return nil, fmt.Errorf("source versions %s: %w", k, ErrSourceNotFound)
	}
	return loadVersions[Source](sourceVersionsDir(m.cfg.DataDir, k))
}

// SinkVersions lists the stored versions of an existing sink, oldest first.
func (m *Manager) SinkVersions(k SinkKey) ([]Sink, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, err := m.liveSink(k); err != nil {
		return nil, fmt.Errorf("sink versions: %w", err)
	}
	return loadVersions[Sink](sinkVersionsDir(m.cfg.DataDir, k))
}

// liveSink returns the index of a sink that is not deleted in a source that is not deleted;
// the caller holds mu.
func (m *Manager) liveSink(k SinkKey) (int, error) {
	ss := m.sources[k.SourceKey]
	if ss == nil || ss.rec.Source.Deleted {
		return -1, fmt.Errorf("sink %s: %w", k, ErrSourceNotFound)
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == k && !s.Deleted })
	if i < 0 {
		return -1, fmt.Errorf("sink %s: %w", k, ErrSinkNotFound)
	}
	return i, nil
}
