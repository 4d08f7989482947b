package storageapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// backend writes objects of one prepared file to its cloud store.
type backend interface {
	// put uploads one object in a single attempt; body holds exactly size bytes.
	put(ctx context.Context, object string, body io.Reader, size int64, contentType string) error
	// prefix is the prepared key or blob name; slice objects are prefix+sliceName.
	prefix() string
	// url is the manifest entry for an object.
	url(object string) string
	// name is the backend's name in error messages.
	name() string
}

func (c *Client) backend(f *File) (backend, error) { return newBackend(c, f) }

// newBackend picks the backend of the file's provider; c may be nil when nothing is sent.
func newBackend(c *Client, f *File) (backend, error) {
	switch {
	case f.ABSUploadParams != nil:
		return newAzureBackend(c, f.ABSUploadParams)
	case f.GCSUploadParams != nil:
		return &gcsBackend{c: c, p: f.GCSUploadParams}, nil
	case f.S3UploadParams != nil:
		return &s3Backend{c: c, p: f.S3UploadParams, region: f.Region}, nil
	}
	return nil, fmt.Errorf("file %d: no upload parameters for provider %q (prepare the file to get them)", f.ID, f.Provider)
}

// Upload writes the content of a non-sliced file.
func (c *Client) Upload(ctx context.Context, f *File, body io.ReaderAt, size int64, contentType string) error {
	b, err := c.backend(f)
	if err != nil {
		return err
	}
	if err := c.upload(ctx, f, b, b.prefix(), body, size, contentType); err != nil {
		return fmt.Errorf("upload file %d: %w", f.ID, err)
	}
	return nil
}

// UploadSlice writes one slice of a sliced file as object {key}{sliceName}. Gzipped
// slices must have names ending in ".gz". Empty slices should not be uploaded.
func (c *Client) UploadSlice(ctx context.Context, f *File, sliceName string, body io.ReaderAt, size int64) error {
	b, err := c.backend(f)
	if err != nil {
		return err
	}
	if err := c.upload(ctx, f, b, b.prefix()+sliceName, body, size, "text/csv"); err != nil {
		return fmt.Errorf("upload slice %s of file %d: %w", sliceName, f.ID, err)
	}
	return nil
}

// UploadManifest (re)writes the manifest of a sliced file listing sliceNames in order.
// It replaces the previous manifest, so it must always list every uploaded slice.
func (c *Client) UploadManifest(ctx context.Context, f *File, sliceNames []string) error {
	b, err := c.backend(f)
	if err != nil {
		return err
	}
	data, err := Manifest(f, sliceNames)
	if err != nil {
		return err
	}
	if err := c.upload(ctx, f, b, b.prefix()+"manifest", bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		return fmt.Errorf("upload manifest of file %d: %w", f.ID, err)
	}
	return nil
}

// Manifest renders the manifest of a sliced file: {"entries":[{"url": ...}, ...]}.
func Manifest(f *File, sliceNames []string) ([]byte, error) {
	b, err := newBackend(nil, f)
	if err != nil {
		return nil, err
	}
	type entry struct {
		URL string `json:"url"`
	}
	m := struct {
		Entries []entry `json:"entries"`
	}{Entries: make([]entry, 0, len(sliceNames))}
	for _, name := range sliceNames {
		m.Entries = append(m.Entries, entry{URL: b.url(b.prefix() + name)})
	}
	return json.Marshal(m)
}

// upload runs put with retries; each attempt reads the body afresh from offset 0.
func (c *Client) upload(ctx context.Context, f *File, b backend, object string, body io.ReaderAt, size int64, contentType string) error {
	if exp := f.CredentialsExpiration(); !exp.IsZero() && !c.now().Before(exp) {
		return fmt.Errorf("%s upload of %s: credentials expired at %s: %w", b.name(), object, exp.Format("2006-01-02T15:04:05Z07:00"), ErrCredentialsExpired)
	}
	_, err := c.withRetry(ctx, IsRetryable, func(ctx context.Context) error {
		actx, cancel := context.WithTimeoutCause(ctx, c.cfg.UploadTimeout, errAttemptTimeout)
		defer cancel()
		err := b.put(actx, object, io.NewSectionReader(body, 0, size), size, contentType)
		var apiErr *Error
		if err == nil || errors.As(err, &apiErr) {
			return err
		}
		return attemptError(ctx, actx, b.name()+" upload "+object, err)
	})
	return err
}
