package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kbridge/kbridge/storageapi/durable"
)

// state is everything persisted in state.json. Guarded by Emulator.mu.
type state struct {
	NextID int64 `json:"nextId"`
	// SASSecret signs the SAS tokens this emulator issues.
	SASSecret string             `json:"sasSecret"`
	Buckets   map[string]*bucket `json:"buckets"`
	Tables    map[string]*table  `json:"tables"`
	Files     map[int64]*file    `json:"files"`
	Jobs      map[int64]*job     `json:"jobs"`
	Tokens    map[string]*token  `json:"tokens"` // created through the API, by id
	// Branches are the development branches created through the API; the default branch
	// (Config.DefaultBranchID) is not stored.
	Branches map[int64]*branch `json:"branches"`
	Events   []*event          `json:"events"` // oldest first
}

// Buckets and tables of the default branch are stored under their ids, those of a
// development branch under "<branchId>/<id>" (objectKey).
type bucket struct {
	Branch      int64     `json:"branch,omitempty"` // 0: the default branch
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"displayName"`
	Stage       string    `json:"stage"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

type table struct {
	Branch         int64      `json:"branch,omitempty"` // 0: the default branch
	ID             string     `json:"id"`
	BucketID       string     `json:"bucketId"`
	Name           string     `json:"name"`
	Columns        []string   `json:"columns"`
	PrimaryKey     []string   `json:"primaryKey"`
	Created        time.Time  `json:"created"`
	LastImportDate *time.Time `json:"lastImportDate"`
	LastChangeDate *time.Time `json:"lastChangeDate"`
	RowsCount      int64      `json:"rowsCount"`
	DataSizeBytes  int64      `json:"dataSizeBytes"`
	Metadata       []metadata `json:"metadata"`
	// Types are the columns' types of a typed table; nil for an untyped table.
	Types map[string]columnType `json:"types,omitempty"`
	// ColumnMetadata is the metadata of each column, by column name.
	ColumnMetadata map[string][]metadata `json:"columnMetadata,omitempty"`
}

// key is where the table is stored in state.Tables.
func (t *table) key() string { return objectKey(t.Branch, t.ID) }

// objectKey is the state key of a bucket or table id in a branch (0: the default branch).
func objectKey(branch int64, id string) string {
	if branch == 0 {
		return id
	}
	return fmt.Sprintf("%d/%s", branch, id)
}

type branch struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
}

type metadata struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Value     string    `json:"value"`
	Provider  string    `json:"provider"`
	Timestamp time.Time `json:"timestamp"`
}

type file struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Created        time.Time `json:"created"`
	IsSliced       bool      `json:"isSliced"`
	IsPermanent    bool      `json:"isPermanent"`
	Tags           []string  `json:"tags"`
	SizeBytes      int64     `json:"sizeBytes"`
	Container      string    `json:"container"`
	BlobName       string    `json:"blobName"`
	Expiration     time.Time `json:"expiration"`
	CreatorTokenID string    `json:"creatorTokenId"`
}

type job struct {
	ID             int64           `json:"id"`
	Status         string          `json:"status"`
	TableID        string          `json:"tableId"`
	Operation      string          `json:"operation"`
	Params         json.RawMessage `json:"params"` // operationParams as shown to clients
	Task           json.RawMessage `json:"task"`   // what the worker does, per operation
	Created        time.Time       `json:"created"`
	Started        *time.Time      `json:"started"`
	Ended          *time.Time      `json:"ended"`
	Results        json.RawMessage `json:"results"`
	Error          *jobError       `json:"error"`
	CreatorTokenID string          `json:"creatorTokenId"`
	BaseURL        string          `json:"baseUrl"` // public URL at creation, for URIs in results
}

type jobError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	ExceptionID string `json:"exceptionId"`
}

type token struct {
	ID                    string            `json:"id"`
	Secret                string            `json:"secret"`
	Description           string            `json:"description"`
	Created               time.Time         `json:"created"`
	Expires               *time.Time        `json:"expires"`
	IsMaster              bool              `json:"isMaster"`
	CanManageBuckets      bool              `json:"canManageBuckets"`
	CanReadAllFileUploads bool              `json:"canReadAllFileUploads"`
	CanPurgeTrash         bool              `json:"canPurgeTrash"`
	ComponentAccess       []string          `json:"componentAccess,omitempty"`
	BucketPermissions     map[string]string `json:"bucketPermissions"`
}

type event struct {
	ID         string          `json:"id"`
	UUID       string          `json:"uuid"`
	Event      string          `json:"event"`
	Component  string          `json:"component"`
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	Created    time.Time       `json:"created"`
	ObjectID   string          `json:"objectId"`
	ObjectType string          `json:"objectType"`
	Params     json.RawMessage `json:"params"`
	Results    json.RawMessage `json:"results"`
	TokenID    string          `json:"tokenId"`
}

func newState() *state {
	return &state{
		NextID:   1000,
		Buckets:  map[string]*bucket{},
		Tables:   map[string]*table{},
		Files:    map[int64]*file{},
		Jobs:     map[int64]*job{},
		Tokens:   map[string]*token{},
		Branches: map[int64]*branch{},
	}
}

func (s *state) nextID() int64 {
	s.NextID++
	return s.NextID
}

// loadState reads dir/state.json; a missing file is a fresh state.
func loadState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if os.IsNotExist(err) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	s := newState()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", filepath.Join(dir, "state.json"), err)
	}
	return s, nil
}

func (s *state) save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, "state.json"), data)
}

// writeFileAtomic replaces path with data, creating its directory: a crash leaves either the
// old or the new content (durable.WriteBytes).
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return durable.WriteBytes(path, data)
}
