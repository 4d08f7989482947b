package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ensureTopic creates the topic compacted with one partition, or checks that the one found is
// so: more partitions would lose the total order, and deletion instead of compaction would
// lose definitions after the retention time. Both are configuration errors naming the key.
// The status topic may have more partitions: onePartition is false for it.
func ensureTopic(ctx context.Context, adm *kadm.Client, t topicSpec) error {
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, int16(t.replicationFactor), map[string]*string{"cleanup.policy": &compact}, t.name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		return fmt.Errorf("create topic %q: %w", t.name, err)
	}
	return checkTopic(ctx, adm, t)
}

// topicSpec is a topic to ensure and the config key that names it.
type topicSpec struct {
	name              string
	key               string // cluster.configTopic or cluster.statusTopic
	replicationFactor int
	onePartition      bool
}

func checkTopic(ctx context.Context, adm *kadm.Client, t topicSpec) error {
	topic := t.name
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe topic %q: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		return fmt.Errorf("describe topic %q: %w", topic, d.Err)
	}
	if n := len(d.Partitions); t.onePartition && n != 1 {
		return fmt.Errorf("%s: topic %q has %d partitions; it needs exactly one, so that every "+
			"member applies the definitions in the same order: name a new topic, kbridge creates it", t.key, topic, n)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe configs of topic %q: %w", topic, err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		return fmt.Errorf("describe configs of topic %q: %w", topic, err)
	}
	if rc.Err != nil {
		return fmt.Errorf("describe configs of topic %q: %w", topic, rc.Err)
	}
	policy := "delete" // Kafka's default
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if !compactOnly(policy) {
		return fmt.Errorf("%s: topic %q has cleanup.policy=%s; it needs cleanup.policy=compact, "+
			"or what it holds is deleted after the retention time", t.key, topic, policy)
	}
	return nil
}

// compactOnly reports whether a cleanup.policy list is exactly compact: "compact,
// delete" also deletes old definitions, so it is refused as Connect refuses it.
func compactOnly(policy string) bool {
	for p := range strings.SplitSeq(policy, ",") {
		if strings.TrimSpace(p) != "compact" {
			return false
		}
	}
	return policy != ""
}
