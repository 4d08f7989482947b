package emulator_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const masterToken = "test-master-token"

func testConfig(t *testing.T) emulator.Config {
	cfg := emulator.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MasterToken = masterToken
	cfg.JobDelay = 20 * time.Millisecond
	return cfg
}

// serve runs the emulator on a real listener; stop ends it and waits (also run at cleanup).
func serve(t *testing.T, cfg emulator.Config) (em *emulator.Emulator, base string, stop func()) {
	t.Helper()
	em, err := emulator.New(cfg)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	base, stop = emulatortest.Serve(t, "emulator", em.Serve)
	return em, base, stop
}

// api sends raw requests shaped like the real clients'.
type api struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
}

func newAPI(t *testing.T, base, token string) *api {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &api{t: t, base: base, token: token, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// call sends body with the content type (JSON when it starts with "{" or "[", form otherwise).
func (a *api) call(method, path, body string, headers ...string) (int, http.Header, []byte) {
	a.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = a.base + path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("X-StorageApi-Token", a.token)
	}
	switch {
	case body == "":
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
		req.Header.Set("Content-Type", "application/json")
	default:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// expect calls and fails unless the status matches.
func (a *api) expect(status int, method, path, body string, headers ...string) []byte {
	a.t.Helper()
	got, _, data := a.call(method, path, body, headers...)
	if got != status {
		a.t.Fatalf("%s %s = %d %s, want %d", method, path, got, data, status)
	}
	return data
}
