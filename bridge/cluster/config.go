package cluster

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is the shared-definitions topic and this member's name in it.
type Config struct {
	// Topic is the compacted topic of one partition holding the definitions
	// (cluster.configTopic), created if missing.
	Topic string `yaml:"configTopic"`
	// ReplicationFactor is the topic's replication factor when kbridge creates it
	// (cluster.replicationFactor); -1 takes the broker's default.replication.factor, as
	// Connect's config.storage.replication.factor=-1 does.
	ReplicationFactor int `yaml:"replicationFactor"`
	// StatusTopic is the compacted topic where every member publishes its statuses
	// (cluster.statusTopic), created if missing; see Statuses.
	StatusTopic string `yaml:"statusTopic"`
	// Member names this replica in the records it writes (cluster.member), e.g. the pod name.
	Member string `yaml:"member"`
	// WriteRetryBackoff is the first wait before a write fenced by a concurrent writer is tried
	// again (cluster.writeRetryBackoff); it doubles, with jitter, up to 1 s.
	WriteRetryBackoff time.Duration `yaml:"writeRetryBackoff"`
}

// Defaults.
const (
	DefaultTopic             = "kbridge-configs"
	DefaultStatusTopic       = "kbridge-status"
	DefaultReplicationFactor = -1
	DefaultWriteRetryBackoff = 20 * time.Millisecond
)

// DefaultConfig is the defaults; Member is the host name (the pod name in Kubernetes).
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{Topic: DefaultTopic, StatusTopic: DefaultStatusTopic, ReplicationFactor: DefaultReplicationFactor, Member: host,
		WriteRetryBackoff: DefaultWriteRetryBackoff}
}

// Validate names the first bad key.
func (c Config) Validate() error {
	if err := checkTopicName("cluster.configTopic", c.Topic); err != nil {
		return err
	}
	if err := checkTopicName("cluster.statusTopic", c.StatusTopic); err != nil {
		return err
	}
	switch {
	case c.StatusTopic == c.Topic:
		return fmt.Errorf("cluster.statusTopic: must differ from cluster.configTopic (%q)", c.Topic)
	case c.ReplicationFactor == 0 || c.ReplicationFactor < -1 || c.ReplicationFactor > 32767:
		return fmt.Errorf("cluster.replicationFactor: must be -1 (the broker's default) or 1 to 32767, got %d", c.ReplicationFactor)
	case c.Member == "":
		return fmt.Errorf("cluster.member: a member name is needed (the pod name)")
	case strings.Contains(c.Member, "/"):
		return fmt.Errorf("cluster.member: %q has a '/', which separates the member from the key in the status topic", c.Member)
	case c.WriteRetryBackoff <= 0:
		return fmt.Errorf("cluster.writeRetryBackoff: must be positive, got %s", c.WriteRetryBackoff)
	}
	return nil
}

func checkTopicName(key, topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("%s: a topic name is needed", key)
	case len(topic) > 249 || strings.Trim(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" ||
		topic == "." || topic == "..":
		return fmt.Errorf("%s: %q is not a Kafka topic name (letters, digits, '.', '_', '-', at most 249)", key, topic)
	}
	return nil
}
