package connect_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
)

const copyTable = "in.c-kafka.copy"

// TestOffsetsRewindReimports stops a connector, moves a partition's offset back, restarts
// the daemon and resumes: the records from the new offset on are imported again, although
// the sinks already hold them. Then a reset imports every record once more. The copy table
// has no primary key, so every import shows as rows.
func TestOffsetsRewindReimports(t *testing.T) {
	e := newEnv(t)
	columns := []mapping.Column{{Type: mapping.KindKafkaPartition, Name: "partition"},
		{Type: mapping.KindKafkaOffset, Name: "offset"}}
	if err := e.manager.PutSink(sink.Sink{Key: sink.SinkKey{SourceKey: source, SinkID: "copy"}, Name: "copy",
		TableID: copyTable, Columns: columns}); err != nil {
		t.Fatal(err)
	}
	e.start()
	create := `{"name": "replay", "config": {"connector.class": "io.kbridge.KeboolaSinkConnector",
		"topics": "events", "kbridge.source": "events", "batch.max.size": "3"}}`
	if status, body := e.call(t, "POST", "/connectors", create); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	e.produceTo(0, 10)
	e.produceTo(1, 4)
	want := map[string]int{}
	for o := range 10 {
		want[fmt.Sprintf("0/%d", o)] = 1
	}
	for o := range 4 {
		want[fmt.Sprintf("1/%d", o)] = 1
	}
	committed := `{"offsets":[{"offset":{"kafka_offset":10},"partition":{"kafka_partition":0,"kafka_topic":"events"}},` +
		`{"offset":{"kafka_offset":4},"partition":{"kafka_partition":1,"kafka_topic":"events"}}]}`
	e.waitImported(t, want, committed)

	e.lifecycle(t, "stop", http.StatusNoContent)
	rewind := `{"offsets": [{"partition": {"kafka_topic": "events", "kafka_partition": 0}, "offset": {"kafka_offset": 6}}]}`
	if status, body := e.call(t, "PATCH", "/connectors/replay/offsets", rewind); status != http.StatusOK {
		t.Fatalf("alter offsets: %d %s", status, body)
	}
	e.stop() // the rewind must survive a restart
	e.start()
	if got := e.connectorState(t, "replay"); got != "STOPPED" {
		t.Fatalf("after restart: state %s, want STOPPED", got)
	}
	e.lifecycle(t, "resume", http.StatusAccepted)
	for o := 6; o < 10; o++ {
		want[fmt.Sprintf("0/%d", o)]++
	}
	e.waitImported(t, want, committed)

	e.lifecycle(t, "stop", http.StatusNoContent)
	if status, body := e.call(t, "DELETE", "/connectors/replay/offsets", ""); status != http.StatusOK {
		t.Fatalf("reset offsets: %d %s", status, body)
	}
	e.lifecycle(t, "resume", http.StatusAccepted)
	for k := range want {
		want[k]++
	}
	e.waitImported(t, want, committed)
}

// produceTo appends n records to partition p of the events topic.
func (e *env) produceTo(p int32, n int) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "events", Partition: p, Value: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) lifecycle(t *testing.T, op string, want int) {
	t.Helper()
	if status, body := e.call(t, "PUT", "/connectors/replay/"+op, ""); status != want {
		t.Fatalf("%s: %d %s", op, status, body)
	}
}

// waitImported waits until the group committed what GET offsets answers as committed, then
// checks the copy table holds each partition/offset as often as want says.
func (e *env) waitImported(t *testing.T, want map[string]int, committed string) {
	t.Helper()
	waitFor(t, 60*time.Second, "offsets "+committed, func() bool {
		_, body := e.call(t, "GET", "/connectors/replay/offsets", "")
		return body == committed
	})
	got := map[string]int{}
	for _, row := range e.storage.Rows(t, copyTable) {
		got[row[0]+"/"+row[1]]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("imports per partition/offset:\n got %v\nwant %v", got, want)
	}
}
