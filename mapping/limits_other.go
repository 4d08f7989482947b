//go:build !linux

package mapping

import (
	"os"
	"syscall"
)

func selfExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

func maxRSS(*os.ProcessState) int64 { return 0 }

func workerAttr() *syscall.SysProcAttr { return nil }

// limitMemory has no hard limit outside Linux: the worker relies on the Go runtime's soft
// memory limit and on being killed at the time limit.
func limitMemory(int64) error { return nil }

func smallThreadStacks() {}
