package sink_test

import (
	"errors"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/emulator"
)

func TestStorageFaultsAreRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		inject func(em *emulator.Emulator)
		reason string
	}{
		{"upload", func(em *emulator.Emulator) {
			em.InjectFault(emulator.Fault{Endpoint: "putBlob", Count: 3, Status: 503})
		}, "503"},
		{"prepare", func(em *emulator.Emulator) {
			em.InjectFault(emulator.Fault{Endpoint: "prepareFile", Count: 2, Status: 500})
		}, "500"},
		{"import", func(em *emulator.Emulator) {
			em.InjectFault(emulator.Fault{Endpoint: "importTable", Count: 2, Status: 503})
		}, "503"},
		{"job", func(em *emulator.Emulator) { em.FailJobs(2, "warehouse on fire") }, "warehouse on fire"},
		{"job-poll", func(em *emulator.Emulator) {
			em.InjectFault(emulator.Fault{Endpoint: "getJob", Count: 3, Status: 502})
		}, "502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			reg := prometheus.NewRegistry()
			m := e.manager(sink.Deps{Registerer: reg})
			define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 40, "target.import.trigger.count", 100), "in.c-f.events")
			tc.inject(e.em.em)
			ws := writeBatches(t, m, 0, 200, 20)
			var sawRetry atomic.Bool
			e.eventually("every row imported despite faults", 30*time.Second, func() bool {
				files, err := m.SinkFiles(sinkKey(0), true)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					if f.RetryAttempt > 0 && strings.Contains(f.RetryReason, tc.reason) && f.RetryAfter != nil {
						sawRetry.Store(true)
					}
				}
				return reached(ws, sink.LevelTarget)
			})
			checkTable(t, e, "in.c-f.events", 200) // exactly once: no import ran twice
			if !sawRetry.Load() {
				t.Fatal("statistics/files never showed the retry")
			}
			if got := metricSum(t, reg, "kbridge_sink_failures_total"); got < 1 {
				t.Fatalf("failures metric = %v", got)
			}
			if got := metricSum(t, reg, "kbridge_sink_records_total", "level", "target"); got != 200 {
				t.Fatalf("records at target = %v, want 200", got)
			}
		})
	}
}

// TestSinkOnTableWithOtherColumnsIsRefused: a sink whose table exists with other columns is
// refused when it is put (a *sink.TableError naming the columns), as Keboola refuses it, so no
// data waits for imports that cannot succeed.
func TestSinkOnTableWithOtherColumnsIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClient(t, e.em.url)
	ctx := ctxT(t, 10*time.Second)
	if _, err := c.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: "in", Name: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(ctx, "in.c-m", storageapi.CreateTableRequest{Name: "events", Columns: []string{"id", "other"}}); err != nil {
		t.Fatal(err)
	}
	m := e.manager(sink.Deps{})
	if err := m.PutSource(sink.Source{Key: sourceKey, Type: "kafka", Name: "events"}); err != nil {
		t.Fatal(err)
	}
	err := m.PutSink(sink.Sink{Key: sinkKey(0), Name: "sink", TableID: "in.c-m.events", Columns: columns})
	var te *sink.TableError
	if !errors.As(err, &te) || !errors.Is(err, storageapi.ErrColumnsMismatch) {
		t.Fatalf("put sink = %v, want a *sink.TableError", err)
	}
	for _, want := range []string{"missing columns [name, value]", "unexpected columns [other]"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	if defs, _ := m.Sinks(sourceKey); len(defs) != 0 {
		t.Fatalf("the refused sink was stored: %+v", defs)
	}
}

// faultFS fails writes with ENOSPC while full is set.
type faultFS struct {
	full  atomic.Bool
	mu    sync.Mutex
	opens int
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (local.File, error) {
	if f.full.Load() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	f.mu.Lock()
	f.opens++
	f.mu.Unlock()
	file, err := local.OSFS{}.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	local.File
	fs *faultFS
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.fs.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func TestDiskFullFailsWritesClearly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ffs := &faultFS{}
	m := e.manager(sink.Deps{FS: ffs})
	define(t, m, columns, patch(syncEachBatch, "target.import.trigger.count", 1000), "in.c-d.events")
	ok := writeBatches(t, m, 0, 20, 10)

	ffs.full.Store(true)
	evs, pos := events(20, 10)
	w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("wait on a full disk = %v, want ENOSPC", err)
	}
	var bp *sink.BackpressureError
	e.eventually("writes refused with ErrDiskFull", 0, func() bool {
		_, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
		return errors.Is(err, sink.ErrDiskFull) && errors.As(err, &bp) && bp.RetryAfter > 0
	})

	ffs.full.Store(false)
	var again []*sink.Write
	e.eventually("writes accepted again", time.Second, func() bool {
		w, err := m.Write(ctxT(t, 5*time.Second), sourceKey, evs, pos)
		if err != nil {
			return false
		}
		again = append(again, w)
		return w.Wait(ctxT(t, 5*time.Second), sink.LevelLocal) == nil
	})
	all := append(ok, again[len(again)-1])
	e.eventually("acknowledged rows imported", time.Minute, func() bool { return reached(all, sink.LevelTarget) })
	checkTable(t, e, "in.c-d.events", 30)
}

// metricSum adds the values of a metric family, optionally only where label has value.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, label ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i < len(label); i += 2 {
				for _, l := range m.GetLabel() {
					if l.GetName() == label[i] && l.GetValue() != label[i+1] {
						continue metrics
					}
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// Upload credentials refused after some slices of a file were uploaded (expired or revoked):
// the sink prepares a new staging file by itself, uploads every slice into it again and
// imports it once.
func TestRefusedCredentialsGetANewStagingFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 40, "target.import.trigger.count", 200,
		"target.import.trigger.interval", "1h"), "in.c-f.revoked")
	ws := writeBatches(t, m, 0, 80, 20)
	e.eventually("two slices uploaded", 30*time.Second, func() bool { return reached(ws, sink.LevelStaging) })
	e.em.em.ExpireCredentials()
	ws = append(ws, writeBatches(t, m, 80, 120, 20)...)
	e.eventually("every row imported with new credentials", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-f.revoked", 200) // exactly once: the refused file was never imported
}

// The answer to an import request is lost although Storage created the job (a cut
// connection, a crash before the job's id reached the disk): the next attempt finds the job
// among Storage's jobs and waits for it instead of importing the file a second time.
func TestLostImportAnswerImportsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(sink.Deps{})
	define(t, m, columns, patch(syncEachBatch, "staging.upload.trigger.count", 50, "target.import.trigger.count", 100), "in.c-f.lost")
	e.em.em.InjectFault(emulator.Fault{Endpoint: "importTable", Status: 502, AnswerLost: true, Count: 2})
	ws := writeBatches(t, m, 0, 300, 25)
	e.eventually("every row imported", 30*time.Second, func() bool { return reached(ws, sink.LevelTarget) })
	checkTable(t, e, "in.c-f.lost", 300) // no primary key: a second import would double rows
	if calls := e.em.em.Calls("listJobs"); calls == 0 {
		t.Fatal("the sink never looked for the job whose answer was lost")
	}
}
