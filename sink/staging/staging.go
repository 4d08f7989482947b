// Package staging is the second level of a sink: closed slices are uploaded into the sink's
// Keboola sliced file, and the file's manifest is rewritten after every slice so that the
// file is importable at any moment.
//
// Invariants:
//   - A slice is uploaded whole from its closed data file; bytes are sent as stored (gzip
//     stays gzip), under the object name the manifest lists.
//   - The manifest always lists every non-empty slice uploaded so far, in upload order.
//   - Empty slices are never uploaded.
//   - ShouldUpload is Keboola's shouldUpload, evaluated on the local statistics of a slice.
package staging

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kbridge/kbridge/sink/local"
	"github.com/kbridge/kbridge/storageapi"
)

// Config is the operator configuration of the staging level.
type Config struct {
	// MinInterval is staging.upload.minInterval: a slice younger than this is not uploaded.
	MinInterval time.Duration `json:"minInterval" yaml:"minInterval"`
}

// DefaultConfig returns Keboola's defaults.
func DefaultConfig() Config { return Config{MinInterval: 10 * time.Second} }

// Validate names a bad key.
func (c Config) Validate() error {
	if c.MinInterval < 0 {
		return fmt.Errorf("minInterval: must not be negative, got %s", c.MinInterval)
	}
	return nil
}

// Trigger is the user-settable upload condition (storage.level.staging.upload.trigger.*).
type Trigger struct {
	Count    int64
	Size     int64
	Interval time.Duration
}

// ShouldUpload decides whether the slice opened at openedAt with statistics st is closed and
// uploaded now. When it is not, next is the time at which the decision may change by time
// alone (zero when only new records can change it).
func ShouldUpload(cfg Config, tr Trigger, openedAt, now time.Time, st local.Stats) (ok bool, next time.Time) {
	age := now.Sub(openedAt)
	switch {
	case st.Records == 0:
		return false, time.Time{}
	case age < cfg.MinInterval:
		return false, openedAt.Add(cfg.MinInterval)
	case st.Records >= tr.Count, st.CompressedSize >= tr.Size, age >= tr.Interval:
		return true, time.Time{}
	}
	return false, openedAt.Add(tr.Interval)
}

// Uploader uploads slices with one Storage API client; safe for concurrent use.
type Uploader struct{ client *storageapi.Client }

// NewUploader returns an uploader.
func NewUploader(client *storageapi.Client) *Uploader { return &Uploader{client: client} }

// Prepare creates the sliced staging file of a sink file.
func (u *Uploader) Prepare(ctx context.Context, name string, tags []string) (*storageapi.File, error) {
	f, err := u.client.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: name, Tags: tags, IsSliced: true})
	if err != nil {
		return nil, fmt.Errorf("prepare staging file %s: %w", name, err)
	}
	return f, nil
}

// Upload sends the data file at path as object name of f, then rewrites the manifest so that
// it lists done (the names uploaded before) followed by name.
func (u *Uploader) Upload(ctx context.Context, f *storageapi.File, name, path string, done []string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload slice %s: %w", name, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("upload slice %s: %w", name, err)
	}
	if err := u.client.UploadSlice(ctx, f, name, file, info.Size()); err != nil {
		return err
	}
	names := append(append(make([]string, 0, len(done)+1), done...), name)
	return u.client.UploadManifest(ctx, f, names)
}

// Delete removes a staging file that turned out empty.
func (u *Uploader) Delete(ctx context.Context, fileID int64) error {
	return u.client.DeleteFile(ctx, fileID)
}
