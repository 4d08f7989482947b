package sink_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
)

func TestSettingsDefaultsAndMerge(t *testing.T) {
	t.Parallel()
	d := sink.DefaultSettings()
	if !d.SyncWait || d.Upload.Count != 10000 || d.Upload.Size != 5<<20 || d.Upload.Interval != 30*time.Second ||
		d.Import.Count != 50000 || d.Import.Size != 50<<20 || d.Import.Interval != time.Minute ||
		d.Local.Compression != "gzip" || d.Local.SyncIntervalTrigger != 50*time.Millisecond {
		t.Fatalf("defaults = %+v", d)
	}
	source := sink.Patch{"storage.level.staging.upload.trigger.count": 500.0, "storage.level.target.import.trigger.interval": "5m"}
	sinkPatch := sink.Patch{"storage.level.staging.upload.trigger.count": 700, "storage.level.local.encoding.sync.wait": false}
	s, err := sink.ResolveSettings(source, sinkPatch)
	if err != nil {
		t.Fatal(err)
	}
	if s.Upload.Count != 700 || s.Import.Interval != 5*time.Minute || s.SyncWait {
		t.Fatalf("merged = %+v", s)
	}
	merged := source.Merge(sink.Patch{"storage.level.target.import.trigger.interval": nil})
	if _, ok := merged["storage.level.target.import.trigger.interval"]; ok || len(merged) != 1 {
		t.Fatalf("merge with null = %v", merged)
	}
}

func TestSettingsValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key   string
		value any
		want  string
	}{
		{"storage.level.target.import.trigger.interval", "29s", "between 30s and 24h0m0s"},
		{"storage.level.target.import.trigger.interval", "25h", "between 30s and 24h0m0s"},
		{"storage.level.target.import.trigger.size", "99B", "between 100B and 500MB"},
		{"storage.level.target.import.trigger.size", "501MB", "between 100B and 500MB"},
		{"storage.level.target.import.trigger.count", 0, "between 1 and 10000000"},
		{"storage.level.target.import.trigger.count", 10_000_001, "between 1 and 10000000"},
		{"storage.level.staging.upload.trigger.size", "51MB", "between 100B and 50MB"},
		{"storage.level.staging.upload.trigger.interval", "31m", "between 1s and 30m0s"},
		{"storage.level.local.encoding.sync.wait", "yes", "want a bool"},
		{"storage.level.nope", 1, "unknown key"},
	} {
		err := sink.Patch{tc.key: tc.value}.Validate(false)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: %v, want %q", tc.key, tc.value, err, tc.want)
		}
	}
	err := sink.Patch{"storage.level.local.encoding.compression.type": "none"}.Validate(false)
	if !errors.Is(err, sink.ErrProtectedKey) || !strings.Contains(err.Error(), "compression.type") {
		t.Fatalf("protected key: %v", err)
	}
	if err := (sink.Patch{"storage.level.local.encoding.compression.type": "none"}).Validate(true); err != nil {
		t.Fatalf("operator patch: %v", err)
	}
	if !sink.IsUserModifiable("storage.level.target.import.trigger.count") || sink.IsUserModifiable("storage.level.local.encoding.sync.mode") {
		t.Fatal("IsUserModifiable")
	}
}

func TestDescribeSettings(t *testing.T) {
	t.Parallel()
	views := sink.DescribeSettings(sink.Patch{"storage.level.target.import.trigger.count": 10},
		sink.Patch{"storage.level.staging.upload.trigger.size": "1MB"})
	if len(views) != 27 {
		t.Fatalf("%d keys, want Keboola's 27", len(views))
	}
	byKey := map[string]sink.SettingView{}
	for _, v := range views {
		byKey[v.Key] = v
	}
	if v := byKey["storage.level.target.import.trigger.count"]; v.Value != 10 || v.Overwritten || v.DefaultValue != int64(50000) {
		t.Fatalf("inherited = %+v", v)
	}
	if v := byKey["storage.level.staging.upload.trigger.size"]; v.Value != "1MB" || !v.Overwritten || v.Type != "string" || v.Validation != "100B-50MB" {
		t.Fatalf("own = %+v", v)
	}
	if v := byKey["storage.level.local.encoding.sync.mode"]; !v.Protected {
		t.Fatalf("protected = %+v", v)
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"5MB": 5 << 20, "256KB": 256 << 10, "100B": 100, "1GB": 1 << 30, "1234": 1234, "1.5KB": 1536} {
		if got, err := sink.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := sink.ParseSize("5 parsecs"); err == nil {
		t.Error("bad size accepted")
	}
	if sink.FormatSize(50<<20) != "50MB" || sink.FormatSize(1536) != "1536B" {
		t.Error("FormatSize")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cfg := sink.DefaultConfig()
	cfg.Target.JobLimit = 0
	err := cfg.Validate()
	for _, key := range []string{"dataDir", "jobLimit"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%v lacks %s", err, key)
		}
	}
	cfg = sink.DefaultConfig()
	cfg.DataDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
