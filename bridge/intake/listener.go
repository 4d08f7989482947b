package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/kbridge/kbridge/bridge/httperr"
)

// jsonListener wraps the intake's listener. It keeps the open connections and whether each
// is between requests, so a shutdown can close the idle ones at once and, when it runs out of
// time, the rest; and it turns the answers fasthttp writes by itself in plain text, outside
// any handler (a connection refused over the server's concurrency limit), into the intake's
// JSON envelope: no answer of the intake is plain text but the handler's "OK".
type jsonListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*jsonConn]struct{}
}

func newJSONListener(ln net.Listener) *jsonListener {
	return &jsonListener{Listener: ln, conns: map[*jsonConn]struct{}{}}
}

func (l *jsonListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	jc := &jsonConn{Conn: c, ln: l}
	l.mu.Lock()
	l.conns[jc] = struct{}{}
	l.mu.Unlock()
	return jc, nil
}

// closeConns closes the open connections, only those between requests unless all is set.
func (l *jsonListener) closeConns(all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if all || c.state.Load() != int32(fasthttp.StateActive) {
			_ = c.Conn.Close()
		}
	}
}

// connState records the state fasthttp reports for a connection (Server.ConnState).
func connState(c net.Conn, st fasthttp.ConnState) {
	if jc, ok := c.(*jsonConn); ok {
		jc.state.Store(int32(st))
	}
}

type jsonConn struct {
	net.Conn
	ln      *jsonListener
	state   atomic.Int32 // a fasthttp.ConnState
	once    sync.Once
	refused bool // the last answer written was an error: the client may still be sending
}

// Lingering close: after an error answer the client may still be sending its body (a body
// over the limit is refused as soon as its Content-Length is read). Closing a socket with
// unread data makes the kernel reset the connection, and the client may then lose the answer
// before reading it; so, as net/http does, the connection is half-closed and read for a while
// first.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 64 << 20
)

// Close is called by the server when it is done with the connection.
func (c *jsonConn) Close() error {
	if tcp, ok := c.Conn.(*net.TCPConn); ok && c.refused {
		_ = tcp.CloseWrite()
		_ = tcp.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, tcp, lingerBytes)
	}
	err := c.Conn.Close()
	c.once.Do(func() {
		c.ln.mu.Lock()
		delete(c.ln.conns, c)
		c.ln.mu.Unlock()
	})
	return err
}

// Write passes the server's writes through, but for an answer fasthttp wrote by itself in
// plain text (status line, then Content-Type: text/plain), which it writes at once as the
// last thing on the connection. Checking costs a prefix compare per write.
func (c *jsonConn) Write(p []byte) (int, error) {
	if len(p) > 9 && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) {
		c.refused = p[9] >= '4'
	}
	status, reason, ok := plainAnswer(p)
	if !ok {
		return c.Conn.Write(p)
	}
	b, _ := json.Marshal(httperr.Body{StatusCode: status, Error: "stream.in.serverBusy", Message: "The server cannot take the connection now (" + reason + "), please retry."})
	out := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(b))
	if _, err := c.Conn.Write(append(out, b...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainAnswer reads fasthttp's own plain answer: "HTTP/1.1 <code> <text>\r\n", headers with
// "Content-Type: text/plain\r\n" (the handler's answers say "text/plain; charset=utf-8" or
// application/json), and the message after the blank line.
func plainAnswer(p []byte) (int, string, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 4 || rest[0] < '4' {
		return 0, "", false
	}
	head, body, ok := bytes.Cut(rest, []byte("\r\n\r\n"))
	if !ok || !bytes.Contains(head, []byte("\r\nContent-Type: text/plain\r\n")) {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0, "", false
	}
	return code, string(body), true
}

// open is the number of connections the server has not closed yet.
func (l *jsonListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
