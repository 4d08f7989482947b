package sink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// lockName is the file in the data directory that one process at a time holds locked.
const lockName = "kbridge.lock"

// ErrDataDirInUse: another process holds the data directory.
var ErrDataDirInUse = errors.New("data directory in use by another kbridge process")

// lockDataDir takes the data directory for this process (flock, released when the process
// ends, however it ends) before recovery touches anything: two processes recovering and
// writing the same slices would lose and double data. The lock file records the holder's pid.
func lockDataDir(dir string) (*os.File, error) {
	if err := durable.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("sink.dataDir %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink.dataDir %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("sink.dataDir %s: %w (pid %s): stop it, or give this one another data directory", dir, ErrDataDirInUse, pid)
		}
		return nil, fmt.Errorf("sink.dataDir %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
