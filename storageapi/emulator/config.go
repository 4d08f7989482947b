package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// DefaultToken is the master token of an emulator started without one.
const DefaultToken = "kbridge-dev-token"

// Config configures an Emulator.
type Config struct {
	// DataDir holds the persistent state; created if missing.
	DataDir string
	// MasterToken is the project's master token (all permissions).
	MasterToken string
	// Tokens are further tokens, e.g. a bucket-scoped one.
	Tokens []TokenConfig
	// ProjectID is the owner.id of every token.
	ProjectID int64
	// DefaultBranchID is the id of the project's default branch (Storage gives each project
	// its own; dev-branches lists it with isDefault).
	DefaultBranchID int64
	// Features are the stack features the index announces, e.g. "disable-legacy-bucket-prefix"
	// (bucket names are then taken as given instead of getting the "c-" prefix).
	Features []string
	// Services are the services the index announces besides Storage, e.g. kbridge dev's own
	// Stream API as "stream".
	Services []Service
	// JobDelay is how long a job stays "waiting" before it is processed.
	JobDelay time.Duration
	// CredentialsTTL is the validity of upload credentials handed out by files/prepare.
	CredentialsTTL time.Duration
	// PublicURL is the base URL clients reach the emulator at, used in blob endpoints and
	// object URLs. Empty means derived from each request's Host header.
	PublicURL string
	// Logger receives one line per failed job and per server error; nil discards.
	Logger *slog.Logger
}

// Service is one entry of the index's services.
type Service struct {
	ID  string
	URL string
}

// TokenConfig is a token known from start-up.
type TokenConfig struct {
	Token                 string
	Description           string
	CanManageBuckets      bool
	CanReadAllFileUploads bool
	// BucketPermissions maps bucket ids to "read", "write" or "manage".
	BucketPermissions map[string]string
}

// DefaultConfig returns the defaults; DataDir must still be set.
func DefaultConfig() Config {
	return Config{
		MasterToken:     DefaultToken,
		ProjectID:       1,
		DefaultBranchID: 1,
		JobDelay:        500 * time.Millisecond,
		CredentialsTTL:  12 * time.Hour,
	}
}

// Validate names every invalid key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, why string) { errs = append(errs, fmt.Errorf("emulator config: %s: %s", key, why)) }
	if c.DataDir == "" {
		bad("dataDir", "must be set")
	}
	if c.MasterToken == "" {
		bad("token", "must be set")
	}
	if c.ProjectID <= 0 {
		bad("projectId", "must be positive")
	}
	if c.DefaultBranchID <= 0 {
		bad("defaultBranchId", "must be positive")
	}
	if c.JobDelay < 0 {
		bad("jobDelay", fmt.Sprintf("must not be negative, got %s", c.JobDelay))
	}
	if c.CredentialsTTL <= 0 {
		bad("credentialsTTL", fmt.Sprintf("must be positive, got %s", c.CredentialsTTL))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("publicURL", fmt.Sprintf("%q is not an http(s) URL", c.PublicURL))
		}
	}
	for i, t := range c.Tokens {
		if t.Token == "" || t.Token == c.MasterToken {
			bad(fmt.Sprintf("tokens[%d].token", i), "must be set and differ from the master token")
		}
	}
	return errors.Join(errs...)
}
