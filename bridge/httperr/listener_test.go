package httperr_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/httperr"
)

// rawExchange sends raw bytes on a new connection and reads the answer.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.40q: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Requests net/http cannot read are answered in JSON, 400 (431 for headers too large) instead
// of Go's plain text 400, 501 or 505; what handlers answer passes unchanged.
func TestListenerAnswersUnreadableRequestsInJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "from the handler", http.StatusTeapot)
	}), MaxHeaderBytes: 4096, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(httperr.Listener(ln, httperr.Envelope("test.badRequest"))) }()
	defer func() { _ = srv.Close(); <-done }()
	addr := ln.Addr().String()

	for _, c := range []struct {
		name, raw string
		status    int
		reason    string
	}{
		{"garbage request line", "GARBAGE\r\n\r\n", 400, "Bad Request"},
		{"unknown HTTP version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "HTTP Version Not Supported"},
		{"unsupported transfer encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400, "Unsupported transfer encoding"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
		{"space in the target", "GET /a b/c HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431, "Request Header Fields Too Large"},
	} {
		resp, body := rawExchange(t, addr, c.raw)
		var got httperr.Body
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != c.status || got.StatusCode != c.status ||
			got.Error != "test.badRequest" || !strings.Contains(got.Message, c.reason) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %q, want %d JSON naming %q", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.reason)
		}
	}
	resp, body := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != http.StatusTeapot || body != "from the handler\n" {
		t.Errorf("a handler's answer: %d %q", resp.StatusCode, body)
	}
}
