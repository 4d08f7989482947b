package intake

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config configures the intake server. DefaultConfig gives the defaults; Validate names a bad
// key.
type Config struct {
	// Listen is the address the intake listens on.
	Listen string `json:"listen" yaml:"listen"`
	// PublicURL is the base URL senders reach the intake at; the Stream API builds source URLs
	// from it (<publicUrl>/stream/<projectId>/<sourceId>/<secret>).
	PublicURL string `json:"publicUrl" yaml:"publicUrl"`
	// MaxBodySize bounds one record's body (after gzip decoding), as Keboola's
	// source.http.maxRequestBodySize: 100 B to 4 MB.
	MaxBodySize int64 `json:"maxBodySize" yaml:"maxBodySize"`
	// MaxNDJSONBodySize bounds an NDJSON body (after gzip decoding); each line is still bound
	// by MaxBodySize.
	MaxNDJSONBodySize int64 `json:"maxNdjsonBodySize" yaml:"maxNdjsonBodySize"`
	// MaxNDJSONLines bounds the records of one NDJSON body: a small body of many short lines
	// (a gzip of millions of "{}") is refused as soon as it passes the cap, so the work and
	// memory of a request do not grow with its line count.
	MaxNDJSONLines int `json:"maxNdjsonLines" yaml:"maxNdjsonLines"`
	// MaxHeaderBytes bounds the request line and headers: it is the size of the server's read
	// buffer per connection; more is a JSON 431.
	MaxHeaderBytes int `json:"maxHeaderBytes" yaml:"maxHeaderBytes"`
	// TrustedProxies are the networks (CIDR) whose X-Forwarded-For header is believed.
	TrustedProxies []string `json:"trustedProxies" yaml:"trustedProxies"`
	// ReadTimeout bounds reading a whole request from its first byte (a slow client gets a
	// JSON 408), IdleTimeout the wait for the next request on a keep-alive connection and
	// WriteTimeout writing an answer.
	ReadTimeout  time.Duration `json:"readTimeout" yaml:"readTimeout"`
	WriteTimeout time.Duration `json:"writeTimeout" yaml:"writeTimeout"`
	IdleTimeout  time.Duration `json:"idleTimeout" yaml:"idleTimeout"`
	// RequestTimeout bounds writing a request's records and waiting for their fsync.
	RequestTimeout time.Duration `json:"requestTimeout" yaml:"requestTimeout"`
	// ShutdownTimeout bounds how long Run waits for in-flight requests after its context ends.
	ShutdownTimeout time.Duration `json:"shutdownTimeout" yaml:"shutdownTimeout"`
}

// Limits of the configuration.
const (
	MinBodySize       = 100
	MaxBodySizeLimit  = 4 << 20
	MaxNDJSONLimit    = 256 << 20
	MaxNDJSONLinesCap = 10_000_000
	defaultNDJSONSize = 16 << 20
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen:            ":7000",
		PublicURL:         "http://localhost:7000",
		MaxBodySize:       1 << 20,
		MaxNDJSONBodySize: defaultNDJSONSize,
		MaxNDJSONLines:    100_000,
		MaxHeaderBytes:    16 << 10,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		RequestTimeout:    30 * time.Second,
		ShutdownTimeout:   30 * time.Second,
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
	if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		bad("publicUrl", "%q is not an http(s) URL", c.PublicURL)
	}
	if c.MaxBodySize < MinBodySize || c.MaxBodySize > MaxBodySizeLimit {
		bad("maxBodySize", "must be between 100B and 4MB, got %d", c.MaxBodySize)
	}
	if c.MaxNDJSONBodySize < c.MaxBodySize || c.MaxNDJSONBodySize > MaxNDJSONLimit {
		bad("maxNdjsonBodySize", "must be between maxBodySize and 256MB, got %d", c.MaxNDJSONBodySize)
	}
	if c.MaxNDJSONLines < 1 || c.MaxNDJSONLines > MaxNDJSONLinesCap {
		bad("maxNdjsonLines", "must be between 1 and 10000000, got %d", c.MaxNDJSONLines)
	}
	if c.MaxHeaderBytes < 1<<10 || c.MaxHeaderBytes > 1<<20 {
		bad("maxHeaderBytes", "must be between 1KB and 1MB, got %d", c.MaxHeaderBytes)
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		bad("trustedProxies", "%v", err)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"readTimeout", c.ReadTimeout}, {"writeTimeout", c.WriteTimeout}, {"idleTimeout", c.IdleTimeout},
		{"requestTimeout", c.RequestTimeout}, {"shutdownTimeout", c.ShutdownTimeout}} {
		if d.v <= 0 {
			bad(d.key, "must be positive, got %s", d.v)
		}
	}
	return errors.Join(errs...)
}

// parsePrefixes reads CIDRs; a bare address is a single-host network.
func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an address", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or an address", s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
