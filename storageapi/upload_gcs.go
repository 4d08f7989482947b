package storageapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// gcsBackend uploads with the GCS JSON API simple media upload and a bearer token:
// POST {endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={key}.
type gcsBackend struct {
	c *Client
	p *GCSUploadParams
}

func (g *gcsBackend) name() string             { return "gcs" }
func (g *gcsBackend) prefix() string           { return g.p.Key }
func (g *gcsBackend) url(object string) string { return "gs://" + g.p.Bucket + "/" + object }

func (g *gcsBackend) put(ctx context.Context, object string, body io.Reader, size int64, contentType string) error {
	q := url.Values{"uploadType": {"media"}, "name": {object}}
	u := strings.TrimRight(g.c.cfg.GCSEndpoint, "/") + "/upload/storage/v1/b/" + url.PathEscape(g.p.Bucket) + "/o?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return &Error{Op: "gcs upload " + object, Message: err.Error()}
	}
	req.ContentLength = size
	tokenType := g.p.TokenType
	if tokenType == "" {
		tokenType = "Bearer"
	}
	req.Header.Set("Authorization", tokenType+" "+g.p.AccessToken)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	resp, data, err := g.c.send(req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		return nil
	}
	var body2 struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &body2) // the status suffices when the body is not JSON
	e := &Error{
		Op:         "gcs upload " + object,
		StatusCode: resp.StatusCode,
		Message:    body2.Error.Message,
		RequestID:  resp.Header.Get("X-GUploader-UploadID"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if len(body2.Error.Errors) > 0 {
		e.Code = body2.Error.Errors[0].Reason
	}
	return e
}
