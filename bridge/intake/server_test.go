package intake_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/bridge/intake"
	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

// raw sends bytes on a new connection, waits pause, sends more, and reads one answer.
func raw(t *testing.T, addr string, parts []string, pause time.Duration) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for i, p := range parts {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := io.WriteString(c, p); err != nil && i == 0 {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.60q: %v", parts[0], err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestMalformedRequests: requests the HTTP server cannot read are answered in the intake's
// JSON envelope, never in plain text: malformed request lines and headers 400, headers over
// maxHeaderBytes 431, a body announced over the NDJSON limit 413, a client that does not send
// its request within readTimeout 408.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	define(t, m, "events", false, fastSync, "in.c-test.events")
	url, _ := serve(t, m, func(c *intake.Config) {
		c.MaxHeaderBytes, c.ReadTimeout, c.MaxBodySize, c.MaxNDJSONBodySize = 4096, 500*time.Millisecond, 1000, 2000
	})
	addr := strings.TrimPrefix(url, "http://")
	post := "POST /stream/1/events/" + secret + " HTTP/1.1\r\nHost: x\r\n"
	for _, c := range []struct {
		name   string
		parts  []string
		status int
		errName,
		reason string
	}{
		{"garbage request line", []string{"GARBAGE\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"unknown HTTP version", []string{"GET / HTTP/9.9\r\nHost: x\r\n\r\n"}, 400, "stream.in.badRequest", "HTTP Version Not Supported"},
		{"no method", []string{" / HTTP/1.1\r\nHost: x\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"control character in a header", []string{"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"header without a colon", []string{"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"bad chunk", []string{post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"bad Content-Length", []string{post + "Content-Length: -5\r\n\r\n"}, 400, "stream.in.badRequest", "cannot be read"},
		{"headers over maxHeaderBytes", []string{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n"}, 431,
			"stream.in.headersTooLarge", "4KB"},
		{"10,000 headers", []string{"GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: b\r\n", 10000) + "\r\n"}, 431,
			"stream.in.headersTooLarge", "4KB"},
		{"body announced over the limit", []string{post + "Content-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n{}"}, 413,
			"stream.in.bodyTooLarge", "2000B"},
		{"slow request line", []string{"POST /stream/1/ev", "ents/x HTTP/1.1\r\n"}, 408, "stream.in.requestTimeout", "500ms"},
		{"slow headers", []string{post, "Content-Length: 2\r\n\r\n{}"}, 408, "stream.in.requestTimeout", "500ms"},
		{"slow body", []string{post + "Content-Length: 20\r\n\r\n{\"id\"", ":1}"}, 408, "stream.in.requestTimeout", "500ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp, body := raw(t, addr, c.parts, time.Second)
			var got httperr.Body
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != c.status || got.StatusCode != c.status ||
				got.Error != c.errName || !strings.Contains(got.Message, c.reason) || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%d %s %q, want %d JSON %s naming %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.errName, c.reason)
			}
		})
	}
}

// TestGracefulShutdown: when Serve's context ends, requests in flight (waiting for their
// fsync) complete with 200, new connections are refused, a request on an open connection is
// answered 503 stream.in.shutdown or finds the connection closed, and Serve returns nil within
// shutdownTimeout. When the requests take longer than shutdownTimeout, Serve closes their
// connections and returns an error soon after it.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	// Every sync waits 1.5 s: requests are in flight that long.
	define(t, m, "slow", false, sink.Patch{"storage.level.local.encoding.sync.intervalTrigger": "1500ms"}, "in.c-test.slow")
	for _, c := range []struct {
		name     string
		timeout  time.Duration
		complete bool
	}{{"in-flight requests complete", 10 * time.Second, true}, {"shutdownTimeout cuts them off", 300 * time.Millisecond, false}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := intake.DefaultConfig()
			cfg.ShutdownTimeout = c.timeout
			srv, err := intake.New(cfg, intake.Deps{Sink: m})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ctx, ln) }()
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			url := "http://" + addr + "/stream/1/slow/" + secret
			// An idle keep-alive connection, opened before the shutdown.
			idle, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			const inFlight = 5
			type result struct {
				status int
				body   string
				err    error
			}
			results := make(chan result, inFlight)
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					resp, err := client.Post(url, "application/json", strings.NewReader(`{"id":"1","name":"a"}`))
					if err != nil {
						results <- result{err: err}
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					results <- result{status: resp.StatusCode, body: string(b)}
				})
			}
			time.Sleep(300 * time.Millisecond) // the requests are read and wait for the sync
			start := time.Now()
			cancel()
			time.Sleep(50 * time.Millisecond)
			if c2, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c2.Close()
				t.Error("a new connection was accepted after the shutdown began")
			}
			_, _ = io.WriteString(idle, "POST /stream/1/slow/"+secret+" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
			_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
			if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err == nil {
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "stream.in.shutdown") {
					t.Errorf("a request on an open connection during the shutdown: %d %s", resp.StatusCode, b)
				}
			}
			wg.Wait()
			close(results)
			err = <-served
			took := time.Since(start)
			for r := range results {
				switch {
				case c.complete && (r.err != nil || r.status != http.StatusOK || r.body != "OK"):
					t.Errorf("an in-flight request: %d %q %v, want 200 OK", r.status, r.body, r.err)
				case !c.complete && r.err == nil:
					t.Errorf("a request cut off by shutdownTimeout was answered %d %q", r.status, r.body)
				}
			}
			if c.complete && err != nil {
				t.Errorf("Serve: %v, want nil", err)
			}
			if !c.complete && (err == nil || !strings.Contains(err.Error(), "busy")) {
				t.Errorf("Serve: %v, want an error naming the busy connections", err)
			}
			if limit := c.timeout + time.Second; took > max(limit, 3*time.Second) {
				t.Errorf("Serve returned %s after the shutdown began (shutdownTimeout %s)", took, c.timeout)
			}
			if c.complete && took > c.timeout {
				t.Errorf("shutdown took %s, over shutdownTimeout %s", took, c.timeout)
			}
			var ne net.Error
			if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil || errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("dial after Serve returned: %v, want refused", err)
			}
		})
	}
}

// TestClientIPReachesTheMapping: Ip() is the TCP peer, or with the peer among trustedProxies
// the first address of X-Forwarded-For from the right that is not a trusted proxy.
func TestClientIPReachesTheMapping(t *testing.T) {
	t.Parallel()
	m := newManager(t, true)
	if err := m.PutSource(sink.Source{Key: key("ip"), Type: "http", Name: "ip", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	cols := []mapping.Column{{Type: mapping.KindTemplate, Name: "ip", Template: &mapping.Template{Language: "jsonnet", Content: `error 'ip=' + Ip()`}}}
	if err := m.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: key("ip"), SinkID: "sink-a"}, Name: "sink",
		TableID: "in.c-test.ip", Columns: cols, Settings: fastSync}); err != nil {
		t.Fatal(err)
	}
	direct, _ := serve(t, m)
	proxied, _ := serve(t, m, func(c *intake.Config) { c.TrustedProxies = []string{"127.0.0.0/8", "10.0.0.0/8"} })
	for _, c := range []struct {
		name, base, xff, want string
	}{
		{"peer", direct, "", "ip=127.0.0.1"},
		{"header of an untrusted peer", direct, "198.51.100.7", "ip=127.0.0.1"},
		{"trusted proxy", proxied, "6.6.6.6, 198.51.100.7, 10.1.1.1", "ip=198.51.100.7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), "POST", c.base+"/stream/1/ip/"+secret, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 422 || !strings.Contains(string(b), c.want+".") {
				t.Fatalf("%d %s, want 422 naming %s", resp.StatusCode, b, c.want)
			}
		})
	}
}
