package connect

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
)

// Config configures the Connect REST API and where connectors are kept.
type Config struct {
	// Listen is the REST listener address; an empty address turns the API off.
	Listen string `yaml:"listen"`
	// Connectors are connector config files (JSON or Java .properties) or directories of them,
	// read at every start as connect-standalone reads its arguments; they win over the
	// connectors persisted under StateDir.
	Connectors []string `yaml:"connectors"`
	// StateDir keeps one JSON file per connector created over REST; set by the daemon.
	StateDir string `yaml:"-"`
	// WorkerID is the worker_id in status answers; hostname:port of Listen when empty.
	WorkerID string `yaml:"-"`
	// Auth is who may call the API; see AuthConfig.
	Auth AuthConfig `yaml:"auth"`
	// Pipelines are the consumer groups of the pipelines in the daemon's config file, by
	// pipeline name; set by the daemon. A connector may take neither a name nor a group of theirs.
	Pipelines map[string]string `yaml:"-"`
}

// DefaultConfig returns the defaults: Connect's port.
func DefaultConfig() Config { return Config{Listen: ":8083"} }

// Validate names the bad key.
func (c Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if c.StateDir == "" {
		return errors.New("stateDir: missing")
	}
	for _, p := range c.Connectors {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("connectors: %w", err)
		}
	}
	return nil
}

// collision tells why a connector named name consuming as group would clash with a pipeline
// of the daemon's config file, which has the same name (and metrics) or the same consumer
// group; "" when it would not.
func (c Config) collision(name, group string) string {
	if g, ok := c.Pipelines[name]; ok {
		return fmt.Sprintf("has the name of pipeline %s of the daemon's config file (consumer group %s); give the connector another name", name, g)
	}
	for _, p := range slices.Sorted(maps.Keys(c.Pipelines)) {
		if c.Pipelines[p] == group {
			return fmt.Sprintf("would share consumer group %s with pipeline %s of the daemon's config file; set another consumer.override.group.id", group, p)
		}
	}
	return ""
}

// Worker is the worker id statuses name this worker by: connect.workerId, or the host name
// and the port of connect.listen.
func (c Config) Worker() string {
	if c.WorkerID != "" {
		return c.WorkerID
	}
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(c.Listen)
	return net.JoinHostPort(host, port)
}

// connectorFiles expands Connectors: a directory gives its *.json and *.properties files, sorted.
func (c Config) connectorFiles() ([]string, error) {
	var out []string
	for _, p := range c.Connectors {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("connectors: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		for _, pattern := range []string{"*.json", "*.properties"} {
			m, err := filepath.Glob(filepath.Join(p, pattern))
			if err != nil {
				return nil, fmt.Errorf("connectors %s: %w", p, err)
			}
			slices.Sort(m)
			out = append(out, m...)
		}
	}
	return out, nil
}
