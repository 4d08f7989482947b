package connect_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Connector names that cannot be a path segment or a file name are refused at creation with a
// 400 naming the key; emoji within the cap are stored (percent-encoded in the file name) and
// answered back unchanged.
func TestConnectorNames(t *testing.T) {
	e := newEnv(t)
	e.start()
	create := func(name string) (int, string) {
		b, _ := json.Marshal(map[string]any{"name": name, "config": map[string]string{
			"connector.class": "io.kbridge.KeboolaSinkConnector", "topics": "events", "kbridge.source": "events"}})
		return e.call(t, "POST", "/connectors", string(b))
	}
	for _, c := range []struct{ name, why string }{
		{".", "named . or .."},
		{"..", "named . or .."},
		{"a/b", "may not contain /"},
		{"../../etc", "may not contain /"},
		{strings.Repeat("n", 300), "at most 200 bytes once percent-encoded"},
		{strings.Repeat("😀", 20), "at most 200 bytes once percent-encoded"},
		{"tab\there", "control sequences"},
	} {
		status, body := create(c.name)
		if status != http.StatusBadRequest || !strings.Contains(body, "for configuration name") || !strings.Contains(body, c.why) {
			t.Errorf("create %q: %d %s, want 400 naming the key name: %s", c.name, status, body, c.why)
		}
	}
	// PUT names the connector in the path: an encoded slash or dot-dot is refused the same way.
	for _, p := range []string{"/connectors/a%2Fb/config", "/connectors/%2E%2E/config"} {
		status, body := e.call(t, "PUT", p, `{"connector.class":"io.kbridge.KeboolaSinkConnector","topics":"events","kbridge.source":"events"}`)
		if status != http.StatusBadRequest && status != http.StatusNotFound {
			t.Errorf("PUT %s: %d %s, want 400 (or 404 where the path is no route)", p, status, body)
		}
	}
	name := "orders-😀-ü"
	if status, body := create(name); status != http.StatusCreated {
		t.Fatalf("create %q: %d %s", name, status, body)
	}
	status, body := e.call(t, "GET", "/connectors/"+url.PathEscape(name)+"/config", "")
	if status != http.StatusOK || !strings.Contains(body, `"name":"`+name+`"`) {
		t.Fatalf("GET config of %q: %d %s", name, status, body)
	}
	if status, body := e.call(t, "GET", "/connectors", ""); status != http.StatusOK || !strings.Contains(body, name) {
		t.Fatalf("list: %d %s", status, body)
	}
}
