package connect_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestActiveTopicsPersisted finds the topics a connector created over the API and one from a
// file took records from (not the topics they merely subscribe to), keeps them across a
// restart, and resets one: it stays empty across a restart until its next record.
func TestActiveTopicsPersisted(t *testing.T) {
	dir := t.TempDir()
	file := `{"name": "filed", "connector.class": "KeboolaSinkConnector", "topics": "events", "kbridge.source": "events"}`
	if err := os.WriteFile(filepath.Join(dir, "filed.json"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.start(dir)
	create := `{"name": "orders", "config": {"connector.class": "KeboolaSinkConnector", "topics": "events,other",
		"kbridge.source": "events"}}`
	if status, body := e.call(t, "POST", "/connectors", create); status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	const none, events = `{"topics":[]}`, `{"topics":["events"]}`
	e.checkTopics(t, map[string]string{"orders": none, "filed": none})
	e.produce(`{"id":1}`, `{"id":2}`)
	waitFor(t, 20*time.Second, "events active", func() bool {
		_, a := e.call(t, "GET", "/connectors/orders/topics", "")
		_, b := e.call(t, "GET", "/connectors/filed/topics", "")
		return a == `{"orders":`+events+`}` && b == `{"filed":`+events+`}`
	})
	e.waitCommitted(t, "connect-orders", 2)
	e.waitCommitted(t, "connect-filed", 2)

	e.stop() // nothing is left to consume: after the restart, the topics come from disk
	e.start(dir)
	e.checkTopics(t, map[string]string{"orders": events, "filed": events})
	if status, body := e.call(t, "PUT", "/connectors/orders/topics/reset", ""); status != http.StatusAccepted {
		t.Fatalf("reset: %d %s", status, body)
	}
	e.checkTopics(t, map[string]string{"orders": none, "filed": events})
	e.stop()
	e.start(dir)
	e.checkTopics(t, map[string]string{"orders": none, "filed": events})
	e.produce(`{"id":3}`)
	waitFor(t, 20*time.Second, "events active again", func() bool {
		_, body := e.call(t, "GET", "/connectors/orders/topics", "")
		return body == `{"orders":`+events+`}`
	})

	if status, _ := e.call(t, "DELETE", "/connectors/orders", ""); status != http.StatusNoContent {
		t.Fatalf("delete: %d", status)
	}
	if status, body := e.call(t, "POST", "/connectors", create); status != http.StatusCreated {
		t.Fatalf("create again: %d %s", status, body)
	}
	if _, body := e.call(t, "GET", "/connectors/orders/topics", ""); body != `{"orders":`+none+`}` {
		t.Fatalf("a deleted connector's topics came back: %s", body)
	}
}

func (e *env) checkTopics(t *testing.T, want map[string]string) {
	t.Helper()
	for name, topics := range want {
		if _, body := e.call(t, "GET", "/connectors/"+name+"/topics", ""); body != `{"`+name+`":`+topics+`}` {
			t.Errorf("%s: topics %s, want %s", name, body, topics)
		}
	}
}

// waitCommitted waits until group committed n records of the events topic in all.
func (e *env) waitCommitted(t *testing.T, group string, n int64) {
	t.Helper()
	adm := e.admin(t)
	waitFor(t, 30*time.Second, group+" committed", func() bool {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return false
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum == n
	})
}

// waitMembers waits until group is stable with n members, each assigned one partition.
func (e *env) waitMembers(t *testing.T, group string, n int) {
	t.Helper()
	adm := e.admin(t)
	waitFor(t, 30*time.Second, "a partition for each member", func() bool {
		groups, err := adm.DescribeGroups(context.Background(), group)
		g := groups[group]
		if err != nil || g.State != "Stable" || len(g.Members) != n {
			return false
		}
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); !ok || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 1 {
				return false
			}
		}
		return true
	})
}

// admin is an admin client of the cluster, closed at the end of the test.
func (e *env) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
