package storageapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds a Storage API response body read into memory (data preview is the largest).
const maxResponseBytes = 64 << 20

// Client talks to one Storage API stack with one token. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  *url.URL
	http  *http.Client
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
	// branch is the development branch buckets, tables and files are addressed in
	// (/v2/storage/branch/{branch}/...); 0 is the default branch, on the legacy paths.
	branch int64
	index  *indexCache // shared by the copies WithToken and WithBranch make
}

// Option adjusts a Client built by New.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for the Storage API and the upload backends.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithSleep replaces the wait between retries and job polls; tests record the waits
// instead of sleeping. The function must return early with an error when ctx ends.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithClock sets the time source used to check upload credential expiry.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New validates cfg and returns a client. It performs no I/O and starts nothing.
func New(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	c := &Client{cfg: cfg, base: base, http: http.DefaultClient, sleep: sleepContext, now: time.Now, index: &indexCache{}}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// WithToken returns a client identical to c but authenticating with token
// (e.g. a bucket-scoped sink token). The HTTP client is shared.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.cfg.Token = token
	return &cp
}

// WithBranch returns a client identical to c but addressing buckets, tables and files in the
// development branch (Storage's /v2/storage/branch/{id}/... paths); 0 is the default branch.
// Jobs, tokens and events are the project's and keep their paths.
func (c *Client) WithBranch(branchID int64) *Client {
	cp := *c
	cp.branch = branchID
	return &cp
}

// Branch is the development branch the client addresses; 0 for the default branch.
func (c *Client) Branch() int64 { return c.branch }

// branchScoped are the first path segments Storage scopes to a branch.
var branchScoped = map[string]bool{"buckets": true, "tables": true, "files": true}

// call is one Storage API request.
type call struct {
	method string
	path   string // below /v2/storage, already escaped, e.g. "tables/in.c-a.b"
	query  url.Values
	body   any // JSON-encoded when non-nil
	noAuth bool
	out    any // JSON-decoded when non-nil; *[]byte receives the raw body
	// onlyRefused limits retries to failures where the server surely did nothing.
	onlyRefused bool
}

func (r *call) op() string { return r.method + " /v2/storage/" + r.path }

// do runs the call with retries. It reports whether more than one attempt was made,
// which create and delete calls use to recognise their own earlier, lost success.
func (c *Client) do(ctx context.Context, r call) (retried bool, err error) {
	var body []byte
	if r.body != nil {
		if body, err = json.Marshal(r.body); err != nil {
			return false, fmt.Errorf("%s: encode body: %w", r.op(), err)
		}
	}
	retryable := IsRetryable
	if r.onlyRefused {
		retryable = isRefused
	}
	attempts, err := c.withRetry(ctx, retryable, func(ctx context.Context) error { return c.attempt(ctx, &r, body) })
	return attempts > 1, err
}

func (c *Client) attempt(ctx context.Context, r *call, body []byte) error {
	actx, cancel := context.WithTimeoutCause(ctx, c.cfg.RequestTimeout, errAttemptTimeout)
	defer cancel()
	u := *c.base
	u.Path += "/v2/storage"
	if first, _, _ := strings.Cut(r.path, "/"); c.branch != 0 && branchScoped[first] {
		u.Path += "/branch/" + strconv.FormatInt(c.branch, 10)
	}
	if r.path != "" {
		u.Path += "/" + r.path
	}
	u.RawPath = ""
	u.RawQuery = r.query.Encode()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u.String(), reader)
	if err != nil {
		return fmt.Errorf("%s: %w", r.op(), err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		req.Header.Set("X-StorageApi-Token", c.cfg.Token)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return attemptError(ctx, actx, r.op(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return attemptError(ctx, actx, r.op(), err)
	}
	if resp.StatusCode >= 400 {
		return storageError(r.op(), resp, data)
	}
	switch out := r.out.(type) {
	case nil:
	case *[]byte:
		*out = data
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decode response: %w", r.op(), err)
		}
	}
	return nil
}

// attemptError classifies a failed round trip: the caller's cancellation, an attempt
// timeout (retried) or a transport failure (retried).
func attemptError(ctx, actx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, context.Cause(ctx))
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return fmt.Errorf("%s: %w", op, errAttemptTimeout)
	}
	return fmt.Errorf("%s: %w: %w", op, errTransport, err)
}

// storageError decodes the Storage error body {error, code, exceptionId} or the
// maintenance body {status, reason}.
func storageError(op string, resp *http.Response, data []byte) *Error {
	var body struct {
		Error       string `json:"error"`
		Code        string `json:"code"`
		ExceptionID string `json:"exceptionId"`
		Reason      string `json:"reason"`
	}
	_ = json.Unmarshal(data, &body) // a non-JSON body still yields the status
	e := &Error{
		Op:         op,
		StatusCode: resp.StatusCode,
		Code:       body.Code,
		Message:    body.Error,
		RequestID:  resp.Header.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if e.Message == "" {
		e.Message = body.Reason
	}
	if e.Message == "" && len(data) > 0 && len(data) < 512 && body.Code == "" {
		e.Message = strings.TrimSpace(string(data))
	}
	if e.RequestID == "" {
		e.RequestID = body.ExceptionID
	}
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or unparsable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// pathf formats a path below /v2/storage, escaping each argument as one path segment.
func pathf(format string, args ...any) string {
	escaped := make([]any, len(args))
	for i, a := range args {
		escaped[i] = url.PathEscape(fmt.Sprint(a))
	}
	return fmt.Sprintf(format, escaped...)
}
