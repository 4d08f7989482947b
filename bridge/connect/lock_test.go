package connect_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/kafka"
)

// TestSlowStopBlocksNoOtherCall pauses a connector whose consumer takes seconds to return
// (as one committing against a slow broker does) and checks that, meanwhile, every other call
// answers at once: reads of it and of another connector, a change to the other connector and
// the creation of a third. The pause itself answers once the consumer has returned.
func TestSlowStopBlocksNoOtherCall(t *testing.T) {
	const stopTime = 3 * time.Second
	e := newEnv(t)
	stopping := make(chan struct{}) // closed once the slow consumer has been told to stop
	e.supervise = func(ctx context.Context, name string, c *kafka.Consumer) {
		_ = c.Run(ctx)
		if name == "slow" {
			close(stopping)
			time.Sleep(stopTime)
		}
	}
	e.start()
	for _, name := range []string{"slow", "other"} {
		if status, body := e.call(t, "POST", "/connectors", keboolaConfig(name)); status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, status, body)
		}
	}
	paused := make(chan time.Duration, 1)
	began := time.Now()
	go func() {
		status, _ := e.call(t, "PUT", "/connectors/slow/pause", "")
		if status != http.StatusAccepted {
			t.Errorf("pause: %d", status)
		}
		paused <- time.Since(began)
	}()
	select {
	case <-stopping: // the pause has cancelled the consumer and waits for it
	case <-time.After(30 * time.Second):
		t.Fatal("the pause did not stop the consumer")
	}
	calls := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/connectors", "", http.StatusOK},
		{"GET", "/connectors/slow/status", "", http.StatusOK},
		{"GET", "/connectors/other/config", "", http.StatusOK},
		{"PUT", "/connectors/other/pause", "", http.StatusAccepted},
		{"PUT", "/connectors/other/resume", "", http.StatusAccepted},
		{"POST", "/connectors", keboolaConfig("third"), http.StatusCreated},
	}
	for _, c := range calls {
		start := time.Now()
		status, body := e.call(t, c.method, c.path, c.body)
		took := time.Since(start)
		if status != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.want)
		}
		if took > stopTime/2 {
			t.Errorf("%s %s took %s while another connector stopped", c.method, c.path, took)
		}
		select {
		case <-paused:
			t.Fatalf("the pause answered before %s %s: the consumer's stop was not slow", c.method, c.path)
		default:
		}
	}
	if took := <-paused; took < stopTime {
		t.Errorf("pause answered after %s, before its consumer returned (%s)", took, stopTime)
	}
	if got := e.connectorState(t, "slow"); got != "PAUSED" {
		t.Errorf("slow is %s, want PAUSED", got)
	}
}

func keboolaConfig(name string) string {
	return fmt.Sprintf(`{"name": %q, "config": {"connector.class": "io.kbridge.KeboolaSinkConnector",
		"topics": "events", "kbridge.source": "events"}}`, name)
}
