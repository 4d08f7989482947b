package storageapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Sentinels for errors.Is. A *Error matches the sentinel of its class.
var (
	// ErrNotFound: HTTP 404 (bucket, table, file, job or blob missing).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: HTTP 401, the token is invalid, expired or deleted.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: HTTP 403, the token lacks a permission or an upload credential was refused.
	ErrForbidden = errors.New("forbidden")
	// ErrAlreadyExists: HTTP 400 with an error code ending in "alreadyExists".
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidRequest: any other 4xx that is not retried.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrRateLimited: HTTP 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: HTTP 5xx.
	ErrServer = errors.New("server error")
	// ErrCredentialsExpired: the upload credentials of a file have expired; prepare a new file.
	ErrCredentialsExpired = errors.New("upload credentials expired")
	// ErrJobFailed: a Storage job finished with status "error"; see *JobError.
	ErrJobFailed = errors.New("storage job failed")
	// ErrColumnsMismatch: a table's columns or primary key differ from the expected ones.
	ErrColumnsMismatch = errors.New("table columns differ")
)

// Error is a failed HTTP exchange with the Storage API or an upload backend.
type Error struct {
	// Op is what was attempted, e.g. "GET /v2/storage/tables/in.c-shop.orders" or "azure put blob".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the service's error code: "storage.tables.notFound", Azure's x-ms-error-code, S3's <Code>.
	Code string
	// Message is the service's human-readable message.
	Message string
	// RequestID identifies the request on the server side (X-Request-Id, x-ms-request-id,
	// x-amz-request-id, or the Storage exceptionId when no header is sent).
	RequestID string
	// RetryAfter is the parsed Retry-After header, zero when absent.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// Is matches the sentinel of the error's class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrAlreadyExists:
		return e.StatusCode == http.StatusBadRequest && strings.HasSuffix(strings.ToLower(e.Code), "alreadyexists")
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	case ErrInvalidRequest:
		return e.StatusCode >= 400 && e.StatusCode < 500 && !e.retryableStatus()
	}
	return false
}

func (e *Error) retryableStatus() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// JobError is a Storage job that finished with status "error".
type JobError struct {
	JobID       int64
	Operation   string
	Code        string
	Message     string
	ExceptionID string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("storage job %d (%s) failed: %s (%s) [exception %s]", e.JobID, e.Operation, e.Message, e.Code, e.ExceptionID)
}

// Is matches ErrJobFailed.
func (e *JobError) Is(target error) bool { return target == ErrJobFailed }

// ColumnsMismatchError names how a table differs from the expected columns and primary key.
type ColumnsMismatchError struct {
	TableID string
	// Missing are expected columns the table lacks; Unexpected are table columns not expected.
	Missing, Unexpected []string
	// PrimaryKey and WantPrimaryKey are set when the primary keys differ.
	PrimaryKey, WantPrimaryKey []string
}

func (e *ColumnsMismatchError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing columns [%s]", strings.Join(e.Missing, ", ")))
	}
	if len(e.Unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("unexpected columns [%s]", strings.Join(e.Unexpected, ", ")))
	}
	if e.PrimaryKey != nil || e.WantPrimaryKey != nil {
		parts = append(parts, fmt.Sprintf("primary key is [%s], want [%s]", strings.Join(e.PrimaryKey, ", "), strings.Join(e.WantPrimaryKey, ", ")))
	}
	return fmt.Sprintf("table %s differs from the mapping: %s", e.TableID, strings.Join(parts, "; "))
}

// Is matches ErrColumnsMismatch.
func (e *ColumnsMismatchError) Is(target error) bool { return target == ErrColumnsMismatch }

// errAttemptTimeout marks an attempt cut off by RequestTimeout or UploadTimeout while the
// caller's context was still alive; it is retried.
var errAttemptTimeout = errors.New("attempt timed out")

// IsRetryable reports whether err is worth another attempt: a network error, an attempt
// timeout, HTTP 408, 429 or 5xx. Context cancellation of the caller is not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.retryableStatus()
	}
	if errors.Is(err, errAttemptTimeout) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, errTransport)
}

// errTransport wraps failures of the HTTP round trip itself (connection reset, EOF, ...).
var errTransport = errors.New("transport error")
