package daemon_test

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/daemon"
)

func TestSetMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	v2, v1, none := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(v2, "memory.max"), "1073741824\n")
	write(filepath.Join(v1, "memory", "memory.limit_in_bytes"), "536870912\n")
	write(filepath.Join(none, "memory.max"), "max\n")
	write(filepath.Join(none, "memory", "memory.limit_in_bytes"), "9223372036854771712\n")
	for _, tc := range []struct {
		name, root string
		env        map[string]string
		want       int64
		source     string
	}{
		{"cgroup v2", v2, nil, 966367641, filepath.Join(v2, "memory.max")},
		{"cgroup v1", v1, nil, 483183820, filepath.Join(v1, "memory", "memory.limit_in_bytes")},
		{"the variable wins over the cgroup", v2, map[string]string{"KBRIDGE_MEMORY_LIMIT": "512Mi"}, 483183820, "KBRIDGE_MEMORY_LIMIT"},
		{"bytes from the downward API", none, map[string]string{"KBRIDGE_MEMORY_LIMIT": "268435456"}, 241591910, "KBRIDGE_MEMORY_LIMIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(old)
			got, err := daemon.SetMemoryLimit(lookup(tc.env), tc.root)
			if err != nil || got.Bytes != tc.want || got.Source != tc.source {
				t.Fatalf("SetMemoryLimit = %+v, %v; want %d from %s", got, err, tc.want, tc.source)
			}
			if rt := debug.SetMemoryLimit(-1); rt != tc.want {
				t.Fatalf("the runtime's limit is %d, want %d", rt, tc.want)
			}
		})
	}
	t.Run("no limit anywhere", func(t *testing.T) {
		debug.SetMemoryLimit(old)
		got, err := daemon.SetMemoryLimit(lookup(nil), none)
		if err != nil || got.Bytes != 0 || debug.SetMemoryLimit(-1) != old {
			t.Fatalf("SetMemoryLimit = %+v, %v; the runtime's limit %d, want it left at %d", got, err, debug.SetMemoryLimit(-1), old)
		}
	})
	t.Run("GOMEMLIMIT is left to the runtime", func(t *testing.T) {
		debug.SetMemoryLimit(300 << 20)
		got, err := daemon.SetMemoryLimit(lookup(map[string]string{"GOMEMLIMIT": "300MiB", "KBRIDGE_MEMORY_LIMIT": "1Gi"}), v2)
		if err != nil || got.Bytes != 300<<20 || got.Source != "GOMEMLIMIT" {
			t.Fatalf("SetMemoryLimit = %+v, %v", got, err)
		}
	})
	t.Run("a bad value names the variable", func(t *testing.T) {
		_, err := daemon.SetMemoryLimit(lookup(map[string]string{"KBRIDGE_MEMORY_LIMIT": "1 gigabyte"}), v2)
		if err == nil || !strings.Contains(err.Error(), "KBRIDGE_MEMORY_LIMIT") {
			t.Fatalf("err = %v", err)
		}
	})
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}
