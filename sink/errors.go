package sink

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Sentinels callers branch on.
var (
	// ErrNoEnabledSink: the source has no enabled sink; nothing was written (HTTP 4xx).
	ErrNoEnabledSink = errors.New("source has no enabled sink")
	// ErrNotReady: a sink cannot accept rows now (not running, too much data waiting for
	// upload, a broken slice being replaced); retry after the hint (HTTP 503).
	ErrNotReady = errors.New("sink not ready")
	// ErrDiskFull: the local level could not write because the disk is full (HTTP 503).
	ErrDiskFull = errors.New("local disk full")
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("sink manager closed")
)

// BackpressureError is a refused write: Err is ErrNotReady or ErrDiskFull (errors.Is works),
// RetryAfter a hint for the client.
type BackpressureError struct {
	Sink       SinkKey
	Err        error
	Reason     string
	RetryAfter time.Duration
}

func (e *BackpressureError) Error() string {
	return fmt.Sprintf("sink %s: %v: %s (retry after %s)", e.Sink, e.Err, e.Reason, e.RetryAfter)
}

// Unwrap returns ErrNotReady or ErrDiskFull.
func (e *BackpressureError) Unwrap() error { return e.Err }

// PanicError is a panic recovered from user code (a mapping) on the write path: the batch
// failed, the process goes on. Stack is the panicking goroutine's stack.
type PanicError struct {
	Op    string
	Value any
	Stack []byte
}

func newPanicError(op string, v any) *PanicError {
	return &PanicError{Op: op, Value: v, Stack: debug.Stack()}
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v\n%s", e.Op, e.Value, e.Stack)
}
