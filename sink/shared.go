package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// ErrConflict is a definition another replica changed since this one read it (HTTP 409).
var ErrConflict = errors.New("definition changed by another replica")

// SharedLog is a replicated, versioned key-value log the replicas of one cluster keep their
// definitions in (bridge/cluster.Log, adapted by bridge/daemon). Put and Entries may be called
// concurrently.
type SharedLog interface {
	// Put sets key to value if the key is at version expected (0: absent) and returns the new
	// version once this replica has applied it; a key at another version is an error matching
	// ErrConflict. value is the log's afterwards.
	Put(ctx context.Context, key string, expected int64, value []byte) (int64, error)
	// Entries returns every key this replica has applied, with its value and version.
	Entries() map[string]SharedEntry
}

// SharedEntry is one key of a SharedLog.
type SharedEntry struct {
	Value   []byte // shared: callers must not modify it
	Version int64
}

// sharedWriteTimeout bounds one write to the shared log, the manager's lock held.
const sharedWriteTimeout = 30 * time.Second

// sharedSourcePrefix starts the keys of sources: "sources/<projectId>/<branchId>/<sourceId>".
// Other kinds of definitions live under other prefixes of the same log.
const sharedSourcePrefix = "sources/"

// SharedDefinitions keeps the definitions in a SharedLog instead of the data directory: every
// replica reads every source and sink from it, and a change made on one replica reaches every
// other through Changed. The records are sealed with the manager's keys (sink.encryption), so
// every replica needs the same keys. Give it to the Manager in Deps.Shared.
//
// Changed is the log's subscriber: it may be called, in log order, before the Manager exists
// or runs; it queues and never blocks. The Manager applies the queued changes while it runs.
type SharedDefinitions struct {
	log  SharedLog
	ring *durable.Keyring // set by the Manager at New

	mu      sync.Mutex
	queue   []sharedChange
	changed chan struct{} // closed and replaced when the queue grows
}

// sharedChange is a source record's change, as the log told it, not yet decoded.
type sharedChange struct {
	key     SourceKey
	value   []byte // nil: the key was removed from the log
	version int64
}

// NewSharedDefinitions keeps the definitions in log.
func NewSharedDefinitions(log SharedLog) *SharedDefinitions {
	return &SharedDefinitions{log: log, changed: make(chan struct{})}
}

// Changed tells of an accepted change of key in the log (value nil: removed), in log order.
// Keys that are no source record are ignored. It never blocks.
func (s *SharedDefinitions) Changed(key string, value []byte, version int64) {
	k, ok := parseSharedKey(key)
	if !ok {
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, sharedChange{key: k, value: value, version: version})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// next takes the queued changes, waiting for one until ctx ends.
func (s *SharedDefinitions) next(ctx context.Context) ([]sharedChange, error) {
	for {
		s.mu.Lock()
		q, changed := s.queue, s.changed
		s.queue = nil
		s.mu.Unlock()
		if len(q) > 0 {
			return q, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// take takes the queued changes without waiting.
func (s *SharedDefinitions) take() []sharedChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func sharedKey(k SourceKey) string {
	return sharedSourcePrefix + strconv.FormatInt(k.ProjectID, 10) + "/" + strconv.FormatInt(k.BranchID, 10) + "/" + k.SourceID
}

func parseSharedKey(key string) (SourceKey, bool) {
	rest, ok := strings.CutPrefix(key, sharedSourcePrefix)
	if !ok {
		return SourceKey{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return SourceKey{}, false
	}
	p, err1 := strconv.ParseInt(parts[0], 10, 64)
	b, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || parts[2] == "" {
		return SourceKey{}, false
	}
	return SourceKey{ProjectID: p, BranchID: b, SourceID: parts[2]}, true
}

func (s *SharedDefinitions) save(rec *sourceRecord, expected int64) (int64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	if s.ring != nil {
		if data, err = s.ring.Seal(data); err != nil {
			return 0, fmt.Errorf("save source %s: %w", rec.Source.Key, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedWriteTimeout)
	defer cancel()
	v, err := s.log.Put(ctx, sharedKey(rec.Source.Key), expected, data)
	if err != nil {
		return 0, fmt.Errorf("save source %s: %w", rec.Source.Key, err)
	}
	return v, nil
}

func (s *SharedDefinitions) load() ([]storedSource, error) {
	var out []storedSource
	for key, e := range s.log.Entries() {
		k, ok := parseSharedKey(key)
		if !ok || e.Value == nil {
			continue
		}
		rec, err := s.decode(k, e.Value)
		if err != nil {
			return nil, fmt.Errorf("load definitions: %w", err)
		}
		out = append(out, storedSource{rec: rec, version: e.Version})
	}
	return out, nil
}

// decode opens a record of the log; a record for another key than its own is refused.
func (s *SharedDefinitions) decode(k SourceKey, value []byte) (*sourceRecord, error) {
	plain, _, err := s.ring.Open(value)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", k, err)
	}
	var rec sourceRecord
	if err := json.Unmarshal(plain, &rec); err != nil {
		return nil, fmt.Errorf("source %s: decode: %w", k, err)
	}
	if rec.Source.Key != k {
		return nil, fmt.Errorf("source %s: the record is of source %s", k, rec.Source.Key)
	}
	return &rec, nil
}
