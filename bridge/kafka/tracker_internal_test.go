package kafka

import (
	"sync"
	"testing"
)

func TestTrackerCommitsContiguousPrefix(t *testing.T) {
	t.Parallel()
	tr := newTracker("t/0")
	var commits []int64
	commit := func(next int64) { commits = append(commits, next) }
	spans := map[int64]*span{}
	for _, b := range [][2]int64{{100, 109}, {110, 119}, {125, 130}, {131, 131}} {
		if spans[b[0]] = tr.add(b[0], b[1]); spans[b[0]] == nil {
			t.Fatal("add refused")
		}
	}
	if got := tr.inFlight(); got != 27 {
		t.Fatalf("inFlight = %d, want 27", got)
	}
	tr.done(spans[110], commit) // the second batch first: nothing to commit yet
	tr.done(spans[125], commit)
	if len(commits) != 0 {
		t.Fatalf("committed %v before the first batch was done", commits)
	}
	tr.done(spans[100], commit) // completes 100..130 (the gap 120..124 is inside the prefix)
	tr.done(spans[131], commit)
	if want := []int64{131, 132}; len(commits) != 2 || commits[0] != want[0] || commits[1] != want[1] {
		t.Fatalf("commits %v, want %v", commits, want)
	}
	if tr.inFlight() != 0 {
		t.Fatalf("inFlight = %d after all done", tr.inFlight())
	}
}

func TestTrackerRevokeStopsLateCompletions(t *testing.T) {
	t.Parallel()
	tr := newTracker("t/0")
	first := tr.add(0, 9)
	second := tr.add(10, 19)
	var commits []int64
	tr.done(first, func(next int64) { commits = append(commits, next) })
	if next := tr.revoke(); next != 10 {
		t.Fatalf("revoke returned %d, want 10", next)
	}
	tr.done(second, func(next int64) { t.Fatalf("a late completion committed %d", next) })
	if tr.add(20, 29) != nil {
		t.Fatal("add accepted a batch after revoke")
	}
	if len(commits) != 1 || commits[0] != 10 {
		t.Fatalf("commits %v, want [10]", commits)
	}
}

// A completion racing a revoke either commits before the revoke returns or not at all.
func TestTrackerRevokeRace(t *testing.T) {
	t.Parallel()
	for range 200 {
		tr := newTracker("t/0")
		spans := make([]*span, 50)
		for b := range int64(50) {
			spans[b] = tr.add(b*10, b*10+9)
		}
		var mu sync.Mutex
		var last int64
		revokedAt := int64(-1)
		var wg sync.WaitGroup
		for b := int64(0); b < 50; b++ {
			wg.Go(func() {
				tr.done(spans[b], func(next int64) {
					mu.Lock()
					defer mu.Unlock()
					if revokedAt >= 0 {
						t.Errorf("commit %d after revoke", next)
					}
					last = max(last, next)
				})
			})
		}
		wg.Go(func() {
			next := tr.revoke()
			mu.Lock()
			defer mu.Unlock()
			revokedAt = next
			if next != last {
				t.Errorf("revoke returned %d, last commit %d", next, last)
			}
		})
		wg.Wait()
	}
}
