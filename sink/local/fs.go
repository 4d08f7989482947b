package local

import (
	"io/fs"
	"os"
)

// File is an open slice or sync-log file. Write appends; the caller never seeks.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// FS creates and opens files for the local level. Implementations must be safe for
// concurrent use; tests wrap OSFS to inject errors (disk full, failing fsync).
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
}

// OSFS is the real file system.
type OSFS struct{}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}
