package storageapi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// azureAPIVersion is the x-ms-version sent with Put Blob.
const azureAPIVersion = "2021-08-06"

// azureBackend uploads with Put Blob to {BlobEndpoint}/{container}/{blob}?{SAS}.
type azureBackend struct {
	c        *Client
	p        *ABSUploadParams
	endpoint string // BlobEndpoint without a trailing slash
	sas      string // SharedAccessSignature query string
}

func newAzureBackend(c *Client, p *ABSUploadParams) (*azureBackend, error) {
	endpoint, sas, err := ParseSASConnectionString(p.Credentials.SASConnectionString)
	if err != nil {
		return nil, err
	}
	return &azureBackend{c: c, p: p, endpoint: strings.TrimRight(endpoint, "/"), sas: sas}, nil
}

// ParseSASConnectionString splits "BlobEndpoint=...;SharedAccessSignature=..." (pairs
// separated by ";", each split at its first "=") and returns both required values.
func ParseSASConnectionString(s string) (blobEndpoint, sas string, err error) {
	for _, part := range strings.Split(s, ";") {
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "BlobEndpoint":
			blobEndpoint = value
		case "SharedAccessSignature":
			sas = value
		}
	}
	if blobEndpoint == "" || sas == "" {
		return "", "", fmt.Errorf("azure SAS connection string: BlobEndpoint and SharedAccessSignature are required")
	}
	return blobEndpoint, strings.TrimPrefix(sas, "?"), nil
}

func (a *azureBackend) name() string   { return "azure" }
func (a *azureBackend) prefix() string { return a.p.BlobName }

func (a *azureBackend) url(object string) string {
	return "azure://" + a.p.AccountName + ".blob.core.windows.net/" + a.p.Container + "/" + object
}

func (a *azureBackend) put(ctx context.Context, object string, body io.Reader, size int64, contentType string) error {
	u := a.endpoint + "/" + url.PathEscape(a.p.Container) + "/" + escapeObjectPath(object) + "?" + a.sas
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
	if err != nil {
		return &Error{Op: "azure put blob " + object, Message: err.Error()}
	}
	req.ContentLength = size
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("x-ms-version", azureAPIVersion)
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("x-ms-blob-content-type", contentType)
	req.Header.Set("Content-Type", contentType)
	resp, data, err := a.c.send(req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		return nil
	}
	var body2 struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(data, &body2) // the status and headers suffice when the body is not XML
	e := &Error{
		Op:         "azure put blob " + object,
		StatusCode: resp.StatusCode,
		Code:       resp.Header.Get("x-ms-error-code"),
		Message:    strings.TrimSpace(body2.Message),
		RequestID:  resp.Header.Get("x-ms-request-id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if e.Code == "" {
		e.Code = body2.Code
	}
	return e
}

// send performs one request and reads a bounded response body. A transport error names the
// URL without its query, which holds an upload credential (an Azure SAS): errors get logged.
func (c *Client) send(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			u := *req.URL
			u.RawQuery, u.User = "", nil
			err = &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// escapeObjectPath escapes each "/"-separated segment of an object name.
func escapeObjectPath(object string) string {
	parts := strings.Split(object, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
