package streamapi

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config configures the Stream API server. DefaultConfig gives the defaults; Validate names a
// bad key.
type Config struct {
	// Listen is the address the API listens on.
	Listen string `json:"listen" yaml:"listen"`
	// PublicURL is the base URL clients reach the API at (task and entity URLs).
	PublicURL string `json:"publicUrl" yaml:"publicUrl"`
	// IntakeURL is the intake's public URL; a source's URL is
	// <intakeUrl>/stream/<projectId>/<sourceId>/<secret>.
	IntakeURL string `json:"intakeUrl" yaml:"intakeUrl"`
	// DefaultBranchID is what the branch alias "default" stands for.
	DefaultBranchID int64 `json:"defaultBranchId" yaml:"defaultBranchId"`
	// TokenCacheTTL is how long reads trust a verified Storage API token without asking again:
	// a deleted token is accepted by reads for at most this long. Writes always ask.
	TokenCacheTTL time.Duration `json:"tokenCacheTtl" yaml:"tokenCacheTtl"`
	// TaskTTL is how long a finished task can be read.
	TaskTTL time.Duration `json:"taskTtl" yaml:"taskTtl"`
	// MaxBodySize bounds request bodies (definitions and the test endpoint).
	MaxBodySize int64 `json:"maxBodySize" yaml:"maxBodySize"`
	// ReadTimeout, WriteTimeout, IdleTimeout and ShutdownTimeout are the HTTP server's.
	ReadTimeout     time.Duration `json:"readTimeout" yaml:"readTimeout"`
	WriteTimeout    time.Duration `json:"writeTimeout" yaml:"writeTimeout"`
	IdleTimeout     time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	ShutdownTimeout time.Duration `json:"shutdownTimeout" yaml:"shutdownTimeout"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen:          ":8000",
		PublicURL:       "http://localhost:8000",
		IntakeURL:       "http://localhost:7000",
		DefaultBranchID: 1,
		TokenCacheTTL:   30 * time.Second,
		TaskTTL:         time.Hour,
		MaxBodySize:     1 << 20,
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
	}
}

// Validate names every bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Listen == "" {
		bad("listen", "must be set")
	}
	for key, v := range map[string]string{"publicUrl": c.PublicURL, "intakeUrl": c.IntakeURL} {
		if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad(key, "%q is not an http(s) URL", v)
		}
	}
	if c.DefaultBranchID <= 0 {
		bad("defaultBranchId", "must be positive, got %d", c.DefaultBranchID)
	}
	if c.TokenCacheTTL < 0 || c.TokenCacheTTL > 5*time.Minute {
		bad("tokenCacheTtl", "must be between 0 and 5m, got %s", c.TokenCacheTTL)
	}
	if c.TaskTTL < time.Minute {
		bad("taskTtl", "must be at least 1m, got %s", c.TaskTTL)
	}
	if c.MaxBodySize < 1<<10 || c.MaxBodySize > 64<<20 {
		bad("maxBodySize", "must be between 1KB and 64MB, got %d", c.MaxBodySize)
	}
	for key, v := range map[string]time.Duration{"readTimeout": c.ReadTimeout, "writeTimeout": c.WriteTimeout,
		"idleTimeout": c.IdleTimeout, "shutdownTimeout": c.ShutdownTimeout} {
		if v <= 0 {
			bad(key, "must be positive, got %s", v)
		}
	}
	return errors.Join(errs...)
}
