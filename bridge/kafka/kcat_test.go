package kafka_test

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/mapping"
)

// Records produced by kcat (librdkafka, not franz-go), with keys, headers and compression,
// land as rows.
func TestKcatProducedRecords(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: make test installs Debian's kcat package")
	}
	columns := append(keyedColumns[:3:3],
		mapping.Column{Type: mapping.KindKafkaKey, Name: "key"},
		mapping.Column{Type: mapping.KindKafkaHeaders, Name: "headers"},
		mapping.Column{Type: mapping.KindPath, Name: "id", Path: "id"})
	e := newEnv(t, map[string]int32{"clicks": 3}, columns)
	var lines strings.Builder
	const n = 200
	for i := range n {
		fmt.Fprintf(&lines, "user-%d|{\"id\":%d,\"page\":\"/p/%d\"}\n", i%5, i, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", strings.Join(e.cluster.ListenAddrs(), ","), "-t", "clicks", "-P",
		"-K", "|", "-H", "source=kcat", "-H", "trace=abc", "-z", "zstd")
	cmd.Stdin = strings.NewReader(lines.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	runConsumer(t, e.consumer(pipeline(t, "topics", "clicks")))
	waitFor(t, 60*time.Second, "every kcat record in the table", func() bool { return len(e.rows("in.c-kafka.events")) >= n })
	rows := e.rows("in.c-kafka.events")
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i][5], rows[j][5]
		return len(a) < len(b) || len(a) == len(b) && a < b
	})
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	if got := strings.Join(rows[7][3:], " "); got != `user-2 {"source":"kcat","trace":"abc"} 7` {
		t.Fatalf("row of record 7: %q", got)
	}
}
