package schemaregistry_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/kbridge/kbridge/bridge/schemaregistry"
)

// Serve answers until its context ends, then returns having closed the listener, leaving no
// goroutine behind; the address can be listened on again at once.
func TestServeStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reg, err := schemaregistry.New(schemaregistry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + ln.Addr().String() + "/subjects")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /subjects: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	again, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("the address is still taken: %v", err)
	}
	again.Close()
}
