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

	"github.com/kbridge/kbridge/storageapi/durable"
)

// store keeps one JSON file per connector created over REST: <dir>/<escaped name>.json,
// sealed when a keyring is set (a config may hold credentials).
type store struct {
	dir  string
	ring *durable.Keyring
}

func (s *store) path(name string) string {
	return filepath.Join(s.dir, url.PathEscape(name)+".json")
}

// save writes c atomically; connectors read from files given at start are not saved.
func (s *store) save(c *connector) error {
	if c.fromFile {
		return nil
	}
	if err := durable.WriteSealed(s.path(c.Name), c, s.ring); err != nil {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	return nil
}

func (s *store) remove(c *connector) error {
	for _, kind := range []string{rereadKind, topicsKind} {
		if err := s.saveSide(kind, c.Name, nil, true); err != nil {
			return err
		}
	}
	if c.fromFile {
		return nil
	}
	if err := os.Remove(s.path(c.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	return durable.SyncDir(s.dir)
}

// Connector state kept apart from the definition, so connectors from files have it too: one
// JSON file per connector in <dir>/<kind>/.
const (
	rereadKind = "reread" // the Reread marks
	topicsKind = "topics" // the active topics
)

func (s *store) sidePath(kind, name string) string {
	return filepath.Join(s.dir, kind, url.PathEscape(name)+".json")
}

// saveSide writes v as the connector's kind of state atomically; empty removes the file.
func (s *store) saveSide(kind, name string, v any, empty bool) error {
	path := s.sidePath(kind, name)
	var err error
	switch {
	case empty:
		if err = os.Remove(path); err == nil {
			err = durable.SyncDir(filepath.Dir(path))
		} else if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	default:
		if err = durable.MkdirAll(filepath.Dir(path)); err == nil {
			err = durable.Write(path, v)
		}
	}
	if err != nil {
		return fmt.Errorf("connector %s: %s: %w", name, kind, err)
	}
	return nil
}

// loadSide reads the connector's kind of state into v; without a file v is left as it is.
func (s *store) loadSide(kind, name string, v any) error {
	err := durable.Read(s.sidePath(kind, name), v)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// load reads every persisted connector; one in clear text or sealed with an older key is
// written again under the current key.
func (s *store) load() ([]*connector, error) {
	if err := durable.MkdirAll(s.dir); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*connector
	for _, f := range files {
		c := &connector{}
		stale, err := durable.ReadSealed(f, c, s.ring)
		if err != nil {
			return nil, err
		}
		if c.Name == "" || c.Config == nil {
			return nil, fmt.Errorf("connector file %s: no name or config", f)
		}
		if stale {
			if err := durable.WriteSealed(f, c, s.ring); err != nil {
				return nil, err
			}
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
			cfg, err = decodeConfig(bytes.NewReader(data))
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
