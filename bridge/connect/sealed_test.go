package connect_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// TestConnectorsSealedAtRest: a connector created over REST holds its source's secret in
// http.api.url; with a keyring its file is sealed, with no secret in clear text, and the next
// start reads it back.
func TestConnectorsSealedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ring, err := durable.NewKeyring([]durable.Key{durable.GenerateKey("k1")})
	if err != nil {
		t.Fatal(err)
	}
	e.ring = ring
	e.start()
	if status, body := e.call(t, "POST", "/connectors", confluentConfig("orders")); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	e.stop()
	files, _ := filepath.Glob(filepath.Join(e.dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("connector files: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	if bytes.Contains(data, []byte(secret)) || !bytes.Contains(data, []byte(`"keyId": "k1"`)) {
		t.Fatalf("connector file:\n%s", data)
	}
	e.start()
	if status, body := e.call(t, "GET", "/connectors/orders/config", ""); status != http.StatusOK || !strings.Contains(body, secret) {
		t.Fatalf("after a restart: %d %s", status, body)
	}
}
