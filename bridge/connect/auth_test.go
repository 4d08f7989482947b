package connect_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/bridge/connect"
)

// as calls the API with the given Authorization header ("" sends none).
func (e *env) as(t *testing.T, auth, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// TestAuthAndMaskedSecrets: without credentials or with wrong ones every call but /health is
// 401 with Connect's JSON error body; the operator's credential manages connectors but reads
// the intake URL and connection.password as [hidden] in every answer, the admin's reads them;
// a config sent back with [hidden] keeps the secret it stands for.
func TestAuthAndMaskedSecrets(t *testing.T) {
	e := newEnv(t)
	e.start()
	const password = "pa55-w0rd-of-the-http-sink"
	url := "https://stream.keboola.com/stream/1/events/" + secret
	body := `{"name":"sec","config":{"connector.class":"io.confluent.connect.http.HttpSinkConnector","topics":"events",
		"http.api.url":"` + url + `","auth.type":"BASIC","connection.user":"u","connection.password":"` + password + `"}}`
	operator, admin := basic("operator", "operator-pass"), basic("admin", "admin-pass")

	for _, c := range []struct{ name, auth, method, path string }{
		{"none", "", "GET", "/connectors"},
		{"none", "", "GET", "/"},
		{"none", "", "POST", "/connectors"},
		{"wrong password", basic("operator", "nope"), "GET", "/connectors"},
		{"admin name, operator password", basic("admin", "operator-pass"), "GET", "/connectors"},
		{"bearer", "Bearer operator-pass", "GET", "/connectors"},
	} {
		status, got := e.as(t, c.auth, c.method, c.path, "")
		var msg struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal([]byte(got), &msg); status != http.StatusUnauthorized || err != nil || msg.ErrorCode != 401 || msg.Message == "" {
			t.Errorf("%s: %s %s: %d %s, want 401 with a JSON reason", c.name, c.method, c.path, status, got)
		}
	}
	if status, _ := e.as(t, "", "GET", "/health", ""); status != http.StatusOK {
		t.Errorf("GET /health without credentials: %d, want 200 (probes)", status)
	}

	status, got := e.as(t, operator, "POST", "/connectors", body)
	if status != http.StatusCreated {
		t.Fatalf("create as operator: %d %s", status, got)
	}
	reads := []string{"/connectors/sec", "/connectors/sec/config", "/connectors/sec/status", "/connectors/sec/tasks",
		"/connectors/sec/tasks-config", "/connectors?expand=info", "/connectors?expand=status", "/connectors?expand=info&expand=status"}
	answers := map[string]string{"create": got}
	for _, p := range reads {
		status, answers[p] = e.as(t, operator, "GET", p, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s as operator: %d %s", p, status, answers[p])
		}
	}
	for what, a := range answers {
		if strings.Contains(a, secret) || strings.Contains(a, password) {
			t.Errorf("%s as operator shows a secret: %s", what, a)
		}
	}
	for _, what := range []string{"create", "/connectors/sec/config", "/connectors?expand=info", "/connectors/sec/tasks"} {
		if !strings.Contains(answers[what], `"http.api.url":"[hidden]"`) || !strings.Contains(answers[what], `"connection.password":"[hidden]"`) {
			t.Errorf("%s as operator: secrets not shown as [hidden]: %s", what, answers[what])
		}
	}
	if _, a := e.as(t, admin, "GET", "/connectors/sec/config", ""); !strings.Contains(a, url) || !strings.Contains(a, password) {
		t.Errorf("config as admin: %s", a)
	}

	// The operator sends back what it read, with one change: the secrets stay.
	_, cfg := e.as(t, operator, "GET", "/connectors/sec/config", "")
	cfg = strings.Replace(cfg, `"connection.user":"u"`, `"connection.user":"v"`, 1)
	if status, got := e.as(t, operator, "PUT", "/connectors/sec/config", cfg); status != http.StatusOK || strings.Contains(got, password) {
		t.Fatalf("PUT as operator: %d %s", status, got)
	}
	_, a := e.as(t, admin, "GET", "/connectors/sec/config", "")
	if !strings.Contains(a, url) || !strings.Contains(a, `"connection.password":"`+password+`"`) || !strings.Contains(a, `"connection.user":"v"`) {
		t.Errorf("after PUT of a masked config: %s", a)
	}
	if status, got := e.as(t, operator, "PATCH", "/connectors/sec/config", `{"connection.password":"[hidden]","tasks.max":"1"}`); status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, got)
	}
	if _, a := e.as(t, admin, "GET", "/connectors/sec/config", ""); !strings.Contains(a, `"connection.password":"`+password+`"`) {
		t.Errorf("after PATCH with [hidden]: %s", a)
	}
	// A [hidden] with nothing behind it is refused, naming the key.
	status, got = e.as(t, operator, "POST", "/connectors", strings.Replace(strings.Replace(body, password, "[hidden]", 1), `"sec"`, `"sec2"`, 1))
	if status != http.StatusBadRequest || !strings.Contains(got, "connection.password") {
		t.Errorf("create with [hidden]: %d %s", status, got)
	}
}

func TestAuthConfigValidate(t *testing.T) {
	for _, c := range []struct {
		auth connect.AuthConfig
		want string
	}{
		{connect.AuthConfig{}, "auth.type: missing"},
		{connect.AuthConfig{Type: "digest"}, `auth.type: must be basic, bearer or none, got "digest"`},
		{connect.AuthConfig{Type: "basic", Username: "u"}, "auth.password: missing"},
		{connect.AuthConfig{Type: "basic", Username: "u", Password: "p", AdminUsername: "a"}, "auth.adminUsername: set both"},
		{connect.AuthConfig{Type: "basic", Username: "u", Password: "p", AdminUsername: "u", AdminPassword: "q"}, "auth.adminUsername: must differ"},
		{connect.AuthConfig{Type: "bearer"}, "auth.token: missing"},
		{connect.AuthConfig{Type: "bearer", Token: "t", AdminToken: "t"}, "auth.adminToken: must differ"},
		{connect.AuthConfig{Type: "none"}, ""},
		{connect.AuthConfig{Type: "bearer", Token: "t", AdminToken: "a"}, ""},
	} {
		err := c.auth.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.auth, err, c.want)
		}
	}
}
