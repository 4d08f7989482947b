package connect_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/connect"
)

// A connector file given to run is strict as the daemon's config file is: a key nothing reads
// stops the start, naming the file, the key and the key it most likely means.
func TestConnectorFileUnknownKeys(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ data, want string }{
		"typo.properties": {"name=typo\nconnector.class=KeboolaSinkConnector\ntopics=events\nkbridge.source=events\nbatch.max.sise=10\n",
			`typo.properties: batch.max.sise: unknown key; did you mean "batch.max.size"?`},
		"typo.json": {`{"name": "typo", "config": {"connector.class": "KeboolaSinkConnector", "topics": "events", "kbridge.source": "events", "errors.tolerence": "all"}}`,
			`typo.json: errors.tolerence: unknown key; did you mean "errors.tolerance"?`},
	} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := connect.New(connect.Config{Listen: ":0", StateDir: t.TempDir(), Connectors: []string{path}, Auth: testAuth}, connect.Deps{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}
