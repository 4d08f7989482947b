package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Offset is a partition's committed offset in a consumer group: the next record the group
// reads from it.
type Offset struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Stream is the offset's partition as the sinks name it, "topic/partition".
func (o Offset) Stream() string { return partition{o.Topic, o.Partition}.stream() }

// ErrGroupActive is returned when a group's offsets are changed while it has members: only
// its members may commit then.
var ErrGroupActive = errors.New("the consumer group has active members")

// ErrUnknownTopic is returned when an offset names a topic or partition the cluster does not have.
var ErrUnknownTopic = errors.New("unknown topic or partition")

// GroupOffsets returns the committed offsets of group, by topic and partition. A group that
// does not exist has none.
func GroupOffsets(ctx context.Context, cc ClientConfig, group string) ([]Offset, error) {
	adm, err := newAdmin(cc)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	fetched, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of group %s: %w", group, err)
	}
	var out []Offset
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			out = append(out, Offset{Topic: o.Topic, Partition: o.Partition, Offset: o.At})
		}
	})
	slices.SortFunc(out, func(a, b Offset) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// AlterGroupOffsets commits set and deletes the committed offsets of the partitions in reset
// (their Offset is not used) for group, which must have no members (ErrGroupActive). A
// partition whose commit is deleted is read from auto.offset.reset when the group next runs.
func AlterGroupOffsets(ctx context.Context, cc ClientConfig, group string, set, reset []Offset) error {
	adm, err := newAdmin(cc)
	if err != nil {
		return err
	}
	defer adm.Close()
	if len(set) > 0 {
		commit := kadm.Offsets{}
		for _, o := range set {
			commit.AddOffset(o.Topic, o.Partition, o.Offset, -1)
		}
		if err := adm.CommitAllOffsets(ctx, group, commit); err != nil {
			return groupError(group, "commit offsets", err)
		}
	}
	if len(reset) > 0 {
		parts := kadm.TopicsSet{}
		for _, o := range reset {
			parts.Add(o.Topic, o.Partition)
		}
		deleted, err := adm.DeleteOffsets(ctx, group, parts)
		if err == nil {
			err = deleted.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return groupError(group, "delete offsets", err)
		}
	}
	return nil
}

// DeleteGroup deletes group and with it every offset it committed; the group then reads from
// auto.offset.reset. A group that does not exist is not an error.
func DeleteGroup(ctx context.Context, cc ClientConfig, group string) error {
	adm, err := newAdmin(cc)
	if err != nil {
		return err
	}
	defer adm.Close()
	if _, err := adm.DeleteGroup(ctx, group); err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return groupError(group, "delete group", err)
	}
	return nil
}

// groupError wraps err, classifying a group with members as ErrGroupActive and a missing
// topic or partition as ErrUnknownTopic.
func groupError(group, op string, err error) error {
	switch {
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.GroupSubscribedToTopic),
		errors.Is(err, kerr.NonEmptyGroup), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
		return fmt.Errorf("%s of group %s: %w (%w)", op, group, ErrGroupActive, err)
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		return fmt.Errorf("%s of group %s: %w (%w)", op, group, ErrUnknownTopic, err)
	}
	return fmt.Errorf("%s of group %s: %w", op, group, err)
}

// newAdmin returns an admin client outside any group; the caller closes it.
func newAdmin(cc ClientConfig) (*kadm.Client, error) {
	opts, err := cc.Options()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	return kadm.NewClient(cl), nil
}
