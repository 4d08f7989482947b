package storageapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Upload providers, as in File.Provider.
const (
	ProviderAWS   = "aws"
	ProviderAzure = "azure"
	ProviderGCP   = "gcp"
)

// File is a Storage file. After PrepareFile exactly one of the upload parameter blocks
// is set, chosen by Provider.
type File struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Created     Time     `json:"created"`
	IsSliced    bool     `json:"isSliced"`
	IsEncrypted bool     `json:"isEncrypted"`
	IsPublic    bool     `json:"isPublic"`
	Provider    string   `json:"provider"`
	Region      string   `json:"region"`
	SizeBytes   int64    `json:"sizeBytes"`
	URL         string   `json:"url"`
	Tags        []string `json:"tags"`
	MaxAgeDays  int      `json:"maxAgeDays"`

	S3UploadParams  *S3UploadParams  `json:"uploadParams,omitempty"`
	ABSUploadParams *ABSUploadParams `json:"absUploadParams,omitempty"`
	GCSUploadParams *GCSUploadParams `json:"gcsUploadParams,omitempty"`
}

// S3UploadParams are the AWS upload parameters: STS credentials for s3://{Bucket}/{Key}.
type S3UploadParams struct {
	Key                  string        `json:"key"`
	Bucket               string        `json:"bucket"`
	ACL                  string        `json:"acl"`
	ServerSideEncryption string        `json:"x-amz-server-side-encryption"`
	Credentials          S3Credentials `json:"credentials"`
}

// S3Credentials are temporary AWS credentials.
type S3Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      Time   `json:"Expiration"`
}

// ABSUploadParams are the Azure Blob upload parameters: a container-scoped SAS.
type ABSUploadParams struct {
	BlobName    string         `json:"blobName"`
	AccountName string         `json:"accountName"`
	Container   string         `json:"container"`
	Credentials ABSCredentials `json:"absCredentials"`
}

// ABSCredentials hold "BlobEndpoint=...;SharedAccessSignature=..." and its expiry.
type ABSCredentials struct {
	SASConnectionString string `json:"SASConnectionString"`
	Expiration          Time   `json:"expiration"`
}

// GCSUploadParams are the Google Cloud Storage upload parameters: an OAuth2 bearer token.
type GCSUploadParams struct {
	ProjectID   string `json:"projectId"`
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// CredentialsExpiration is when the upload credentials stop working; zero if unknown.
func (f *File) CredentialsExpiration() time.Time {
	switch {
	case f.S3UploadParams != nil:
		return f.S3UploadParams.Credentials.Expiration.Time
	case f.ABSUploadParams != nil:
		return f.ABSUploadParams.Credentials.Expiration.Time
	case f.GCSUploadParams != nil && !f.Created.IsZero():
		return f.Created.Add(time.Duration(f.GCSUploadParams.ExpiresIn) * time.Second)
	}
	return time.Time{}
}

// PrepareFileRequest describes a file to upload.
type PrepareFileRequest struct {
	Name        string
	Tags        []string
	IsSliced    bool
	IsPermanent bool
	SizeBytes   int64
	ContentType string
}

// PrepareFile creates a file resource and returns it with upload credentials.
func (c *Client) PrepareFile(ctx context.Context, req PrepareFileRequest) (*File, error) {
	body := map[string]any{"name": req.Name, "federationToken": true, "isEncrypted": true, "tags": req.Tags}
	if req.IsSliced {
		body["isSliced"] = true
	}
	if req.IsPermanent {
		body["isPermanent"] = true
	}
	if req.SizeBytes > 0 {
		body["sizeBytes"] = req.SizeBytes
	}
	if req.ContentType != "" {
		body["contentType"] = req.ContentType
	}
	var f File
	if _, err := c.do(ctx, call{method: http.MethodPost, path: "files/prepare", body: body, out: &f}); err != nil {
		return nil, fmt.Errorf("prepare file %s: %w", req.Name, err)
	}
	return &f, nil
}

// GetFile reads a file without credentials; a missing file is ErrNotFound.
func (c *Client) GetFile(ctx context.Context, fileID int64) (*File, error) {
	var f File
	if _, err := c.do(ctx, call{method: http.MethodGet, path: pathf("files/%s", fileID), out: &f}); err != nil {
		return nil, fmt.Errorf("get file %d: %w", fileID, err)
	}
	return &f, nil
}

// DeleteFile deletes a file. A missing file is not an error: the file index is
// eventually consistent and a retried delete may see its own earlier success.
func (c *Client) DeleteFile(ctx context.Context, fileID int64) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: pathf("files/%s", fileID)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete file %d: %w", fileID, err)
	}
	return nil
}

// ListFilesRequest filters a file listing. Files having any of Tags are listed.
type ListFilesRequest struct {
	Tags  []string
	Limit int // 0 means 200
}

// ListFiles lists files, newest first. Storage may take a second to list a new file.
func (c *Client) ListFiles(ctx context.Context, req ListFilesRequest) ([]File, error) {
	q := url.Values{"limit": {"200"}}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	for _, tag := range req.Tags {
		q.Add("tags[]", tag)
	}
	var out []File
	if _, err := c.do(ctx, call{method: http.MethodGet, path: "files", query: q, out: &out}); err != nil {
		return nil, fmt.Errorf("list files %v: %w", req.Tags, err)
	}
	return out, nil
}
