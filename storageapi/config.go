package storageapi

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config configures a Client. DefaultConfig gives the defaults; Validate names a bad key.
type Config struct {
	// URL is the stack's base URL, e.g. https://connection.keboola.com (no /v2/storage suffix).
	URL string `json:"url" yaml:"url"`
	// Token is sent as X-StorageApi-Token on every call except the index.
	Token string `json:"token" yaml:"token"`
	// RequestTimeout bounds one HTTP attempt, including reading the response body.
	RequestTimeout time.Duration `json:"requestTimeout" yaml:"requestTimeout"`
	// UploadTimeout bounds one attempt of a backend upload (a slice or a manifest).
	UploadTimeout time.Duration `json:"uploadTimeout" yaml:"uploadTimeout"`
	// Retry controls retries of Storage API calls and uploads.
	Retry RetryConfig `json:"retry" yaml:"retry"`
	// JobPoll controls how WaitForJob polls a job.
	JobPoll JobPollConfig `json:"jobPoll" yaml:"jobPoll"`
	// GCSEndpoint is the Google Cloud Storage base URL used for uploads.
	GCSEndpoint string `json:"gcsEndpoint" yaml:"gcsEndpoint"`
	// S3Endpoint, when set, replaces https://{bucket}.s3.{region}.amazonaws.com with
	// path-style {S3Endpoint}/{bucket}; for S3-compatible stores and tests.
	S3Endpoint string `json:"s3Endpoint" yaml:"s3Endpoint"`
	// UserAgent is sent with every request.
	UserAgent string `json:"userAgent" yaml:"userAgent"`
}

// RetryConfig is an exponential backoff with jitter.
type RetryConfig struct {
	// MaxAttempts is the number of attempts including the first; 1 disables retries.
	MaxAttempts int `json:"maxAttempts" yaml:"maxAttempts"`
	// InitialInterval is the first wait; each further wait is Multiplier times longer.
	InitialInterval time.Duration `json:"initialInterval" yaml:"initialInterval"`
	// MaxInterval caps one wait computed by the backoff (Retry-After may ask for longer).
	MaxInterval time.Duration `json:"maxInterval" yaml:"maxInterval"`
	// MaxElapsedTime stops retrying once this much time has passed since the first attempt.
	MaxElapsedTime time.Duration `json:"maxElapsedTime" yaml:"maxElapsedTime"`
	// Multiplier grows the interval after each wait; at least 1.
	Multiplier float64 `json:"multiplier" yaml:"multiplier"`
	// Jitter is the randomization factor in [0, 1): a wait is interval × (1 ± Jitter).
	Jitter float64 `json:"jitter" yaml:"jitter"`
}

// JobPollConfig is the polling cadence of WaitForJob: InitialInterval doubling up to MaxInterval.
type JobPollConfig struct {
	InitialInterval time.Duration `json:"initialInterval" yaml:"initialInterval"`
	MaxInterval     time.Duration `json:"maxInterval" yaml:"maxInterval"`
}

// DefaultConfig returns the defaults; URL and Token must still be set.
func DefaultConfig() Config {
	return Config{
		RequestTimeout: 60 * time.Second,
		UploadTimeout:  5 * time.Minute,
		Retry: RetryConfig{
			MaxAttempts:     6,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     3 * time.Second,
			MaxElapsedTime:  30 * time.Second,
			Multiplier:      2,
			Jitter:          0.3,
		},
		JobPoll: JobPollConfig{
			InitialInterval: 50 * time.Millisecond,
			MaxInterval:     3 * time.Second,
		},
		GCSEndpoint: "https://storage.googleapis.com",
		UserAgent:   "kbridge-storageapi",
	}
}

// Validate reports every invalid key, each named as it appears in configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, why string) { errs = append(errs, fmt.Errorf("%s: %s", key, why)) }
	checkURL := func(key, raw string, required bool) {
		if raw == "" {
			if required {
				bad(key, "must be set")
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key, fmt.Sprintf("%q is not an http(s) URL", raw))
		}
	}
	checkURL("url", c.URL, true)
	checkURL("gcsEndpoint", c.GCSEndpoint, true)
	checkURL("s3Endpoint", c.S3Endpoint, false)
	if c.Token == "" {
		bad("token", "must be set")
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, fmt.Sprintf("must be positive, got %s", d))
		}
	}
	positive("requestTimeout", c.RequestTimeout)
	positive("uploadTimeout", c.UploadTimeout)
	positive("retry.initialInterval", c.Retry.InitialInterval)
	positive("retry.maxElapsedTime", c.Retry.MaxElapsedTime)
	positive("jobPoll.initialInterval", c.JobPoll.InitialInterval)
	if c.Retry.MaxAttempts < 1 {
		bad("retry.maxAttempts", fmt.Sprintf("must be at least 1, got %d", c.Retry.MaxAttempts))
	}
	if c.Retry.MaxInterval < c.Retry.InitialInterval {
		bad("retry.maxInterval", fmt.Sprintf("must be at least retry.initialInterval (%s), got %s", c.Retry.InitialInterval, c.Retry.MaxInterval))
	}
	if c.Retry.Multiplier < 1 {
		bad("retry.multiplier", fmt.Sprintf("must be at least 1, got %g", c.Retry.Multiplier))
	}
	if c.Retry.Jitter < 0 || c.Retry.Jitter >= 1 {
		bad("retry.jitter", fmt.Sprintf("must be in [0, 1), got %g", c.Retry.Jitter))
	}
	if c.JobPoll.MaxInterval < c.JobPoll.InitialInterval {
		bad("jobPoll.maxInterval", fmt.Sprintf("must be at least jobPoll.initialInterval (%s), got %s", c.JobPoll.InitialInterval, c.JobPoll.MaxInterval))
	}
	return errors.Join(errs...)
}
