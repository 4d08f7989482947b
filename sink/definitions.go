package sink

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/target"
)

// MaxSinksPerSource is Keboola's limit of sinks in one source.
const MaxSinksPerSource = 100

// SourceKey identifies a source.
type SourceKey struct {
	ProjectID int64  `json:"projectId"`
	BranchID  int64  `json:"branchId"`
	SourceID  string `json:"sourceId"`
}

// String is "projectId/branchId/sourceId".
func (k SourceKey) String() string {
	return fmt.Sprintf("%d/%d/%s", k.ProjectID, k.BranchID, k.SourceID)
}

// SinkKey identifies a sink.
type SinkKey struct {
	SourceKey
	SinkID string `json:"sinkId"`
}

// String is "projectId/branchId/sourceId/sinkId".
func (k SinkKey) String() string { return k.SourceKey.String() + "/" + k.SinkID }

// Position is where an event came from (Kafka: Stream "topic/partition" and the offset).
type Position = local.Position

// Source is a source definition: an entry point whose events go to every enabled sink.
type Source struct {
	Key         SourceKey `json:"key"`
	Type        string    `json:"type"` // "http" or "kafka"
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	// Secret authenticates the HTTP intake of an http source.
	Secret   string `json:"secret,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
	Settings Patch  `json:"settings,omitempty"`
	History
}

// Sink is a sink definition: a table and the mapping of events to its columns.
type Sink struct {
	Key         SinkKey          `json:"key"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	TableID     string           `json:"tableId"`
	Columns     []mapping.Column `json:"columns"`
	Disabled    bool             `json:"disabled,omitempty"`
	Settings    Patch            `json:"settings,omitempty"`
	// Token is the sink's own Storage token, made by the manager (see SinkToken); a definition
	// put by a caller needs none.
	Token *SinkToken `json:"token,omitempty"`
	History
}

// columnName is what Storage takes as a column name.
var columnName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]{0,63}$`)

// ValidateColumnName checks a column name as Storage will when the table is created, so a sink
// is refused at once rather than failing every import.
func ValidateColumnName(name string) error {
	if !columnName.MatchString(name) {
		return errors.New("want 1 to 64 letters, digits and underscores, not starting with an underscore (Storage's rule)")
	}
	return nil
}

// History is what every definition carries about its changes, as Keboola's entities do: the
// version (counted from 1, a copy of each kept by the manager), creation and soft deletion.
type History struct {
	Version int       `json:"version"`
	Updated time.Time `json:"updatedAt"`
	// Change describes the change that made this version; callers set its description and
	// author before a Put, the manager sets the rest.
	Change  Change `json:"change,omitzero"`
	Created Event  `json:"created,omitzero"`
	// Deleted definitions are kept, invisible, until undeleted or created again; a deleted
	// sink's waiting data is still imported.
	Deleted   bool   `json:"deleted,omitempty"`
	DeletedAt *Event `json:"deletedAt,omitempty"`
	// DeletedWithSource marks a sink deleted by its source's deletion: undeleting the source
	// undeletes it too.
	DeletedWithSource bool `json:"deletedWithSource,omitempty"`
}

// Change describes one version of a definition.
type Change struct {
	Description string `json:"description,omitempty"`
	Hash        string `json:"hash,omitempty"`
	By          Actor  `json:"by,omitzero"`
}

// Event is when and by whom something happened.
type Event struct {
	At time.Time `json:"at"`
	By Actor     `json:"by"`
}

// Actor is who made a change: a user's token ("user") or kbridge itself ("system").
type Actor struct {
	Type      string `json:"type"`
	TokenID   string `json:"tokenId,omitempty"`
	TokenDesc string `json:"tokenDesc,omitempty"`
	UserID    string `json:"userId,omitempty"`
	UserName  string `json:"userName,omitempty"`
}

// System is the actor of changes kbridge makes itself (definitions from the configuration file).
var System = Actor{Type: "system"}

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$`)

// Errors of definitions.
var (
	ErrSourceNotFound = errors.New("source not found")
	ErrSinkNotFound   = errors.New("sink not found")
	ErrTooManySinks   = fmt.Errorf("a source has at most %d sinks", MaxSinksPerSource)
)

// Validate checks the source's fields and settings (protected keys allowed: the operator
// writes definitions; the Stream API checks Patch.Validate(false) before).
func (s *Source) Validate() error {
	var errs []error
	if s.Key.ProjectID <= 0 {
		errs = append(errs, fmt.Errorf("source: projectId: must be positive"))
	}
	if !idPattern.MatchString(s.Key.SourceID) {
		errs = append(errs, fmt.Errorf("source: sourceId %q: want lowercase letters, digits and dashes, at most 48", s.Key.SourceID))
	}
	if s.Type != "http" && s.Type != "kafka" {
		errs = append(errs, fmt.Errorf("source %s: type: must be http or kafka, got %q", s.Key.SourceID, s.Type))
	}
	if err := s.Settings.Validate(true); err != nil {
		errs = append(errs, fmt.Errorf("source %s: settings: %w", s.Key.SourceID, err))
	}
	return errors.Join(errs...)
}

// Validate checks the sink's fields and compiles its mapping.
func (s *Sink) Validate(cfg mapping.Config) (*mapping.Mapping, error) {
	return s.validate(cfg, mapping.Compile)
}

// validate is Validate with the mapping compiled by compile: mapping.CompileStored for a
// definition read back from disk, admitted when it was created.
func (s *Sink) validate(cfg mapping.Config, compile func([]mapping.Column, mapping.Config) (*mapping.Mapping, error)) (*mapping.Mapping, error) {
	var errs []error
	if !idPattern.MatchString(s.Key.SinkID) {
		errs = append(errs, fmt.Errorf("sink: sinkId %q: want lowercase letters, digits and dashes, at most 48", s.Key.SinkID))
	}
	if err := target.ValidateTableID(s.TableID); err != nil {
		errs = append(errs, fmt.Errorf("sink %s: tableId: %w", s.Key.SinkID, err))
	}
	for i, c := range s.Columns {
		if err := ValidateColumnName(c.Name); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: columns: column %d %q: name: %w", s.Key.SinkID, i+1, c.Name, err))
		}
	}
	m, err := compile(s.Columns, cfg)
	if err != nil {
		errs = append(errs, fmt.Errorf("sink %s: columns: %w", s.Key.SinkID, err))
	}
	if err := s.Settings.Validate(true); err != nil {
		errs = append(errs, fmt.Errorf("sink %s: settings: %w", s.Key.SinkID, err))
	}
	return m, errors.Join(errs...)
}
