// Package retry is the backoff of failed uploads and imports and the retry information kept
// in state records and shown in file statistics (Keboola's retryAttempt, retryReason,
// retryAfter, firstFailedAt, lastFailedAt).
//
// Invariants: the delay of attempt n is Base × Multiplier^(n-1), capped at Max, with ±Jitter;
// a success resets the State.
package retry

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff computes the wait before the next attempt.
type Backoff struct {
	Base       time.Duration `json:"base" yaml:"base"`
	Max        time.Duration `json:"max" yaml:"max"`
	Multiplier float64       `json:"multiplier" yaml:"multiplier"`
	Jitter     float64       `json:"jitter" yaml:"jitter"`
}

// DefaultBackoff is Keboola's: 2 min × 4ⁿ⁻¹ capped at 3 h, ±10 %.
func DefaultBackoff() Backoff {
	return Backoff{Base: 2 * time.Minute, Max: 3 * time.Hour, Multiplier: 4, Jitter: 0.1}
}

// Validate names a bad key under prefix.
func (b Backoff) Validate(prefix string) error {
	var errs []error
	if b.Base <= 0 {
		errs = append(errs, fmt.Errorf("%s.base: must be positive, got %s", prefix, b.Base))
	}
	if b.Max < b.Base {
		errs = append(errs, fmt.Errorf("%s.max: must be at least base (%s), got %s", prefix, b.Base, b.Max))
	}
	if b.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("%s.multiplier: must be at least 1, got %g", prefix, b.Multiplier))
	}
	if b.Jitter < 0 || b.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("%s.jitter: must be in [0, 1), got %g", prefix, b.Jitter))
	}
	return errors.Join(errs...)
}

// Delay is the wait after the attempt-th consecutive failure (attempt >= 1).
func (b Backoff) Delay(attempt int) time.Duration {
	d := float64(b.Base) * math.Pow(b.Multiplier, float64(max(attempt, 1)-1))
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// State is the retry information of a file or slice.
type State struct {
	Attempt       int       `json:"retryAttempt,omitempty"`
	Reason        string    `json:"retryReason,omitempty"`
	FirstFailedAt time.Time `json:"firstFailedAt,omitzero"`
	LastFailedAt  time.Time `json:"lastFailedAt,omitzero"`
	After         time.Time `json:"retryAfter,omitzero"`
}

// Fail records a failure at now and schedules the next attempt.
func (s *State) Fail(now time.Time, err error, b Backoff) {
	s.Attempt++
	s.Reason = err.Error()
	if s.FirstFailedAt.IsZero() {
		s.FirstFailedAt = now
	}
	s.LastFailedAt = now
	s.After = now.Add(b.Delay(s.Attempt))
}

// Reset forgets earlier failures.
func (s *State) Reset() { *s = State{} }

// Due reports whether an attempt may run at now.
func (s *State) Due(now time.Time) bool { return !now.Before(s.After) }
