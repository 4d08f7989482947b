package kafka

import "sync"

// tracker follows one assigned partition: the batches written from it that have not yet
// reached the commit level, in offset order, and how far the partition may be committed.
//
// The consumer's poll loop adds batches; completions arrive from other goroutines. Every
// method takes the tracker's lock, and the commit callback runs under it too, so a completion
// racing a revoke either commits before the revoke takes effect or not at all.
type tracker struct {
	stream string // the partition as the sinks name it, "topic/partition"

	mu      sync.Mutex
	revoked bool
	next    int64  // the offset to commit: everything below it is done
	pending []span // batches in offset order
	records int    // records in pending batches
}

// span is a range of offsets written as one batch, [first, last].
type span struct {
	first, last int64
	done        bool
}

// newTracker starts a partition named stream at committed, the group's committed offset (the
// next offset to read).
func newTracker(stream string, committed int64) *tracker {
	return &tracker{stream: stream, next: committed}
}

// add registers a batch of offsets [first, last] from this partition; batches are added in
// offset order and cover every record polled for them, including ones that produced no row
// (ignored tombstones, dead-lettered records). A gap between batches (compaction, transaction
// markers) counts as done once the batch after it is. It returns false once revoked.
func (t *tracker) add(first, last int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked {
		return false
	}
	t.pending = append(t.pending, span{first: first, last: last})
	t.records += int(last - first + 1)
	return true
}

// done marks the batch starting at first as having reached the commit level. When that
// completes a contiguous prefix, commit is called, under the lock, with the new offset to
// commit; it is not called once the partition is revoked.
func (t *tracker) done(first int64, commit func(next int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked {
		return
	}
	for i := range t.pending {
		if t.pending[i].first == first {
			t.pending[i].done = true
			break
		}
	}
	advanced := false
	for len(t.pending) > 0 && t.pending[0].done {
		t.next = t.pending[0].last + 1
		t.records -= int(t.pending[0].last - t.pending[0].first + 1)
		t.pending = t.pending[1:]
		advanced = true
	}
	if advanced {
		commit(t.next)
	}
}

// revoke stops the tracker: later completions do nothing. It returns the offset to commit.
func (t *tracker) revoke() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revoked = true
	return t.next
}

// inFlight returns how many records are written but not at the commit level.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.records
}
