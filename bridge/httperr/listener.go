package httperr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// Render builds the JSON body of an answer net/http gives itself, from its status and reason.
type Render func(status int, reason string) []byte

// Envelope renders the {"statusCode", "error", "message"} body with the error named name.
func Envelope(name string) Render {
	return func(status int, reason string) []byte {
		b, _ := json.Marshal(Body{StatusCode: status, Error: name, Message: reason})
		return b
	}
}

// Listener wraps ln so that the answers net/http writes by itself, before any handler runs, to
// a request it cannot read (a malformed request line, an unsupported HTTP version or transfer
// encoding, a missing Host) are a JSON 400 rendered by render, as every other error is, rather
// than Go's plain text 400, 501 or 505; headers too large stay 431, in JSON.
func Listener(ln net.Listener, render Render) net.Listener { return listener{ln, render} }

type listener struct {
	net.Listener
	render Render
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return conn{c, l.render}, nil
}

type conn struct {
	net.Conn
	render Render
}

// plainHeaders follow the status line of net/http's own error answers and of no handler's
// response (those carry a Date and list Connection before Content-Type).
const plainHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// Write passes the server's writes through, but for one of its own error answers, which it
// writes at once, in a single Write, as the last thing on the connection.
func (c conn) Write(p []byte) (int, error) {
	status, reason, ok := plainError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if status != http.StatusRequestHeaderFieldsTooLarge {
		status = http.StatusBadRequest
	}
	body := c.render(status, reason)
	out := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(body))
	if _, err := c.Conn.Write(append(out, body...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainError reads an answer net/http wrote by itself: "HTTP/1.1 <code> <text>" plainHeaders
// and the reason.
func plainError(p []byte) (status int, reason string, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 {
		return 0, "", false
	}
	line, body, found := bytes.Cut(rest, []byte(plainHeaders))
	if !found || bytes.Contains(line, []byte("\r\n")) {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(line[:3]))
	if err != nil || code < 400 {
		return 0, "", false
	}
	return code, "The request cannot be read: " + string(body) + ".", true
}
