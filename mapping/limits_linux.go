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

// limitMemory caps this process's address space at its current size plus limit plus room for
// the stacks of the threads it may start (see smallThreadStacks): the Go runtime reserves
// about a gigabyte of address space at start, which the limit must not count. An allocation past the cap fails, and the runtime exits
// with "fatal error: out of memory".
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
	size := uint64(kb<<10 + limit + workerThreads*threadStack)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: size, Max: size})
}

// workerThreads bounds the threads a worker runs: its goroutine, the runtime's (sysmon, the
// garbage collector's, one per blocking system call) and spares.
const workerThreads = 16

// threadStack is the address space a thread's stack reserves (RLIMIT_STACK, as glibc's
// threads take it) in a worker started by smallThreadStacks.
const threadStack = 1 << 20

// smallThreadStacks starts this worker again with threadStack as its stack limit, unless it
// already runs with one that small: a thread's stack, with cgo, is RLIMIT_STACK bytes of
// address space (8 MiB by default), which the worker's address space limit would count
// against its templates. Go code runs on goroutine stacks, so a megabyte is plenty.
func smallThreadStacks() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err != nil || rl.Cur <= threadStack {
		return
	}
	small := rl
	small.Cur = threadStack
	if syscall.Setrlimit(syscall.RLIMIT_STACK, &small) != nil {
		return
	}
	err := syscall.Exec(selfExecutable(), os.Args, os.Environ())
	// Still here: the exec failed, and this process's threads keep their stacks.
	_ = syscall.Setrlimit(syscall.RLIMIT_STACK, &rl)
	fmt.Fprintf(os.Stderr, "template worker: restart with small thread stacks: %v\n", err)
}
