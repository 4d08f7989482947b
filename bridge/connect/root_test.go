package connect_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kbridge/kbridge/bridge/connect"
	"github.com/kbridge/kbridge/bridge/kafka"
)

// TestHealthWhileStarting: before the connectors run, GET /health answers 503 with
// WorkerStatus.starting(null), as RootResourceTest.testHealthCheckStarting expects of Connect.
func TestHealthWhileStarting(t *testing.T) {
	e := newEnv(t)
	srv, err := connect.New(connect.Config{Listen: "127.0.0.1:0", StateDir: e.dir, WorkerID: "kbridge:8083", Auth: testAuth},
		connect.Deps{Kafka: kafka.Deps{Client: kafka.ClientConfig{Brokers: e.cluster.ListenAddrs()}, Writer: e.manager}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	want := `{"status":"starting","message":"Worker is still starting up."}` + "\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != want {
		t.Errorf("GET /health: %d %s, want 503 %s", rec.Code, rec.Body, want)
	}
}
