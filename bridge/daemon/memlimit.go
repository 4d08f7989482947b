package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimitShare is the part of the container's memory limit the Go runtime is given as its
// soft limit; the rest is headroom for memory the runtime does not manage (the binary's text,
// the kernel's per-process memory) and for the heap overshooting the soft limit briefly.
const MemoryLimitShare = 0.9

// MemoryLimit is the memory limit in effect and where it came from.
type MemoryLimit struct {
	Bytes  int64  // 0: none
	Source string // GOMEMLIMIT, KBRIDGE_MEMORY_LIMIT, a cgroup file, or empty
}

// SetMemoryLimit gives the Go runtime a soft memory limit when GOMEMLIMIT does not (the runtime
// reads GOMEMLIMIT itself but not the container's limit): MemoryLimitShare of
// KBRIDGE_MEMORY_LIMIT (bytes, or a number with a Ki, Mi, Gi, KiB, MiB or GiB suffix; the
// Kubernetes manifests set it from the container's limits.memory), else of the cgroup's limit
// under cgroupRoot (cgroup v2 memory.max, v1 memory/memory.limit_in_bytes). No limit
// anywhere leaves the runtime as it is.
func SetMemoryLimit(env func(string) (string, bool), cgroupRoot string) (MemoryLimit, error) {
	if v, ok := env("GOMEMLIMIT"); ok && v != "" {
		return MemoryLimit{Bytes: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}, nil
	}
	var total int64
	var source string
	if v, ok := env("KBRIDGE_MEMORY_LIMIT"); ok && v != "" {
		n, err := parseBytes(v)
		if err != nil {
			return MemoryLimit{}, fmt.Errorf("environment KBRIDGE_MEMORY_LIMIT: %w", err)
		}
		total, source = n, "KBRIDGE_MEMORY_LIMIT"
	} else {
		for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
			path := filepath.Join(cgroupRoot, name)
			n, err := cgroupLimit(path)
			if err != nil {
				return MemoryLimit{}, err
			}
			if n > 0 {
				total, source = n, path
				break
			}
		}
	}
	if total <= 0 {
		return MemoryLimit{}, nil
	}
	limit := int64(float64(total) * MemoryLimitShare)
	debug.SetMemoryLimit(limit)
	return MemoryLimit{Bytes: limit, Source: source}, nil
}

// cgroupLimit reads a cgroup memory limit file: 0 when it is missing or says there is none
// ("max", or v1's page-rounded maximum).
func cgroupLimit(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memory limit: %w", err)
	}
	v := strings.TrimSpace(string(data))
	if v == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory limit: %s: %q is not a number of bytes", path, v)
	}
	if n <= 0 || n >= math.MaxInt64/2 { // cgroup v1 says "none" with 9223372036854771712
		return 0, nil
	}
	return n, nil
}

// parseBytes reads a byte count: digits, optionally followed by Ki, Mi, Gi (or KiB, MiB, GiB).
func parseBytes(v string) (int64, error) {
	num := strings.TrimSuffix(v, "B")
	mult := int64(1)
	for suffix, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40} {
		if s, ok := strings.CutSuffix(num, suffix); ok {
			num, mult = s, m
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a positive number of bytes (e.g. 1073741824 or 1Gi)", v)
	}
	return n * mult, nil
}
