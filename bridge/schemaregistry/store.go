package schemaregistry

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// state is everything the registry holds; it is what the state file contains.
type state struct {
	Schemas  []*schema           `json:"schemas"` // by id-1
	Subjects map[string]*subject `json:"subjects"`
	Compat   string              `json:"compatibility"` // the global level
}

type schema struct {
	ID         int         `json:"id"`
	Type       string      `json:"schemaType"` // AVRO, PROTOBUF or JSON
	Text       string      `json:"schema"`
	References []reference `json:"references,omitempty"`
}

type reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type subject struct {
	Versions []*version `json:"versions"`
	Compat   string     `json:"compatibility,omitempty"` // "" follows the global level
}

type version struct {
	Version int  `json:"version"`
	ID      int  `json:"id"`
	Deleted bool `json:"deleted,omitempty"`
}

// stateFile is the file's name in the data directory.
const stateFile = "schema-registry.json"

func load(dir string) (*state, error) {
	st := &state{Subjects: map[string]*subject{}, Compat: "BACKWARD"}
	if dir == "" {
		return st, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read schema registry state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("read schema registry state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Subjects == nil {
		st.Subjects = map[string]*subject{}
	}
	return st, nil
}

// save replaces the state file atomically: a crash leaves the old state or the new one.
func (st *state) save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save schema registry state: %w", err)
	}
	path := filepath.Join(dir, stateFile)
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return fmt.Errorf("save schema registry state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save schema registry state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save schema registry state: %w", err)
	}
	defer d.Close()
	return d.Sync()
}

// live returns the versions of s that are not deleted.
func (s *subject) live() []*version {
	var out []*version
	for _, v := range s.Versions {
		if !v.Deleted {
			out = append(out, v)
		}
	}
	return out
}
