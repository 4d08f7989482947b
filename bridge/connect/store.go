package connect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/kbridge/kbridge/sink/state"
)

// store keeps one JSON file per connector created over REST: <dir>/<escaped name>.json.
type store struct{ dir string }

func (s *store) path(name string) string {
	return filepath.Join(s.dir, url.PathEscape(name)+".json")
}

// save writes c atomically; connectors read from files given at start are not saved.
func (s *store) save(c *connector) error {
	if c.fromFile {
		return nil
	}
	if err := state.Write(s.path(c.Name), c); err != nil {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	return nil
}

func (s *store) remove(c *connector) error {
	if err := os.Remove(s.rereadPath(c.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	if err := s.saveTopics(c.Name, nil); err != nil {
		return err
	}
	if c.fromFile {
		return nil
	}
	if err := os.Remove(s.path(c.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	return state.SyncDir(s.dir)
}

// rereadPath is where a connector's Reread marks are kept.
func (s *store) rereadPath(name string) string {
	return filepath.Join(s.dir, "reread", url.PathEscape(name)+".json")
}

// saveReread writes a connector's Reread marks atomically.
func (s *store) saveReread(name string, marks map[string]int64) error {
	if err := state.MkdirAll(filepath.Dir(s.rereadPath(name))); err != nil {
		return err
	}
	if err := state.Write(s.rereadPath(name), marks); err != nil {
		return fmt.Errorf("connector %s: %w", name, err)
	}
	return nil
}

// loadReread reads a connector's Reread marks; a connector without any has no file.
func (s *store) loadReread(c *connector) error {
	err := state.Read(s.rereadPath(c.Name), &c.Reread)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// topicsPath is where a connector's active topics are kept.
func (s *store) topicsPath(name string) string {
	return filepath.Join(s.dir, "topics", url.PathEscape(name)+".json")
}

// saveTopics writes a connector's active topics atomically; no topics removes the file.
func (s *store) saveTopics(name string, topics []string) error {
	path := s.topicsPath(name)
	if len(topics) == 0 {
		err := os.Remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil {
			err = state.SyncDir(filepath.Dir(path))
		}
		if err != nil {
			return fmt.Errorf("connector %s: %w", name, err)
		}
		return nil
	}
	if err := state.MkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	if err := state.Write(path, topics); err != nil {
		return fmt.Errorf("connector %s: %w", name, err)
	}
	return nil
}

// loadTopics reads a connector's active topics; a connector without any has no file.
func (s *store) loadTopics(c *connector) error {
	err := state.Read(s.topicsPath(c.Name), &c.Topics)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// load reads every persisted connector.
func (s *store) load() ([]*connector, error) {
	if err := state.MkdirAll(s.dir); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*connector
	for _, f := range files {
		c := &connector{}
		if err := state.Read(f, c); err != nil {
			return nil, err
		}
		if c.Name == "" || c.Config == nil {
			return nil, fmt.Errorf("connector file %s: no name or config", f)
		}
		out = append(out, c)
	}
	return out, nil
}

// readConnectorFile reads a connector config as connect-standalone takes it: Java .properties,
// or JSON shaped like the body of POST /connectors ({"name", "config"}) or PUT .../config (flat).
func readConnectorFile(path string) (*connector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("connectors: %w", err)
	}
	var cfg map[string]string
	name := ""
	if strings.HasSuffix(path, ".properties") {
		cfg, err = parseProperties(data)
	} else {
		var req createRequest
		if err = json.Unmarshal(data, &req); err == nil && req.Config != nil {
			name, cfg, err = req.Name, req.Config, nil
		} else {
			cfg, err = decodeConfig(bytes.NewReader(data), false)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("connectors %s: %w", path, err)
	}
	if name == "" {
		name = cfg["name"]
	}
	if name = strings.TrimSpace(name); name == "" {
		return nil, fmt.Errorf("connectors %s: name: missing", path)
	}
	cfg["name"] = name
	return &connector{Name: name, Config: cfg, Target: stateRunning, fromFile: true}, nil
}

// parseProperties reads Java .properties: key=value, key:value or key value lines, # and !
// comments, and lines continued by a trailing backslash. Unicode escapes are not decoded.
func parseProperties(data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var line string
	for sc.Scan() {
		part := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" && (part == "" || part[0] == '#' || part[0] == '!') {
			continue
		}
		if strings.HasSuffix(part, `\`) && !strings.HasSuffix(part, `\\`) {
			line += strings.TrimSuffix(part, `\`)
			continue
		}
		line += part
		i := strings.IndexAny(line, "=: \t")
		if i < 0 {
			out[line] = ""
		} else {
			value := strings.TrimLeft(line[i+1:], " \t")
			if line[i] == ' ' || line[i] == '\t' {
				value = strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(value, "="), ":"), " \t")
			}
			out[line[:i]] = value
		}
		line = ""
	}
	return out, sc.Err()
}
