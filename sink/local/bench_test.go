package local_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
)

// BenchmarkAppend compares the compressors on the append path alone (one op is one row, in
// appends of 100 rows, syncs by the default triggers, fsync included).
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1300} {
		for _, codec := range []struct{ name, compression, impl string }{
			{"none", local.CompressionNone, local.GzipFast}, {"gzip-stdlib", local.CompressionGzip, local.GzipStandard},
			{"gzip-klauspost", local.CompressionGzip, local.GzipFast},
		} {
			b.Run(fmt.Sprintf("row=%dB/%s", size, codec.name), func(b *testing.B) {
				cfg := local.DefaultConfig()
				cfg.Compression, cfg.GzipImplementation = codec.compression, codec.impl
				benchAppend(b, cfg, size)
			})
		}
	}
}

func benchAppend(b *testing.B, cfg local.Config, size int) {
	s, err := local.Open(local.OSFS{}, filepath.Join(b.TempDir(), "s"+cfg.Ext()), cfg, clock.Real(), nil)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(b.Context()); close(done) }()
	rows := benchRows(size)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var last *local.SyncPoint
	for i := 0; i < b.N; i += 100 {
		n := min(100, b.N-i)
		k := (i / 100) % (len(rows) - 1)
		p, err := s.Append(rows[k][:n*size], n, nil)
		for errors.Is(err, local.ErrBufferFull) { // the disk is behind: wait for the sync
			<-last.Done()
			p, err = s.Append(rows[k][:n*size], n, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		last = p
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	<-last.Done()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	b.StopTimer()
	s.Close()
	<-done
}

// benchRows returns 64 distinct blocks of 100 CSV rows of about size bytes each.
func benchRows(size int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 ,"
	out := make([][]byte, 64)
	for i := range out {
		var block []byte
		for range 100 {
			row := fmt.Appendf(nil, `"%016x","2026-01-02T03:04:05.%06dZ","%d","click","`, rng.Uint64(), rng.IntN(1e6), rng.IntN(1e6))
			for len(row) < size-2 {
				row = append(row, letters[rng.IntN(len(letters))])
			}
			block = append(block, append(row, '"', '\n')...)
		}
		out[i] = block
	}
	return out
}
