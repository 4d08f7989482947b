package mapping

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// selfExecutable is the running binary, even when its file was replaced by an upgrade.
func selfExecutable() string { return "/proc/self/exe" }

// maxRSS is the largest resident size of an ended process, in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10
	}
	return 0
}

// workerAttr kills a worker when the process that started it dies.
func workerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// limitMemory caps this process's address space at its current size plus limit: the Go
// runtime reserves about a gigabyte of address space at start, which the limit must not count.
// An allocation past it fails, and the runtime exits with "fatal error: out of memory".
func limitMemory(limit int64) error {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("read memory size: %w", err)
	}
	_, after, ok := bytes.Cut(status, []byte("\nVmSize:"))
	line, _, _ := bytes.Cut(after, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("read memory size: no VmSize in /proc/self/status")
	}
	size := uint64(kb<<10 + limit)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: size, Max: size})
}
