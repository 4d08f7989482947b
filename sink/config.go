package sink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/clock"
	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/sink/staging"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
	"github.com/kbridge/kbridge/storageapi/durable"
)

// Config configures a Manager. DefaultConfig gives the defaults; Validate names a bad key.
type Config struct {
	// DataDir holds definitions and every sink's files and slices.
	DataDir string `json:"dataDir" yaml:"dataDir"`
	// MaxLocalBytes bounds the compressed bytes of one sink not yet uploaded; beyond it
	// writes fail fast with ErrNotReady.
	MaxLocalBytes int64 `json:"maxLocalBytes" yaml:"maxLocalBytes"`
	// RetryAfter is the hint given with ErrNotReady and ErrDiskFull, and the wait before a
	// broken slice is replaced again.
	RetryAfter time.Duration `json:"retryAfter" yaml:"retryAfter"`
	// KeepImportedFiles is how many imported file records a sink keeps for statistics.
	KeepImportedFiles int `json:"keepImportedFiles" yaml:"keepImportedFiles"`
	// Mapping bounds template evaluation.
	Mapping mapping.Config `json:"mapping" yaml:"mapping"`
	// Staging and Target are the operator settings of those levels.
	Staging staging.Config `json:"staging" yaml:"staging"`
	Target  target.Config  `json:"target" yaml:"target"`
	// Encryption seals the records that hold secrets (definitions with source secrets, file
	// records with upload credentials) with AES-256-GCM.
	Encryption EncryptionConfig `json:"encryption" yaml:"encryption"`
}

// EncryptionConfig holds the keys records are sealed with, "<id>:<base64 of 32 bytes>" each:
// the first key seals, every key opens (rotation: put the new key first, keep the old ones
// until the records were rewritten). Without a key records are written in clear text.
type EncryptionConfig struct {
	// Keys are keys written inline, separated by commas (an environment variable's form).
	Keys string `json:"keys" yaml:"keys"`
	// KeyFile is a file of keys, one a line; its keys come after Keys.
	KeyFile string `json:"keyFile" yaml:"keyFile"`
}

// Keyring loads the keys; no key is a nil keyring (records in clear text).
func (c EncryptionConfig) Keyring() (*durable.Keyring, error) {
	return durable.LoadKeyring(c.Keys, c.KeyFile)
}

// DefaultConfig returns the defaults; DataDir must still be set.
func DefaultConfig() Config {
	return Config{
		MaxLocalBytes:     1 << 30,
		RetryAfter:        time.Second,
		KeepImportedFiles: 30,
		Staging:           staging.DefaultConfig(),
		Target:            target.DefaultConfig(),
	}
}

// Validate names every bad key.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: must be set"))
	}
	if c.MaxLocalBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("maxLocalBytes: must be at least 1MB, got %d", c.MaxLocalBytes))
	}
	if c.RetryAfter <= 0 {
		errs = append(errs, fmt.Errorf("retryAfter: must be positive, got %s", c.RetryAfter))
	}
	if c.KeepImportedFiles < 0 {
		errs = append(errs, fmt.Errorf("keepImportedFiles: must not be negative, got %d", c.KeepImportedFiles))
	}
	for _, sub := range []struct {
		key string
		err error
	}{{"mapping", c.Mapping.Validate()}, {"staging", c.Staging.Validate()}, {"target", c.Target.Validate()}, {"encryption", encryptionErr(c.Encryption)}} {
		errs = append(errs, keyed(sub.key, sub.err)...)
	}
	return errors.Join(errs...)
}

func encryptionErr(c EncryptionConfig) error {
	_, err := c.Keyring()
	return err
}

// keyed names each error err joins as a key under section, the way the documentation does:
// "minInterval: ..." under "staging" is "staging.minInterval: ...".
func keyed(section string, err error) []error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s.%w", section, e)
	}
	return out
}

// Deps are the collaborators of a Manager.
type Deps struct {
	// Storage is the Storage API client uploads and imports use. Required.
	Storage *storageapi.Client
	// Clock defaults to the system clock.
	Clock clock.Clock
	// FS creates the local level's files; defaults to the real file system.
	FS local.FS
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Shared, when set, keeps the definitions in a log the replicas share instead of the data
	// directory (distributed mode); it must hold everything the log had when New is called.
	Shared *SharedDefinitions
}

func (d Deps) withDefaults() (Deps, error) {
	if d.Storage == nil {
		return d, errors.New("sink deps: storage client must be set")
	}
	if d.Clock == nil {
		d.Clock = clock.Real()
	}
	if d.FS == nil {
		d.FS = local.OSFS{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d, nil
}
