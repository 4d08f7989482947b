package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
)

// TestGroupOffsetsNeedAnEmptyGroup alters, reads and deletes a group's offsets; while a
// member is in the group, altering and deleting are refused with ErrGroupActive and nothing
// changes.
func TestGroupOffsetsNeedAnEmptyGroup(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cc := kafka.ClientConfig{Brokers: cluster.ListenAddrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offsets := func() string {
		t.Helper()
		got, err := kafka.GroupOffsets(ctx, cc, "g")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	if got := offsets(); got != "[]" {
		t.Fatalf("a group that does not exist: %s", got)
	}
	set := []kafka.Offset{{Topic: "t", Partition: 1, Offset: 7}, {Topic: "t", Partition: 0, Offset: 3}}
	if err := kafka.AlterGroupOffsets(ctx, cc, "g", set, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := offsets(), "[{t 0 3} {t 1 7}]"; got != want {
		t.Fatalf("offsets %s, want %s", got, want)
	}

	member, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
		kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	for joined := false; !joined && ctx.Err() == nil; { // polling joins the group
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		member.PollFetches(pctx)
		pcancel()
		_, generation := member.GroupMetadata()
		joined = generation > 0
	}
	err = kafka.AlterGroupOffsets(ctx, cc, "g", []kafka.Offset{{Topic: "t", Partition: 0, Offset: 1}}, nil)
	if !errors.Is(err, kafka.ErrGroupActive) {
		t.Errorf("alter with a member: %v, want ErrGroupActive", err)
	}
	if err := kafka.DeleteGroup(ctx, cc, "g"); !errors.Is(err, kafka.ErrGroupActive) {
		t.Errorf("delete with a member: %v, want ErrGroupActive", err)
	}
	member.LeaveGroup()
	member.Close()
	if got, want := offsets(), "[{t 0 3} {t 1 7}]"; got != want {
		t.Fatalf("refused changes changed the offsets: %s, want %s", got, want)
	}

	if err := kafka.AlterGroupOffsets(ctx, cc, "g", nil, []kafka.Offset{{Topic: "t", Partition: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, want := offsets(), "[{t 0 3}]"; got != want {
		t.Fatalf("after deleting partition 1: %s, want %s", got, want)
	}
	for range 2 { // deleting a deleted group is not an error
		if err := kafka.DeleteGroup(ctx, cc, "g"); err != nil {
			t.Fatal(err)
		}
	}
	if got := offsets(); got != "[]" {
		t.Fatalf("after delete: %s", got)
	}
}
