package local_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
)

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A closed slice keeps only its offsets: its owner holds it until the file is imported and
// forgotten, so the compressor and buffers must go at Close. 200 closed slices that kept
// them (about 0.8 MB each with gzip) would hold 160 MB.
func TestClosedSlicesReleaseTheirBuffers(t *testing.T) {
	for _, impl := range []string{local.GzipParallel, local.GzipStandard} {
		t.Run(impl, func(t *testing.T) {
			cfg := local.DefaultConfig()
			cfg.GzipImplementation, cfg.SyncMode = impl, local.SyncModeCache
			dir := t.TempDir()
			rows := make([]byte, 0, 64<<10)
			for i := 0; len(rows) < 60<<10; i++ {
				rows = append(rows, row(i)...)
			}
			const n = 200
			kept := make([]*local.Slice, 0, n)
			base := heapInUse()
			for i := range n {
				s, err := local.Open(local.OSFS{}, filepath.Join(dir, "s"+strconv.Itoa(i)+cfg.Ext()), cfg, clock.Real(), nil)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				wg.Go(func() { s.Run(ctx) })
				p, err := s.Append(rows, 1, []local.Position{{Stream: "t/0", Offset: int64(i)}})
				if err != nil {
					t.Fatal(err)
				}
				if err := waitPoint(t, p); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Append(rows, 1, []local.Position{{Stream: "t/0", Offset: int64(i)}}); err != nil {
					t.Fatal(err)
				}
				st, err := s.Close()
				if err != nil || st.Records != 2 {
					t.Fatalf("close: %+v, %v", st, err)
				}
				cancel()
				wg.Wait()
				kept = append(kept, s)
			}
			grown := int64(heapInUse()) - int64(base)
			perSlice := grown / n
			t.Logf("%d closed slices hold %d bytes of heap, %d each", n, grown, perSlice)
			if perSlice > 16<<10 {
				t.Errorf("a closed slice holds %d bytes of heap, want at most 16 KiB", perSlice)
			}
			for i, s := range kept {
				held := map[string]local.Ranges{}
				if s.Offsets(held, "t/0", true); !held["t/0"].Contains(int64(i)) {
					t.Fatalf("closed slice %s forgot its synced offsets", s.Path())
				}
			}
			runtime.KeepAlive(kept)
		})
	}
}
