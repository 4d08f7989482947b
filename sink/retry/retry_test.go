package retry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/retry"
)

func TestKeboolaBackoff(t *testing.T) {
	t.Parallel()
	b := retry.DefaultBackoff()
	b.Jitter = 0
	want := []time.Duration{2 * time.Minute, 8 * time.Minute, 32 * time.Minute, 128 * time.Minute, 3 * time.Hour, 3 * time.Hour}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("attempt %d: %s, want %s", i+1, got, w)
		}
	}
	b.Jitter = 0.1
	for range 100 {
		if d := b.Delay(1); d < 108*time.Second || d > 132*time.Second {
			t.Fatalf("jittered %s outside ±10%%", d)
		}
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := retry.Backoff{Base: time.Second, Max: time.Minute, Multiplier: 2}
	var s retry.State
	s.Fail(now, errors.New("boom"), b)
	s.Fail(now.Add(time.Second), errors.New("bang"), b)
	if s.Attempt != 2 || s.Reason != "bang" || !s.FirstFailedAt.Equal(now) || !s.After.Equal(now.Add(3*time.Second)) {
		t.Fatalf("%+v", s)
	}
	if s.Due(now.Add(2*time.Second)) || !s.Due(now.Add(3*time.Second)) {
		t.Fatal("Due")
	}
	s.Reset()
	if s != (retry.State{}) {
		t.Fatal("Reset")
	}
	if err := (retry.Backoff{}).Validate("b"); err == nil {
		t.Fatal("zero backoff accepted")
	}
}
