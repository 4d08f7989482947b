package connect_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/connect"
)

// TestPipelineCollisionsAtStart refuses to start with a connector, from a file or persisted
// from an earlier run, that has the name or the consumer group of a config-file pipeline; the
// error names the connector and its file.
func TestPipelineCollisionsAtStart(t *testing.T) {
	t.Parallel()
	pipelines := map[string]string{"orders": "connect-orders"}
	write := func(dir, name, data string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	files := t.TempDir()
	named := write(files, "orders.properties", "name=orders\nconnector.class=KeboolaSinkConnector\ntopics=events\nkbridge.source=events\n")
	grouped := write(files, "copy.json", `{"name": "copy", "connector.class": "KeboolaSinkConnector", "topics": "events",
		"kbridge.source": "events", "consumer.override.group.id": "connect-orders"}`)
	stateDir := t.TempDir()
	persisted := write(stateDir, "orders.json", `{"name": "orders", "state": "RUNNING", "config": {"name": "orders",
		"connector.class": "KeboolaSinkConnector", "topics": "events", "kbridge.source": "events"}}`)
	for _, tc := range []struct {
		name      string
		stateDir  string
		files     []string
		want      []string
		wantCount int
	}{
		{"file with the name", t.TempDir(), []string{named},
			[]string{"connector orders (" + named + ") has the name of pipeline orders of the daemon's config file"}, 1},
		{"file with the group", t.TempDir(), []string{grouped},
			[]string{"connector copy (" + grouped + ") would share consumer group connect-orders with pipeline orders"}, 1},
		{"persisted with the name", stateDir, nil,
			[]string{"connector orders (" + persisted + ") has the name of pipeline orders"}, 1},
		{"both files", t.TempDir(), []string{named, grouped}, []string{"connector copy (", "connector orders ("}, 2},
	} {
		_, err := connect.New(connect.Config{Listen: ":0", StateDir: tc.stateDir, Connectors: tc.files, Pipelines: pipelines, Auth: testAuth},
			connect.Deps{})
		if err == nil {
			t.Errorf("%s: started", tc.name)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q, want it to say %q", tc.name, err, want)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != tc.wantCount {
			t.Errorf("%s: %d errors in %q, want %d", tc.name, n, err, tc.wantCount)
		}
	}
	if _, err := connect.New(connect.Config{Listen: ":0", StateDir: t.TempDir(), Connectors: []string{named}, Auth: testAuth}, connect.Deps{}); err != nil {
		t.Errorf("without config-file pipelines: %v", err)
	}
}
