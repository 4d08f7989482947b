package sinktest

import (
	"io/fs"
	"strings"
	"sync/atomic"

	"github.com/kbridge/kbridge/sink/local"
)

// FaultFS is the real file system with one injected failure: the At-th write (Op "write") or
// fsync (Op "sync") of a slice data file, counted from 1, fails with Err. Later calls succeed,
// as when a full disk frees up or a transient I/O error passes.
type FaultFS struct {
	Op  string
	At  int64
	Err error

	calls atomic.Int64
	fired atomic.Bool
}

// Calls is how many calls of Op were made.
func (f *FaultFS) Calls() int64 { return f.calls.Load() }

// Fired reports whether the failure was injected.
func (f *FaultFS) Fired() bool { return f.fired.Load() }

// OpenFile opens name on the real file system; slice data files get the fault.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (local.File, error) {
	file, err := local.OSFS{}.OpenFile(name, flag, perm)
	if err != nil || strings.HasSuffix(name, ".sync") || !strings.Contains(name, ".csv") {
		return file, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	local.File
	fs *FaultFS
}

func (f *faultFile) fail(op string) bool {
	return f.fs.Op == op && f.fs.calls.Add(1) == f.fs.At && f.fs.fired.CompareAndSwap(false, true)
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fail("write") {
		return 0, f.fs.Err
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fail("sync") {
		return f.fs.Err
	}
	return f.File.Sync()
}
