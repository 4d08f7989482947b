package clock_test

import (
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/clock"
)

func TestFake(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(now)
	late, early, stopped := c.NewTimer(2*time.Second), c.NewTimer(time.Second), c.NewTimer(time.Second)
	if !stopped.Stop() || c.Timers() != 2 {
		t.Fatal("Stop")
	}
	c.Advance(time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(now.Add(time.Second)) {
			t.Fatalf("fired at %s", at)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("fired early")
	default:
	}
	select {
	case <-c.NewTimer(0).C():
	default:
		t.Fatal("a past deadline must fire at once")
	}
}
