package cluster_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/cluster"
)

// BenchmarkPut is one member writing one key after another on an in-process kfake broker: a
// new transactional client, its fencing InitProducerID, the catch-up, the commit and the
// member applying the record. kfake timings are not a real cluster's (docs/operations.md).
func BenchmarkPut(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	l, err := cluster.New(config("m1"), []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			b.Error(err)
		}
	}()
	if err := l.CaughtUp(ctx); err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"id":"source","name":"A source","settings":{}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := l.Put(ctx, fmt.Sprintf("source/%d", i%100), int64(i/100), value); err != nil {
			b.Fatal(err)
		}
	}
}
