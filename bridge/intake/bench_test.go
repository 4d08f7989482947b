package intake_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/kbridge/kbridge/bridge/intake"
)

// BenchmarkIntake drives the intake over real keep-alive HTTP/1.1 connections with a minimal
// raw-TCP client (one write and one read per request, no allocations), like TestLoad's wrk
// but in process: one op is one 1 KB JSON record posted and answered. cpu-µs/op is the
// process's CPU time (server and client) per request. nowait with 64 and with 1536
// connections separates the cost of many connections from the cost of waiting for the sync.
func BenchmarkIntake(b *testing.B) {
	m := newManager(b, true)
	defineLoadSources(b, m)
	base, _ := serve(b, m)
	addr := strings.TrimPrefix(base, "http://")
	for _, c := range []struct {
		source string
		conns  int
	}{{"wait", 1536}, {"nowait", 64}, {"nowait", 1536}} {
		b.Run(fmt.Sprintf("%s/conns=%d", c.source, c.conns), func(b *testing.B) {
			benchIntake(b, addr, c.source, c.conns)
		})
	}
}

func benchIntake(b *testing.B, addr, source string, conns int) {
	event := loadEvent()
	req := []byte("POST /stream/1/" + source + "/" + secret + " HTTP/1.1\r\nHost: " + addr +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(event)) + "\r\n\r\n" + event)
	clients := make([]*rawClient, conns)
	for i := range clients {
		c, err := dialRaw(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.conn.Close()
		clients[i] = c
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu, start := selfCPU(), time.Now()
	for _, c := range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := c.post(req); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), selfCPU()-cpu
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// rawClient posts a prepared request and reads the answer's status and body.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(addr string) (*rawClient, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: conn, r: bufio.NewReaderSize(conn, 4<<10)}, nil
}

var contentLength = []byte("content-length:")

func (c *rawClient) post(req []byte) error {
	if _, err := c.conn.Write(req); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 20")) {
		return fmt.Errorf("answer %q", status)
	}
	n := 0
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n = atoi(bytes.TrimSpace(line[len(contentLength):]))
		}
	}
	_, err = c.r.Discard(n)
	return err
}

// atoi reads a non-negative decimal without allocating.
func atoi(b []byte) int {
	n := 0
	for _, d := range b {
		n = n*10 + int(d-'0')
	}
	return n
}

// BenchmarkHandler calls the intake's handler directly (no network) with a 1 KB JSON record
// for a sink with sync.wait=false: the handler's own cost per request, without the server's
// connection handling and without waiting for the sync.
func BenchmarkHandler(b *testing.B) {
	m := newManager(b, true)
	defineLoadSources(b, m)
	srv, err := intake.New(intake.DefaultConfig(), intake.Deps{Sink: m})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	event := []byte(loadEvent())
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var req fasthttp.Request
		req.Header.SetMethod(http.MethodPost)
		req.SetRequestURI("/stream/1/nowait/" + secret)
		req.Header.SetHost("localhost")
		req.Header.SetContentType("application/json")
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, peer, nil)
		for pb.Next() {
			ctx.Request.SetBodyRaw(event)
			ctx.Response.Reset()
			h(&ctx)
			if code := ctx.Response.StatusCode(); code != http.StatusAccepted {
				b.Errorf("status %d: %s", code, ctx.Response.Body())
				return
			}
		}
	})
}
