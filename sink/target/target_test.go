package target_test

import (
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/target"
)

func TestShouldImport(t *testing.T) {
	t.Parallel()
	open := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := target.DefaultConfig()
	tr := target.Trigger{Count: 50000, Size: 50 << 20, Interval: time.Minute, SlicesCount: 100, Expiration: 30 * time.Minute}
	for _, tc := range []struct {
		name      string
		age       time.Duration
		st        target.FileStats
		throttled bool
		want      bool
	}{
		{"max slices even throttled", 0, target.FileStats{Slices: 100}, true, true},
		{"too young", 59 * time.Second, target.FileStats{Records: 1e6}, false, false},
		{"expiring even throttled", 2 * time.Minute, target.FileStats{Records: 1, ExpiresAt: open.Add(20 * time.Minute)}, true, true},
		{"throttled", 2 * time.Minute, target.FileStats{Records: 1e6}, true, false},
		{"empty", time.Hour, target.FileStats{}, false, false},
		{"count", time.Minute, target.FileStats{Records: 50000}, false, true},
		{"size", time.Minute, target.FileStats{Records: 1, CompressedSize: 50 << 20}, false, true},
		{"interval", time.Minute, target.FileStats{Records: 1}, false, true},
	} {
		tc.st.OpenedAt = open
		if ok, _ := target.ShouldImport(cfg, tr, tc.st, open.Add(tc.age), tc.throttled); ok != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, ok, tc.want)
		}
	}
}

func TestValidateTableID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{"in.c-a.b": true, "out.c-x.y": true, "in.a.b": false, "in.c-a": false, "x.c-a.b": false} {
		if err := target.ValidateTableID(id); (err == nil) != ok {
			t.Errorf("%s: %v", id, err)
		}
	}
}
