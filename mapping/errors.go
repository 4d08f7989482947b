package mapping

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsupportedContentType: a path or template column needs a parsed body, and the
	// Content-Type is neither JSON nor form data. HTTP maps it to 415.
	ErrUnsupportedContentType = errors.New("unsupported content type")
	// ErrInvalidBody: the body does not parse as its content type says.
	ErrInvalidBody = errors.New("invalid body")
	// ErrNotFound: a path or header is missing and the column has no default.
	ErrNotFound = errors.New("not found")
	// ErrTemplate: a template failed at evaluation (a Jsonnet error, a time or size limit).
	ErrTemplate = errors.New("template failed")
)

// ColumnError is the reason one event could not be rendered, naming the column.
type ColumnError struct {
	Column string
	Err    error
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("invalid value for column %q: %v", e.Column, e.Err)
}

func (e *ColumnError) Unwrap() error { return e.Err }

// reason is a cheap error with a sentinel class; it is built only on the failure path.
type reason struct {
	class error
	msg   string
}

func (r *reason) Error() string { return r.msg }
func (r *reason) Unwrap() error { return r.class }

func errorf(class error, format string, args ...any) error {
	return &reason{class: class, msg: fmt.Sprintf(format, args...)}
}
