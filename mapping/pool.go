package mapping

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// errTimeout is an evaluation that ran past Config.TemplateTimeout.
	errTimeout = errors.New("timed out")
	// errOutOfMemory is an evaluation that ran past Config.TemplateMemoryLimit.
	errOutOfMemory = errors.New("ran out of memory")
)

// breached tells whether err is an evaluation stopped at one of its limits.
func breached(err error) bool { return errors.Is(err, errTimeout) || errors.Is(err, errOutOfMemory) }

// pool runs template worker processes for the mappings of one memory limit and worker count.
// Each evaluation takes a worker for itself; a worker whose evaluation breaks a limit is
// killed and another started when next needed. One program (the templates of one mapping,
// whichever sinks compiled it) holds at most max-1 workers at once, so a runaway template
// never takes them all. Idle workers hold no goroutine: a worker is only read and written by
// the evaluation that holds it.
type pool struct {
	exe      string
	memLimit int64
	max      int
	perKey   int

	mu      sync.Mutex
	freed   *sync.Cond // a worker or a program's share was released
	busy    int
	waiting int // acquires waiting for a worker
	byKey   map[uint64]int
	idle    []*workerProc

	started, stopped atomic.Int64
	maxRSS           atomic.Int64 // the largest resident size a stopped worker reached
}

// WorkerStats reports on the template worker processes of this process (see InitWorkers).
type WorkerStats struct {
	Started int64 // workers started
	Stopped int64 // workers killed because an evaluation broke a limit (or the worker failed)
	MaxRSS  int64 // the largest resident size, in bytes, a stopped worker reached
}

// Workers sums the statistics of every pool.
func Workers() WorkerStats {
	pools.Lock()
	defer pools.Unlock()
	var s WorkerStats
	for _, p := range pools.m {
		s.Started += p.started.Load()
		s.Stopped += p.stopped.Load()
		s.MaxRSS = max(s.MaxRSS, p.maxRSS.Load())
	}
	return s
}

var pools struct {
	sync.Mutex
	m map[[2]int64]*pool
}

// poolFor returns the process's pool for cfg's limits, or nil when templates are evaluated in
// this process (InitWorkers was not called).
func poolFor(cfg Config) *pool {
	if workerExe == "" {
		return nil
	}
	pools.Lock()
	defer pools.Unlock()
	key := [2]int64{cfg.TemplateMemoryLimit, int64(cfg.TemplateWorkers)}
	if p := pools.m[key]; p != nil {
		return p
	}
	p := &pool{exe: workerExe, memLimit: cfg.TemplateMemoryLimit, max: cfg.TemplateWorkers,
		perKey: max(1, cfg.TemplateWorkers-1), byKey: map[uint64]int{}}
	p.freed = sync.NewCond(&p.mu)
	if pools.m == nil {
		pools.m = map[[2]int64]*pool{}
	}
	pools.m[key] = p
	return p
}

// acquire waits for a worker for program key, starting one when none is idle.
func (p *pool) acquire(key uint64) (*workerProc, error) {
	p.mu.Lock()
	for p.busy >= p.max || p.byKey[key] >= p.perKey {
		p.waiting++
		p.freed.Wait()
		p.waiting--
	}
	p.busy++
	p.byKey[key]++
	var w *workerProc
	if n := len(p.idle); n > 0 {
		w, p.idle = p.idle[n-1], p.idle[:n-1]
	}
	p.mu.Unlock()
	if w != nil {
		return w, nil
	}
	w, err := p.start()
	if err != nil {
		p.release(key, nil)
		return nil, err
	}
	return w, nil
}

// release gives back the share of program key and the worker, nil when it was stopped.
func (p *pool) release(key uint64, w *workerProc) {
	p.mu.Lock()
	p.busy--
	if p.byKey[key]--; p.byKey[key] == 0 {
		delete(p.byKey, key)
	}
	if w != nil {
		p.idle = append(p.idle, w)
	}
	p.freed.Broadcast()
	p.mu.Unlock()
}

// workerProc is a running worker: requests go to its stdin, responses come from its stdout,
// and what it says when it dies is kept on a pipe read after its end.
type workerProc struct {
	cmd    *exec.Cmd
	in     *os.File
	out    *os.File
	stderr *os.File
}

func (p *pool) start() (*workerProc, error) {
	var files [6]*os.File // child's stdin, our end; our end, child's stdout; same for stderr
	for i := 0; i < len(files); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(files[:i])
			return nil, fmt.Errorf("start template worker: %w", err)
		}
		files[i], files[i+1] = r, w
	}
	childIn, in, out, childOut, stderr, childErr := files[0], files[1], files[2], files[3], files[4], files[5]
	cmd := &exec.Cmd{Path: p.exe, Args: []string{"kbridge-template-worker"},
		Env:    append(os.Environ(), workerEnv+"="+strconv.FormatInt(p.memLimit, 10), "GOTRACEBACK=none"),
		Stdin:  childIn,
		Stdout: childOut, Stderr: childErr, SysProcAttr: workerAttr()}
	err := cmd.Start()
	closeAll([]*os.File{childIn, childOut, childErr})
	if err != nil {
		closeAll([]*os.File{in, out, stderr})
		return nil, fmt.Errorf("start template worker: %w", err)
	}
	p.started.Add(1)
	w := &workerProc{cmd: cmd, in: in, out: out, stderr: stderr}
	// A worker that cannot start within a minute is stopped; its time limit starts once ready.
	_ = out.SetReadDeadline(time.Now().Add(time.Minute))
	var ready [1]byte
	if _, err := io.ReadFull(out, ready[:]); err != nil || ready[0] != workerReady {
		if said := lastWords(p.kill(w)); said != "" {
			err = errors.New(said)
		}
		return nil, fmt.Errorf("start template worker: %v", err)
	}
	return w, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// call sends a request frame and reads the response frame, appended to resp, within timeout.
// On any error the worker is stopped, and the error says why: errTimeout, errOutOfMemory, or
// what the worker printed when it died.
func (p *pool) call(w *workerProc, req []byte, timeout time.Duration, resp []byte) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	_ = w.in.SetWriteDeadline(deadline)
	_ = w.out.SetReadDeadline(deadline)
	var hdr [4]byte
	_, err := w.in.Write(req)
	if err == nil {
		_, err = io.ReadFull(w.out, hdr[:])
	}
	if err == nil {
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		if n > p.memLimit {
			err = fmt.Errorf("response of %d bytes exceeds the memory limit", n)
		} else {
			start := len(resp)
			resp = resize(resp, start+int(n))
			_, err = io.ReadFull(w.out, resp[start:])
		}
	}
	if err != nil {
		return resp, p.stop(w, err, timeout)
	}
	return resp, nil
}

// stop kills w after err and tells why it failed.
func (p *pool) stop(w *workerProc, err error, timeout time.Duration) error {
	said := p.kill(w)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: evaluation %w after %s", ErrTemplate, errTimeout, timeout)
	case bytes.Contains(said, []byte("out of memory")):
		return fmt.Errorf("%w: evaluation %w (limit %d MiB)", ErrTemplate, errOutOfMemory, p.memLimit>>20)
	}
	if line := lastWords(said); line != "" {
		err = errors.New(line)
	}
	return fmt.Errorf("%w: the template worker failed: %v", ErrTemplate, err)
}

// kill ends w and returns what it wrote to stderr.
func (p *pool) kill(w *workerProc) []byte {
	p.stopped.Add(1)
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	for rss, old := maxRSS(w.cmd.ProcessState), p.maxRSS.Load(); rss > old && !p.maxRSS.CompareAndSwap(old, rss); {
		old = p.maxRSS.Load()
	}
	said, _ := io.ReadAll(io.LimitReader(w.stderr, 64<<10))
	closeAll([]*os.File{w.in, w.out, w.stderr})
	return said
}

// lastWords is the first line a dying worker wrote.
func lastWords(said []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(said), []byte("\n"))
	return string(line)
}
