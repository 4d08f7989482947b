package storageapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Index is the stack index (GET /v2/storage).
type Index struct {
	API      string    `json:"api"`
	Version  string    `json:"version"`
	Services []Service `json:"services"`
	Features []string  `json:"features"`
}

// Service is one entry of the index's service list.
type Service struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// HasFeature reports whether the stack has the feature.
func (i *Index) HasFeature(name string) bool {
	for _, f := range i.Features {
		if f == name {
			return true
		}
	}
	return false
}

// Token is a Storage API token as verify and create return it.
type Token struct {
	ID                    string            `json:"id"`
	Token                 string            `json:"token,omitempty"` // the secret; only in the create response
	Description           string            `json:"description"`
	Created               Time              `json:"created"`
	Expires               Time              `json:"expires"`
	IsMasterToken         bool              `json:"isMasterToken"`
	CanManageBuckets      bool              `json:"canManageBuckets"`
	CanManageTokens       bool              `json:"canManageTokens"`
	CanReadAllFileUploads bool              `json:"canReadAllFileUploads"`
	BucketPermissions     BucketPermissions `json:"bucketPermissions"`
	Owner                 TokenOwner        `json:"owner"`
}

// TokenOwner is the project the token belongs to.
type TokenOwner struct {
	ID                  int64    `json:"id"`
	Name                string   `json:"name"`
	DefaultBackend      string   `json:"defaultBackend"`
	FileStorageProvider string   `json:"fileStorageProvider"`
	Features            []string `json:"features"`
}

// BucketPermissions maps a bucket id to "read", "write" or "manage". Storage sends an
// empty JSON array instead of an empty object; both decode to an empty map.
type BucketPermissions map[string]string

// UnmarshalJSON accepts an object or an empty array.
func (p *BucketPermissions) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		*p = BucketPermissions{}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("bucketPermissions: %w", err)
	}
	*p = m
	return nil
}

// ProjectID is the id of the token's project.
func (t *Token) ProjectID() int64 { return t.Owner.ID }

// CanWriteBucket reports whether the token may write into the bucket.
func (t *Token) CanWriteBucket(bucketID string) bool {
	if t.IsMasterToken {
		return true
	}
	p := t.BucketPermissions[bucketID]
	return p == "write" || p == "manage"
}

// Index reads the stack index without a token; components are excluded.
func (c *Client) Index(ctx context.Context) (*Index, error) {
	var idx Index
	_, err := c.do(ctx, call{method: http.MethodGet, query: url.Values{"exclude": {"components"}}, noAuth: true, out: &idx})
	if err != nil {
		return nil, fmt.Errorf("read stack index: %w", err)
	}
	return &idx, nil
}

// VerifyToken returns the client's token with its project and permissions.
func (c *Client) VerifyToken(ctx context.Context) (*Token, error) {
	var t Token
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "tokens/verify", out: &t}); err != nil {
		return nil, fmt.Errorf("verify token: %w", err)
	}
	return &t, nil
}

// CreateTokenRequest describes a scoped token.
type CreateTokenRequest struct {
	Description           string            `json:"description"`
	BucketPermissions     map[string]string `json:"bucketPermissions,omitempty"`
	CanManageBuckets      bool              `json:"canManageBuckets"`
	CanReadAllFileUploads bool              `json:"canReadAllFileUploads"`
	ExpiresIn             int64             `json:"expiresIn,omitempty"` // seconds; 0 never expires
}

// CreateToken creates a token; the returned Token.Token is the secret.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*Token, error) {
	var t Token
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "tokens", body: req, out: &t}); err != nil {
		return nil, fmt.Errorf("create token %q: %w", req.Description, err)
	}
	return &t, nil
}

// DeleteToken deletes a token; a token that is already gone is not an error.
func (c *Client) DeleteToken(ctx context.Context, tokenID string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: pathf("tokens/%s", tokenID)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete token %s: %w", tokenID, err)
	}
	return nil
}
