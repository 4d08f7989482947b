package staging_test

import (
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/staging"
)

func TestShouldUpload(t *testing.T) {
	t.Parallel()
	open := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := staging.Config{MinInterval: 10 * time.Second}
	tr := staging.Trigger{Count: 100, Size: 1000, Interval: 30 * time.Second}
	for _, tc := range []struct {
		name    string
		age     time.Duration
		records int64
		size    int64
		want    bool
		next    time.Duration
	}{
		{"empty", time.Hour, 0, 0, false, -1},
		{"too young", 5 * time.Second, 1000, 10000, false, 10 * time.Second},
		{"count", 10 * time.Second, 100, 1, true, -1},
		{"size", 10 * time.Second, 1, 1000, true, -1},
		{"interval", 30 * time.Second, 1, 1, true, -1},
		{"waiting", 20 * time.Second, 1, 1, false, 30 * time.Second},
	} {
		ok, next := staging.ShouldUpload(cfg, tr, open, open.Add(tc.age), local.Stats{Records: tc.records, CompressedSize: tc.size})
		wantNext := time.Time{}
		if tc.next >= 0 {
			wantNext = open.Add(tc.next)
		}
		if ok != tc.want || !next.Equal(wantNext) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, ok, next, tc.want, wantNext)
		}
	}
}
