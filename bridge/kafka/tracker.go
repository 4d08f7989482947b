package kafka

import (
	"sync"

	"github.com/kbridge/kbridge/sink/local"
)

// tracker follows one assigned partition: the batches read from it that have not yet
// reached the commit level, in offset order, and how far the partition may be committed.
//
// The consumer's poll loop adds batches; completions arrive from other goroutines. Every
// method takes the tracker's lock, and the commit callback runs under it too, so a completion
// racing a revoke either commits before the revoke takes effect or not at all.
type tracker struct {
	name string // the partition as people name it, "topic/partition"

	// The partition's ledger key and the offsets every sink held when it was assigned; set by
	// the poll loop at the partition's first fetch, when the topic's id is known.
	stream   string
	held     local.Ranges
	heldLast int64 // the highest held offset, -1 when none

	mu      sync.Mutex
	revoked bool
	next    int64   // the offset to commit: everything below it is done
	pending []*span // batches in offset order
	records int     // records in pending batches
}

// span is a range of offsets read as one batch, [first, last].
type span struct {
	first, last int64
	done        bool
}

// newTracker starts the partition named name.
func newTracker(name string) *tracker { return &tracker{name: name, heldLast: -1} }

// add registers a batch of offsets [first, last] from this partition; batches are added in
// offset order and cover every record polled for them, including ones that produced no row
// (ignored tombstones, dead-lettered records, records the sinks held already). A gap between
// batches (compaction, transaction markers) counts as done once the batch after it is. It
// returns nil once revoked.
func (t *tracker) add(first, last int64) *span {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked {
		return nil
	}
	sp := &span{first: first, last: last}
	t.pending = append(t.pending, sp)
	t.records += int(last - first + 1)
	return sp
}

// done marks the batch sp as having reached the commit level. When that completes a
// contiguous prefix, commit is called, under the lock, with the new offset to commit; it is
// not called once the partition is revoked.
func (t *tracker) done(sp *span, commit func(next int64)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked {
		return
	}
	sp.done = true
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

// inFlight returns how many records are read but not at the commit level.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.records
}
