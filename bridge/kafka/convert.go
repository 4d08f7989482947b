package kafka

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/tidwall/gjson"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/convert"
	"github.com/kbridge/kbridge/sink"
)

// converted runs the pipeline's converters (key.converter, value.converter) on r before its
// transforms. It returns r itself without converters, else a new record, r staying as polled
// for the dead-letter topic. Bytes that do not decode are the record's error, with the stage
// Connect names it by. A Schema Registry that does not answer is waited out: every partition
// is paused and the conversion retried with backoff until the registry answers or ctx ends,
// so no record is dead-lettered for the registry's sake.
func (t *task) converted(ctx context.Context, r *kgo.Record) (*kgo.Record, string, error) {
	p := &t.c.p
	if p.KeyConverter == nil && p.ValueConverter == nil {
		return r, "", nil
	}
	var policy backoff.BackOff
	paused := false
	defer func() {
		if paused {
			t.resumeAll()
		}
	}()
	for {
		out, stage, err := convertRecord(ctx, p, r, &t.arenas[0])
		var unavailable *convert.UnavailableError
		if !errors.As(err, &unavailable) {
			return out, stage, err
		}
		if policy == nil {
			policy = backoff.NewExponentialBackOff(backoff.WithInitialInterval(max(p.RetryBackoff, 100*time.Millisecond)),
				backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
		}
		if !paused {
			paused = true
			t.pauseAll()
		}
		wait := policy.NextBackOff()
		t.c.deps.Metrics.RegistryRetries.Inc()
		t.c.log.Warn("schema registry not answering; partitions paused", "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "error", err, "retryIn", wait)
		select {
		case <-ctx.Done():
			return nil, "", context.Cause(ctx)
		case <-time.After(wait):
		}
	}
}

// conversion is the outcome of converting one record.
type conversion struct {
	done  bool
	rec   *kgo.Record
	stage string
	err   error
}

// convertAll converts a batch's records ahead of write's loop, spread over the cores: decoding
// is the heaviest per-record work of a Schema Registry format. It returns nil without
// converters or for a small batch. Once one conversion meets an unavailable registry the
// workers stop (a registry that times out would otherwise be asked once per record); the
// records left, and that one, are converted by convertedAt, which waits for the registry.
func (t *task) convertAll(ctx context.Context, recs []*kgo.Record) []conversion {
	p := &t.c.p
	if p.KeyConverter == nil && p.ValueConverter == nil {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(recs)/64)
	t.resetArenas(max(workers, 1))
	if workers < 2 {
		return nil
	}
	out := make([]conversion, len(recs))
	var unavailable atomic.Bool // once the registry does not answer, the rest wait in convertedAt
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs) && !unavailable.Load(); i += workers {
				out[i] = convertSafely(ctx, p, recs[i], &t.arenas[w])
				if errors.As(out[i].err, new(*convert.UnavailableError)) {
					unavailable.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// convertSafely is convertRecord with a panic in a converter turned into the record's error
// (a worker's panic would otherwise end the process).
func convertSafely(ctx context.Context, p *Pipeline, r *kgo.Record, arena *[]byte) (c conversion) {
	defer func() {
		if v := recover(); v != nil {
			c = conversion{stage: StageValueConverter, err: &sink.PanicError{Op: "convert", Value: v, Stack: debug.Stack()}}
		}
	}()
	c.rec, c.stage, c.err = convertRecord(ctx, p, r, arena)
	c.done = true
	return c
}

// convertedAt is record i's conversion: the one convertAll made, unless there is none or it
// met an unavailable registry.
func (t *task) convertedAt(ctx context.Context, done []conversion, i int, r *kgo.Record) (*kgo.Record, string, error) {
	if done != nil && done[i].done {
		if c := done[i]; !errors.As(c.err, new(*convert.UnavailableError)) {
			return c.rec, c.stage, c.err
		}
	}
	return t.converted(ctx, r)
}

// Stages of the converters, in Connect's names.
const (
	StageKeyConverter   = "KEY_CONVERTER"
	StageValueConverter = "VALUE_CONVERTER"
)

// convertRecord converts r's key and value, appending what the converters produce to arena
// when they can.
func convertRecord(ctx context.Context, p *Pipeline, r *kgo.Record, arena *[]byte) (*kgo.Record, string, error) {
	out := *r
	if p.KeyConverter != nil && r.Key != nil {
		key, err := appendConverted(ctx, p.KeyConverter, arena, r.Key)
		if err != nil {
			return nil, StageKeyConverter, err
		}
		out.Key = keyText(key)
	}
	if p.ValueConverter != nil && r.Value != nil {
		value, err := appendConverted(ctx, p.ValueConverter, arena, r.Value)
		if err != nil {
			return nil, StageValueConverter, err
		}
		out.Value = value
	}
	return &out, "", nil
}

// appendConverted converts data into arena's free end when c can append; the result stays
// valid while the arena is not reset, even when appending moved the arena.
func appendConverted(ctx context.Context, c convert.Converter, arena *[]byte, data []byte) ([]byte, error) {
	a, ok := c.(convert.Appender)
	if !ok {
		return c.Convert(ctx, data)
	}
	start := len(*arena)
	out, err := a.AppendConvert(ctx, *arena, data)
	if err != nil {
		return nil, err
	}
	*arena = out
	return out[start:len(out):len(out)], nil
}

// maxArena is the most bytes an arena keeps between batches.
const maxArena = 32 << 20

// resetArenas makes n arenas ready for a batch, keeping their memory.
func (t *task) resetArenas(n int) {
	for len(t.arenas) < n {
		t.arenas = append(t.arenas, nil)
	}
	for i := range t.arenas {
		if cap(t.arenas[i]) > maxArena {
			t.arenas[i] = nil
		}
		t.arenas[i] = t.arenas[i][:0]
	}
}

// keyText is what kafka.key shows of a decoded key: a string key as its text, not as a
// quoted JSON string; any other key (a record, a number) as its JSON.
func keyText(key []byte) []byte {
	if len(key) > 0 && key[0] == '"' {
		if v := gjson.ParseBytes(key); v.Type == gjson.String && len(v.Raw) == len(key) {
			return []byte(v.String())
		}
	}
	return key
}
