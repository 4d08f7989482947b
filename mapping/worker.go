package mapping

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
)

// workerEnv marks a process started as a template worker; its value is the memory limit.
const workerEnv = "KBRIDGE_TEMPLATE_WORKER"

// workerExe is the program started as a worker, set by InitWorkers; empty means templates are
// evaluated in the calling process.
var workerExe string

// InitWorkers must be called first thing in main (and in TestMain of tests that want
// isolated templates). In a process started as a template worker it serves evaluations on
// stdin and stdout and exits. Otherwise it returns, and from then on Jsonnet templates are
// evaluated in worker processes: the same binary started again, each with a memory limit,
// killed when an evaluation runs past its time limit or its memory. Without it, templates
// are evaluated in the calling process, where neither limit can stop a runaway evaluation.
func InitWorkers() {
	if limit, ok := os.LookupEnv(workerEnv); ok {
		smallThreadStacks()
		os.Exit(runWorker(limit, os.Stdin, os.Stdout))
	}
	workerExe = selfExecutable()
}

// runWorker limits this process's memory and serves requests until stdin closes.
func runWorker(limitEnv string, in io.Reader, out io.Writer) int {
	// Only the parent stops a worker: a terminal's Ctrl-C goes to the whole process group,
	// and the parent may still need its workers while it shuts down.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	limit, err := strconv.ParseInt(limitEnv, 10, 64)
	if err != nil || limit <= 0 {
		fmt.Fprintf(os.Stderr, "template worker: bad memory limit %q\n", limitEnv)
		return 2
	}
	if raceEnabled {
		go watchMemory(limit)
	} else if err := limitMemory(limit); err != nil {
		fmt.Fprintf(os.Stderr, "template worker: %v\n", err)
		return 2
	}
	debug.SetMemoryLimit(limit - limit/4) // collect hard before the hard limit
	w := newWorker()
	r, bw := bufio.NewReaderSize(in, 64<<10), bufio.NewWriterSize(out, 64<<10)
	if _, err := out.Write([]byte{workerReady}); err != nil { // the clock starts now
		return 2
	}
	for {
		frame, err := readFrame(r, w.frame[:0], limit)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "template worker: %v\n", err)
			return 2
		}
		w.frame = frame
		if _, err := bw.Write(w.handle(frame)); err != nil {
			return 2
		}
		if err := bw.Flush(); err != nil {
			return 2
		}
	}
}

// workerReady is the byte a worker writes once it is ready to serve.
const workerReady = 0xaa

// watchMemory ends the process as an address space limit would, once its heap passes limit.
func watchMemory(limit int64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for range time.Tick(time.Millisecond) {
		if metrics.Read(sample); int64(sample[0].Value.Uint64()) > limit {
			fmt.Fprintln(os.Stderr, "fatal error: out of memory")
			os.Exit(2)
		}
	}
}

// readFrame reads one frame into buf (reused) and returns its contents.
func readFrame(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if int64(n) > limit {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d", n, limit)
	}
	buf = resize(buf, int(n))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read frame: %w", io.ErrUnexpectedEOF)
	}
	return buf, nil
}

// worker is the state of a worker process: one VM whose natives read the request's events,
// the programs parsed so far, and reused buffers.
type worker struct {
	vm       *jsonnet.VM
	state    *evalState
	programs map[string]ast.Node
	req      request
	errs     []error
	frame    []byte
	resp     []byte
}

// errFailedBefore marks, in a worker, the events that failed before the request.
var errFailedBefore = errors.New("failed before")

func newWorker() *worker {
	w := &worker{programs: map[string]ast.Node{}}
	w.state = &evalState{paths: map[string][]pathStep{}}
	w.vm = jsonnet.MakeVM()
	w.vm.Importer(noImports{})
	w.vm.SetTraceOut(io.Discard)
	w.state.register(w.vm)
	return w
}

// handle evaluates one request and returns the response frame.
func (w *worker) handle(frame []byte) []byte {
	d := decoder{b: frame}
	if err := d.request(&w.req); err != nil {
		w.resp = appendResponse(w.resp[:0], "", err, nil, nil)
		return w.resp
	}
	node, err := w.program(w.req.program)
	if err != nil {
		w.resp = appendResponse(w.resp[:0], "", err, nil, nil)
		return w.resp
	}
	w.errs = resize(w.errs, len(w.req.events))
	for i, failed := range w.req.failed {
		w.errs[i] = nil
		if failed {
			w.errs[i] = errFailedBefore
		}
	}
	w.state.names = w.req.names
	w.state.begin(w.req.events, w.errs)
	w.vm.MaxStack = w.req.maxStack
	out, err := evaluateSafely(w.vm, node)
	w.resp = appendResponse(w.resp[:0], out, err, w.errs, errFailedBefore)
	return w.resp
}

// program parses a program once; the cache is emptied when it grows large.
func (w *worker) program(text []byte) (ast.Node, error) {
	if node, ok := w.programs[string(text)]; ok {
		return node, nil
	}
	node, err := jsonnet.SnippetToAST("templates", string(text))
	if err != nil {
		return nil, err
	}
	if len(w.programs) >= 256 {
		clear(w.programs)
	}
	w.programs[string(text)] = node
	return node, nil
}

// evaluateSafely evaluates node; a panic in go-jsonnet or a native is an error.
func evaluateSafely(vm *jsonnet.VM, node ast.Node) (out string, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = "", fmt.Errorf("evaluation panicked: %v", v)
		}
	}()
	return vm.Evaluate(node)
}
