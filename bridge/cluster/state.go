package cluster

// Entry is one key's state.
type Entry struct {
	Value   []byte // shared: callers must not modify it
	Version int64  // 1 after the first put, +1 at every accepted write
}

// Change is an accepted write, as subscribers see it.
type Change struct {
	Key     string
	Value   []byte // nil when Deleted; shared: callers must not modify it
	Version int64  // the version after the change; 0 when Deleted
	Deleted bool
	Offset  int64  // the record's offset in the topic
	Writer  string // the member that wrote it
	// Replay is true for changes applied before the member caught up with the log it found at
	// boot, false for changes that happened while it was following.
	Replay bool
}

// state is the map every member builds from the log. Not safe for concurrent use: the Log
// guards it.
type state map[string]Entry

// apply decides a write deterministically and applies it: accepted when the expected version
// is the key's version or ahead of it (a compacted log skips versions); a delete only for a key
// that exists. It returns the change and whether it was accepted, and the key's version when
// it was not.
func (s state) apply(w write) (Change, bool, int64) {
	cur := s[w.key]
	if w.expected < cur.Version || w.value == nil && cur.Version == 0 {
		return Change{}, false, cur.Version
	}
	if w.value == nil {
		delete(s, w.key)
		return Change{Key: w.key, Deleted: true, Writer: w.writer}, true, 0
	}
	e := Entry{Value: w.value, Version: w.expected + 1}
	s[w.key] = e
	return Change{Key: w.key, Value: e.Value, Version: e.Version, Writer: w.writer}, true, e.Version
}
