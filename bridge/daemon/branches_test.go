package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/daemon"
	"github.com/kbridge/kbridge/storageapi/emulator"
	"github.com/kbridge/kbridge/storageapi/emulator/emulatortest"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDefaultBranchIsStorages: with defaultBranchId 0 the daemon takes the project's default
// branch from Storage (here 4711, not 1), so the Stream API's "default" is that branch; a
// defaultBranchId the project does not have stops the daemon at start, naming the key.
func TestDefaultBranchIsStorages(t *testing.T) {
	t.Parallel()
	em := emulatortest.Start(t, func(c *emulator.Config) { c.DefaultBranchID = 4711 })
	config := func() daemon.Config {
		cfg := daemon.DefaultConfig()
		cfg.Sink.DataDir = t.TempDir()
		cfg.Storage = em.Config(emulatortest.Token)
		cfg.Intake.Listen, cfg.Metrics.Listen, cfg.Connect.Listen = "", "", ""
		cfg.API.Listen = freeAddr(t)
		return cfg
	}
	log := slog.New(slog.DiscardHandler)

	bad := config()
	bad.DefaultBranchID = 99
	d, err := daemon.New(bad, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Run(ctx); err == nil || !strings.Contains(err.Error(), "defaultBranchId: 99 is not a branch") {
		t.Fatalf("run with a branch the project does not have: %v", err)
	}

	cfg := config()
	d, err = daemon.New(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Run(runCtx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	t.Cleanup(func() { stop(); wg.Wait() })
	select {
	case <-d.Started():
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not started")
	}
	if k := d.SourceKey("x"); k.BranchID != 4711 {
		t.Fatalf("configured sources live in branch %d, want 4711", k.BranchID)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+cfg.API.Listen+"/v1/branches/default/sources", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-StorageApi-Token", emulatortest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var list struct {
		BranchID int64 `json:"branchId"`
	}
	if err := json.Unmarshal(data, &list); err != nil || resp.StatusCode != 200 || list.BranchID != 4711 {
		t.Fatalf("GET /v1/branches/default/sources = %d %s, want branch 4711", resp.StatusCode, data)
	}
}
