package cluster

import (
	"errors"
	"fmt"
)

// ErrConflict is what every version conflict matches with errors.Is; the API answers 409.
var ErrConflict = errors.New("version conflict")

// ConflictError is a write refused because the key is not at the expected version.
type ConflictError struct {
	Key      string
	Expected int64 // the version the writer expected
	Current  int64 // the key's version when the write was decided; 0 when it does not exist
}

func (e *ConflictError) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("version conflict on %q: it does not exist, expected version %d", e.Key, e.Expected)
	}
	return fmt.Sprintf("version conflict on %q: it is at version %d, expected version %d", e.Key, e.Current, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// StatusCode is the HTTP status of a conflict.
func (e *ConflictError) StatusCode() int { return 409 }
