package storageapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Bucket is a Storage bucket. Its ID is "<stage>.c-<name>".
type Bucket struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Stage       string `json:"stage"`
	Description string `json:"description"`
	Backend     string `json:"backend"`
	Created     Time   `json:"created"`
}

// CreateBucketRequest names a new bucket. Name is given without the "c-" prefix that
// Storage adds; a leading "c-" is stripped. Stage is "in" (default) or "out".
type CreateBucketRequest struct {
	Stage       string `json:"stage"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description"`
}

// BucketID is the id Storage gives a bucket created with stage and name.
func BucketID(stage, name string) string {
	if stage == "" {
		stage = "in"
	}
	return stage + ".c-" + strings.TrimPrefix(name, "c-")
}

// GetBucket reads a bucket; a missing bucket is ErrNotFound.
func (c *Client) GetBucket(ctx context.Context, bucketID string) (*Bucket, error) {
	var b Bucket
	if _, err := c.do(ctx, call{method: http.MethodGet, path: pathf("buckets/%s", bucketID), out: &b}); err != nil {
		return nil, fmt.Errorf("get bucket %s: %w", bucketID, err)
	}
	return &b, nil
}

// ListBuckets lists the buckets the token can see.
func (c *Client) ListBuckets(ctx context.Context) ([]Bucket, error) {
	var out []Bucket
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "buckets", out: &out}); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return out, nil
}

// CreateBucket creates a bucket. An existing bucket is ErrAlreadyExists, except when the
// create was retried: then the earlier attempt succeeded and the bucket is read back.
func (c *Client) CreateBucket(ctx context.Context, req CreateBucketRequest) (*Bucket, error) {
	if req.Stage == "" {
		req.Stage = "in"
	}
	req.Name = strings.TrimPrefix(req.Name, "c-")
	id := BucketID(req.Stage, req.Name)
	// As go-client does: Storage prefixes the name with "c-" unless the stack has the
	// feature disable-legacy-bucket-prefix, then the prefix is sent, so the id is the same.
	idx, err := c.Stack(ctx)
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", id, err)
	}
	if idx.HasFeature(FeatureNoBucketPrefix) {
		req.Name = "c-" + req.Name
	}
	var b Bucket
	retried, err := c.do(ctx, call{method: http.MethodPost, path: "buckets", body: req, out: &b})
	if err == nil && b.ID != id {
		return nil, fmt.Errorf("create bucket %s: Storage created %s", id, b.ID)
	}
	if err != nil && retried && errors.Is(err, ErrAlreadyExists) {
		return c.GetBucket(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", id, err)
	}
	return &b, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
