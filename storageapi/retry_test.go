package storageapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	type result struct {
		err   error
		calls int
		waits []time.Duration
	}
	cases := map[string]struct {
		fault    emulator.Fault
		endpoint string
		call     func(ctx context.Context, c *storageapi.Client) error
		check    func(t *testing.T, r result)
	}{
		"500 then success": {
			fault: emulator.Fault{Endpoint: "getBucket", Status: 500},
			call: func(ctx context.Context, c *storageapi.Client) error {
				_, err := c.GetBucket(ctx, "in.c-shop")
				return err
			},
			check: func(t *testing.T, r result) {
				if r.err != nil || r.calls != 2 || len(r.waits) != 1 {
					t.Fatalf("err %v, calls %d, waits %v; want success after 2 calls", r.err, r.calls, r.waits)
				}
			},
		},
		"429 honours Retry-After": {
			fault: emulator.Fault{Endpoint: "createBucket", Status: 429, RetryAfter: 7},
			call: func(ctx context.Context, c *storageapi.Client) error {
				_, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "new"})
				return err
			},
			check: func(t *testing.T, r result) {
				if r.err != nil || r.calls != 2 || len(r.waits) != 1 || r.waits[0] != 7*time.Second {
					t.Fatalf("err %v, calls %d, waits %v; want one wait of 7s then success", r.err, r.calls, r.waits)
				}
			},
		},
		"400 is not retried": {
			fault: emulator.Fault{Endpoint: "getTable", Status: 400},
			call: func(ctx context.Context, c *storageapi.Client) error {
				_, err := c.GetTable(ctx, "in.c-shop.orders")
				return err
			},
			check: func(t *testing.T, r result) {
				if !errors.Is(r.err, storageapi.ErrInvalidRequest) || storageapi.IsRetryable(r.err) || r.calls != 1 || len(r.waits) != 0 {
					t.Fatalf("err %v, calls %d, waits %v; want one call and ErrInvalidRequest", r.err, r.calls, r.waits)
				}
			},
		},
		"503 until attempts run out": {
			fault: emulator.Fault{Endpoint: "verifyToken", Status: 503, Count: 100},
			call:  func(ctx context.Context, c *storageapi.Client) error { _, err := c.VerifyToken(ctx); return err },
			check: func(t *testing.T, r result) {
				if !errors.Is(r.err, storageapi.ErrServer) || r.calls != 3 || len(r.waits) != 2 {
					t.Fatalf("err %v, calls %d, waits %v; want 3 calls then ErrServer", r.err, r.calls, r.waits)
				}
				for i, w := range r.waits {
					if w <= 0 || w > 20*time.Millisecond {
						t.Fatalf("wait %d = %s, outside the configured backoff", i, w)
					}
				}
			},
		},
		"import is not retried after an ambiguous 500": {
			fault: emulator.Fault{Endpoint: "importTable", Status: 500},
			call: func(ctx context.Context, c *storageapi.Client) error {
				_, err := c.ImportFile(ctx, "in.c-shop.orders", 1, storageapi.ImportOptions{})
				return err
			},
			check: func(t *testing.T, r result) {
				if !errors.Is(r.err, storageapi.ErrServer) || r.calls != 1 {
					t.Fatalf("err %v, calls %d; want one call", r.err, r.calls)
				}
			},
		},
		"import is retried after a 503 refusal": {
			fault: emulator.Fault{Endpoint: "importTable", Status: 503},
			call: func(ctx context.Context, c *storageapi.Client) error {
				_, err := c.ImportFile(ctx, "in.c-shop.orders", 1, storageapi.ImportOptions{})
				return err
			},
			check: func(t *testing.T, r result) {
				if !errors.Is(r.err, storageapi.ErrNotFound) || r.calls != 2 { // the table does not exist
					t.Fatalf("err %v, calls %d; want a retry reaching the 404", r.err, r.calls)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			em, u := startEmulator(t)
			c := newClient(t, testConfig(u, masterToken))
			if _, err := c.CreateBucket(testContext(t), storageapi.CreateBucketRequest{Name: "shop"}); err != nil {
				t.Fatal(err)
			}
			before := em.Calls(tc.fault.Endpoint)
			em.InjectFault(tc.fault)
			rec := &recordingSleep{}
			cfg := testConfig(u, masterToken)
			cfg.Retry.MaxAttempts = 3
			retrying := newClient(t, cfg, storageapi.WithSleep(rec.sleep))
			err := tc.call(testContext(t), retrying)
			tc.check(t, result{err: err, calls: em.Calls(tc.fault.Endpoint) - before, waits: rec.recorded()})
		})
	}
}

func TestRetryHangingRequest(t *testing.T) {
	t.Parallel()
	em, u := startEmulator(t)
	em.InjectFault(emulator.Fault{Endpoint: "verifyToken", Hang: time.Minute})
	cfg := testConfig(u, masterToken)
	cfg.RequestTimeout = 100 * time.Millisecond
	start := time.Now()
	if _, err := newClient(t, cfg).VerifyToken(testContext(t)); err != nil {
		t.Fatalf("verify after a hanging attempt: %v", err)
	}
	if n, took := em.Calls("verifyToken"), time.Since(start); n != 2 || took > 5*time.Second {
		t.Fatalf("calls %d in %s; want 2 calls, the first cut off by the request timeout", n, took)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	em, u := startEmulator(t)
	em.InjectFault(emulator.Fault{Endpoint: "verifyToken", Status: 502, Count: 1000})
	cfg := testConfig(u, masterToken)
	cfg.Retry.MaxAttempts, cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = 1000, 20*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := newClient(t, cfg).VerifyToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, storageapi.ErrServer) {
		t.Fatalf("err = %v; want the last 502 and the context's deadline", err)
	}
}

func TestRetryNetworkError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	rec := &recordingSleep{}
	cfg := testConfig("http://"+addr, masterToken)
	cfg.Retry.MaxAttempts = 4
	_, err = newClient(t, cfg, storageapi.WithSleep(rec.sleep)).VerifyToken(testContext(t))
	var apiErr *storageapi.Error
	if err == nil || errors.As(err, &apiErr) || !storageapi.IsRetryable(err) || len(rec.recorded()) != 3 {
		t.Fatalf("err %v, waits %v; want a retryable network error after 4 attempts", err, rec.recorded())
	}
}

// TestRetriedCreateSeesAlreadyExists: the first create succeeds but its response is lost
// (a proxy answers 502); the retry gets "already exists" and the client reads the bucket.
func TestRetriedCreateSeesAlreadyExists(t *testing.T) {
	t.Parallel()
	_, u := startEmulator(t)
	target, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	var creates atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == "/v2/storage/buckets" && creates.Add(1) == 1 {
			resp.StatusCode = http.StatusBadGateway
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	ctx := testContext(t)
	b, err := newClient(t, testConfig(srv.URL, masterToken)).CreateBucket(ctx, storageapi.CreateBucketRequest{Name: "shop"})
	if err != nil || b.ID != "in.c-shop" || creates.Load() != 2 {
		t.Fatalf("create = %+v, %v after %d creates; want the bucket read back", b, err, creates.Load())
	}
}
