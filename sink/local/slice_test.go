package local_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
)

// countingFS counts fsyncs and can fail writes or syncs.
type countingFS struct {
	syncs     atomic.Int64
	failWrite atomic.Bool
	failSync  atomic.Bool
}

func (c *countingFS) OpenFile(name string, flag int, perm fs.FileMode) (local.File, error) {
	f, err := local.OSFS{}.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, fs: c}, nil
}

type countingFile struct {
	local.File
	fs *countingFS
}

func (f *countingFile) Write(p []byte) (int, error) {
	if f.fs.failWrite.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *countingFile) Sync() error {
	if f.fs.failSync.Load() {
		return syscall.EIO
	}
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

func row(i int) []byte { return fmt.Appendf(nil, "\"%d\",\"payload %d\"\n", i, i) }

// open opens a slice and runs its syncer until the test ends.
func open(t *testing.T, fsys local.FS, cfg local.Config, clk clock.Clock) (*local.Slice, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slice"+cfg.Ext())
	s, err := local.Open(fsys, path, cfg, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() { s.Close(); cancel(); wg.Wait() })
	return s, path
}

func waitPoint(t *testing.T, p *local.SyncPoint) error {
	t.Helper()
	select {
	case <-p.Done():
		return p.Err()
	case <-time.After(10 * time.Second):
		t.Fatal("sync point never completed")
		return nil
	}
}

func pending(p *local.SyncPoint) bool {
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// content decodes a data file.
func content(t *testing.T, path string, gz bool) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !gz {
		return string(data)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(out)
}

func TestSyncTriggers(t *testing.T) {
	t.Parallel()
	base := local.DefaultConfig()
	base.Compression = local.CompressionNone
	base.SyncCountTrigger, base.SyncUncompressedBytesTrigger, base.SyncCompressedBytesTrigger = 1000, 1<<30, 1<<30
	base.SyncIntervalTrigger = time.Hour
	for _, tc := range []struct {
		name   string
		adjust func(*local.Config)
		rows   int // the sync must happen after this many single-row appends, not before
	}{
		{"count", func(c *local.Config) { c.SyncCountTrigger = 5 }, 5},
		{"uncompressed bytes", func(c *local.Config) { c.SyncUncompressedBytesTrigger = int64(4 * len(row(0))) }, 4},
		{"compressed bytes", func(c *local.Config) { c.SyncCompressedBytesTrigger = int64(3 * len(row(0))) }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := base
			tc.adjust(&cfg)
			s, _ := open(t, local.OSFS{}, cfg, clock.NewFake(time.Now()))
			var points []*local.SyncPoint
			for i := range tc.rows {
				p, err := s.Append(row(i), 1, nil)
				if err != nil {
					t.Fatal(err)
				}
				points = append(points, p)
			}
			for i, p := range points {
				if err := waitPoint(t, p); err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
			}
			if points[0] != points[len(points)-1] {
				t.Fatal("rows before the trigger were not covered by one sync")
			}
		})
	}
	t.Run("interval", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.SyncIntervalTrigger = 50 * time.Millisecond
		clk := clock.NewFake(time.Now())
		s, _ := open(t, local.OSFS{}, cfg, clk)
		p2, err := s.Append(row(2), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(49 * time.Millisecond)
		if !pending(p2) {
			t.Fatal("synced before the interval")
		}
		clk.Advance(time.Millisecond)
		if err := waitPoint(t, p2); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("interval from the previous sync", func(t *testing.T) {
		t.Parallel()
		cfg := base
		cfg.SyncIntervalTrigger = 50 * time.Millisecond
		clk := clock.NewFake(time.Now())
		s, _ := open(t, local.OSFS{}, cfg, clk)
		appendAfter := func(d time.Duration, i int) *local.SyncPoint {
			t.Helper()
			clk.Advance(d)
			p, err := s.Append(row(i), 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		p1 := appendAfter(10*time.Millisecond, 1)
		clk.Advance(40 * time.Millisecond) // 50 ms after the opening
		if err := waitPoint(t, p1); err != nil {
			t.Fatal(err)
		}
		p2 := appendAfter(10*time.Millisecond, 2) // 10 ms after the sync started
		clk.Advance(39 * time.Millisecond)
		if !pending(p2) {
			t.Fatal("synced before the interval since the previous sync")
		}
		clk.Advance(time.Millisecond) // 50 ms after the previous sync started, 40 after the row
		if err := waitPoint(t, p2); err != nil {
			t.Fatal(err)
		}
		p3 := appendAfter(time.Second, 3) // after a quiet period: at once
		if err := waitPoint(t, p3); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGroupCommitCoversConcurrentWriters(t *testing.T) {
	t.Parallel()
	cfg := local.DefaultConfig()
	cfg.SyncIntervalTrigger = time.Hour
	cfg.SyncCountTrigger = 1000
	fsys := &countingFS{}
	s, path := open(t, fsys, cfg, clock.NewFake(time.Now()))
	var wg sync.WaitGroup
	var mu sync.Mutex
	points := map[*local.SyncPoint]bool{}
	for g := range 10 {
		wg.Go(func() {
			for i := range 100 {
				p, err := s.Append(row(g*100+i), 1, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				points[p] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for p := range points {
		if err := waitPoint(t, p); err != nil {
			t.Fatal(err)
		}
	}
	// 1000 rows, count trigger 1000: a sync pair (data + log) per trigger, far fewer than rows.
	if n := fsys.syncs.Load(); n > 2*int64(len(points)) || len(points) > 3 {
		t.Fatalf("%d fsyncs for %d sync points", n, len(points))
	}
	if st, err := s.Close(); err != nil || st.Records != 1000 {
		t.Fatalf("close = %+v, %v", st, err)
	}
	if got := bytes.Count([]byte(content(t, path, true)), []byte("\n")); got != 1000 {
		t.Fatalf("%d rows in the file", got)
	}
}

func TestFailedSyncReachesWaitersAndBreaksTheSlice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fail func(*countingFS)
		want error
	}{
		{"write", func(c *countingFS) { c.failWrite.Store(true) }, syscall.ENOSPC},
		{"fsync", func(c *countingFS) { c.failSync.Store(true) }, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := local.DefaultConfig()
			cfg.SyncCountTrigger = 1
			fsys := &countingFS{}
			s, path := open(t, fsys, cfg, clock.NewFake(time.Now()))
			p, _ := s.Append(row(0), 1, []local.Position{{Stream: "t/0", Offset: 7}})
			if err := waitPoint(t, p); err != nil {
				t.Fatal(err)
			}
			tc.fail(fsys)
			p, _ = s.Append(row(1), 1, []local.Position{{Stream: "t/0", Offset: 8}})
			if err := waitPoint(t, p); !errors.Is(err, tc.want) {
				t.Fatalf("waiter got %v, want %v", err, tc.want)
			}
			if _, err := s.Append(row(2), 1, nil); !errors.Is(err, tc.want) {
				t.Fatalf("append after failure = %v", err)
			}
			s.Close()
			st, err := local.Recover(local.OSFS{}, path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != 1 || !slices.Equal(st.Streams["t/0"], local.Ranges{{First: 7, Last: 7}}) || content(t, path, true) != string(row(0)) {
				t.Fatalf("recovered %+v %q", st, content(t, path, true))
			}
		})
	}
}

func TestRecoverCutsATornTail(t *testing.T) {
	t.Parallel()
	for _, compression := range []string{local.CompressionGzip, local.CompressionNone} {
		for _, impl := range []string{local.GzipStandard, local.GzipFast} {
			t.Run(compression+"-"+impl, func(t *testing.T) {
				t.Parallel()
				cfg := local.DefaultConfig()
				cfg.Compression, cfg.GzipImplementation, cfg.SyncCountTrigger = compression, impl, 2
				s, path := open(t, local.OSFS{}, cfg, clock.NewFake(time.Now()))
				var want []byte
				for i := range 6 {
					p, _ := s.Append(row(i), 1, []local.Position{{Stream: "t/1", Offset: int64(100 + i)}})
					want = append(want, row(i)...)
					if i%2 == 1 {
						if err := waitPoint(t, p); err != nil {
							t.Fatal(err)
						}
					}
				}
				// A crash in the middle of the next sync: half a member and half a log line.
				f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				f.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 'p', 'a', 'r'})
				f.Close()
				l, _ := os.OpenFile(path+".sync", os.O_WRONLY|os.O_APPEND, 0)
				l.Write([]byte(`{"size":99999,"reco`))
				l.Close()
				st, err := local.Recover(local.OSFS{}, path)
				if err != nil {
					t.Fatal(err)
				}
				if got := content(t, path, compression == local.CompressionGzip); got != string(want) {
					t.Fatalf("recovered %q, want %q", got, want)
				}
				if st.Records != 6 || st.UncompressedSize != int64(len(want)) || !slices.Equal(st.Streams["t/1"], local.Ranges{{First: 100, Last: 105}}) {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

func TestAppendAfterCloseIsErrClosed(t *testing.T) {
	t.Parallel()
	s, _ := open(t, local.OSFS{}, local.DefaultConfig(), clock.Real())
	if _, err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(row(0), 1, nil); !errors.Is(err, local.ErrClosed) {
		t.Fatalf("append = %v", err)
	}
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	t.Parallel()
	for key, adjust := range map[string]func(*local.Config){
		"compression.type":                func(c *local.Config) { c.Compression = "zstd" },
		"compression.gzip.level":          func(c *local.Config) { c.GzipLevel = 0 },
		"compression.gzip.implementation": func(c *local.Config) { c.GzipImplementation = "x" },
		"sync.mode":                       func(c *local.Config) { c.SyncMode = "x" },
		"sync.countTrigger":               func(c *local.Config) { c.SyncCountTrigger = 0 },
		"sync.intervalTrigger":            func(c *local.Config) { c.SyncIntervalTrigger = 0 },
	} {
		cfg := local.DefaultConfig()
		adjust(&cfg)
		if err := cfg.Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(key)) {
			t.Errorf("%s: %v", key, err)
		}
	}
	if err := local.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// gatedFS holds the data file's writes until released, then fails them.
type gatedFS struct {
	entered chan struct{}
	release chan struct{}
}

func (g *gatedFS) OpenFile(name string, flag int, perm fs.FileMode) (local.File, error) {
	f, err := local.OSFS{}.OpenFile(name, flag, perm)
	if err != nil || filepath.Ext(name) == ".sync" {
		return f, err
	}
	return &gatedFile{File: f, fs: g}, nil
}

type gatedFile struct {
	local.File
	fs *gatedFS
}

func (f *gatedFile) Write([]byte) (int, error) {
	f.fs.entered <- struct{}{}
	<-f.fs.release
	return 0, syscall.ENOSPC
}

// Rows appended while the sync that breaks the slice runs stay pending; the syncer must not
// spin on them: after Close, Run returns.
func TestBrokenSliceSyncerStopsAtClose(t *testing.T) {
	t.Parallel()
	cfg := local.DefaultConfig()
	cfg.SyncCountTrigger = 1
	g := &gatedFS{entered: make(chan struct{}), release: make(chan struct{})}
	s, err := local.Open(g, filepath.Join(t.TempDir(), "slice"+cfg.Ext()), cfg, clock.Real(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { s.Run(context.Background()); close(ran) }()
	first, _ := s.Append(row(0), 1, nil)
	<-g.entered // the sync of row 0 is writing
	second, err := s.Append(row(1), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := waitPoint(t, first); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("first waiter: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // past the sync interval: a spinning syncer would retry now
	if _, err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("close: %v", err)
	}
	if err := waitPoint(t, second); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second waiter: %v", err)
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the syncer of a closed broken slice is still running")
	}
}
