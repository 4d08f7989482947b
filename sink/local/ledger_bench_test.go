package local_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
)

// BenchmarkAppendPositions is Append of Kafka rows with their positions (batches of 100
// records from 6 partitions, offsets in order): what the offset ledger costs per record.
func BenchmarkAppendPositions(b *testing.B) {
	cfg := local.DefaultConfig()
	cfg.Compression = local.CompressionNone
	s, err := local.Open(local.OSFS{}, filepath.Join(b.TempDir(), "s"+cfg.Ext()), cfg, clock.Real(), nil)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(b.Context()); close(done) }()
	const size = 100
	rows := benchRows(size)[0]
	streams := make([]string, 6)
	for i := range streams {
		streams[i] = "orders/" + strconv.Itoa(i) + "@0123456789abcdef0123456789abcdef"
	}
	positions := make([]local.Position, 100)
	offsets := make([]int64, len(streams))
	b.ReportAllocs()
	b.ResetTimer()
	var last *local.SyncPoint
	for i := 0; i < b.N; i += 100 {
		n := min(100, b.N-i)
		p := (i / 100) % len(streams) // a batch of one partition, as a poll returns them
		for j := range n {
			positions[j] = local.Position{Stream: streams[p], Offset: offsets[p]}
			offsets[p]++
		}
		point, err := s.Append(rows[:n*size], n, positions[:n])
		for errors.Is(err, local.ErrBufferFull) {
			<-last.Done()
			point, err = s.Append(rows[:n*size], n, positions[:n])
		}
		if err != nil {
			b.Fatal(err)
		}
		last = point
	}
	if err := s.Sync(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if _, err := s.Close(); err != nil {
		b.Fatal(err)
	}
	<-done
}
