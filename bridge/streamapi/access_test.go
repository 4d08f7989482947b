package streamapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/streamapi"
	"github.com/kbridge/kbridge/storageapi"
)

// as calls the API with token and asserts the status.
func (e *env) as(t *testing.T, token, method, path, body string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-StorageApi-Token", token)
	req.Header.Set("Content-Type", "application/json")
	return string(send(t, req, want))
}

// Keboola's rule: the intake URL carries the secret that lets anyone write into the source's
// tables, so only an admin (master) token reads it; a read-only token reads [hidden] in its place.
func TestReadOnlyTokenReadsNoSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.as(t, masterToken, "POST", "/v1/branches/default/sources", `{"sourceId":"orders","name":"Orders","type":"http"}`, http.StatusAccepted)
	admin := e.as(t, masterToken, "GET", "/v1/branches/default/sources/orders", "", http.StatusOK)
	prefix := `"url":"` + intakeURL + "/stream/1/orders/"
	i := strings.Index(admin, prefix)
	if i < 0 {
		t.Fatalf("admin reads no intake URL: %s", admin)
	}
	secret := admin[i+len(prefix) : i+len(prefix)+48]
	for _, path := range []string{"/v1/branches/default/sources/orders", "/v1/branches/default/sources"} {
		got := e.as(t, readToken, "GET", path, "", http.StatusOK)
		if strings.Contains(got, secret) || !strings.Contains(got, prefix+`[hidden]"`) {
			t.Errorf("GET %s with a read-only token: %s", path, got)
		}
	}
}

// stuckTokens holds every verification of the token "stuck" until release is closed.
type stuckTokens struct {
	streamapi.Tokens
	waiting atomic.Int64
	release chan struct{}
}

func (s *stuckTokens) Verify(ctx context.Context, token string) (streamapi.Token, error) {
	if token != "stuck" {
		return s.Tokens.Verify(ctx, token)
	}
	s.waiting.Add(1)
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return streamapi.Token{}, storageapi.ErrUnauthorized
}

// Requests are authenticated before they wait for the lock that serialises definition
// changes: writes whose token is still being verified (or is bad) do not hold up an admin's.
func TestAuthenticateBeforeLock(t *testing.T) {
	t.Parallel()
	stuck := &stuckTokens{release: make(chan struct{})}
	e := newEnv(t, false, func(_ *streamapi.Config, d *streamapi.Deps) { stuck.Tokens = d.Tokens; d.Tokens = stuck })
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stuck.release)
	const n = 10
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.url+"/v1/branches/default/sources", strings.NewReader(`{"name":"x","type":"http"}`))
			req.Header.Set("X-StorageApi-Token", "stuck")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	waitUntil(t, "the stuck verifications", func() bool { return stuck.waiting.Load() == n })
	// With the lock taken before authentication this would wait until release is closed.
	e.as(t, masterToken, "POST", "/v1/branches/default/sources", `{"sourceId":"orders","name":"Orders","type":"http"}`, http.StatusAccepted)
	if w := stuck.waiting.Load(); w != n {
		t.Fatalf("%d stuck verifications, want %d", w, n)
	}
}

// A deleted token is refused by writes at once (they always ask Storage) and by reads once
// api.tokenCacheTtl has passed since it was last verified.
func TestDeletedTokenRefused(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, false, func(c *streamapi.Config, d *streamapi.Deps) { c.TokenCacheTTL = 30 * time.Second; d.Now = clock })
	storage := storageClient(t, e.emURL)
	tok, err := storage.CreateToken(context.Background(), storageapi.CreateTokenRequest{Description: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	const list = "/v1/branches/default/sources"
	e.as(t, tok.Token, "GET", list, "", http.StatusOK)
	e.as(t, tok.Token, "POST", list, `{"name":"x","type":"http"}`, http.StatusForbidden) // verified: not an admin
	if err := storage.DeleteToken(context.Background(), tok.ID); err != nil {
		t.Fatal(err)
	}
	e.as(t, tok.Token, "POST", list, `{"name":"x","type":"http"}`, http.StatusUnauthorized)
	e.as(t, tok.Token, "GET", list, "", http.StatusUnauthorized) // the failed verification dropped it from the cache
	tok2, err := storage.CreateToken(context.Background(), storageapi.CreateTokenRequest{Description: "doomed too"})
	if err != nil {
		t.Fatal(err)
	}
	e.as(t, tok2.Token, "GET", list, "", http.StatusOK)
	if err := storage.DeleteToken(context.Background(), tok2.ID); err != nil {
		t.Fatal(err)
	}
	e.as(t, tok2.Token, "GET", list, "", http.StatusOK) // within the TTL: the bound
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	e.as(t, tok2.Token, "GET", list, "", http.StatusUnauthorized)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
