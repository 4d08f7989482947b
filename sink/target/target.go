// Package target is the third level of a sink: a staging file is imported into the table by
// a Storage import job, and the job is tracked until it finishes.
//
// Invariants:
//   - The table (and its bucket) is created when missing, with every mapping column (STRING)
//     and the mapping's primary key. A table whose columns or primary key differ is an error
//     naming the differences (storageapi.ErrColumnsMismatch) and nothing is imported.
//   - Imports are incremental, without headers, with the mapping's column names.
//   - Start returns the job id before anything waits on it; the caller persists it, so that
//     after a crash Wait re-polls the same job instead of importing twice.
//   - ShouldImport is Keboola's shouldImport, evaluated on a file's total statistics.
package target

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kbridge/kbridge/sink/retry"
	"github.com/kbridge/kbridge/storageapi"
)

// Config is the operator configuration of the target level.
type Config struct {
	// MinInterval is target.import.minInterval: a file younger than this is not imported.
	MinInterval time.Duration `json:"minInterval" yaml:"minInterval"`
	// MaxSlices is target.import.maxSlices: a file with this many slices is imported even
	// when the sink is throttled.
	MaxSlices int `json:"maxSlices" yaml:"maxSlices"`
	// JobLimit is sink.table.keboola.jobLimit: unfinished import jobs per sink.
	JobLimit int `json:"jobLimit" yaml:"jobLimit"`
	// ImportTimeout bounds one wait for a job; a job still running is re-polled later.
	ImportTimeout time.Duration `json:"importTimeout" yaml:"importTimeout"`
	// Backoff spaces the attempts of a failed upload or import.
	Backoff retry.Backoff `json:"backoff" yaml:"backoff"`
}

// DefaultConfig returns Keboola's defaults.
func DefaultConfig() Config {
	return Config{MinInterval: time.Minute, MaxSlices: 100, JobLimit: 2, ImportTimeout: 15 * time.Minute,
		Backoff: retry.DefaultBackoff()}
}

// Validate names every bad key.
func (c Config) Validate() error {
	var errs []error
	if c.MinInterval < 0 {
		errs = append(errs, fmt.Errorf("minInterval: must not be negative, got %s", c.MinInterval))
	}
	if c.MaxSlices < 1 || c.MaxSlices > 1000 {
		errs = append(errs, fmt.Errorf("maxSlices: must be between 1 and 1000, got %d", c.MaxSlices))
	}
	if c.JobLimit < 1 || c.JobLimit > 100 {
		errs = append(errs, fmt.Errorf("jobLimit: must be between 1 and 100, got %d", c.JobLimit))
	}
	if c.ImportTimeout <= 0 {
		errs = append(errs, fmt.Errorf("importTimeout: must be positive, got %s", c.ImportTimeout))
	}
	if err := c.Backoff.Validate("backoff"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Trigger is the import condition (storage.level.target.import.trigger.*).
type Trigger struct {
	Count       int64
	Size        int64
	Interval    time.Duration
	SlicesCount int
	Expiration  time.Duration
}

// FileStats is what ShouldImport looks at.
type FileStats struct {
	OpenedAt       time.Time
	Slices         int
	Records        int64
	CompressedSize int64
	// ExpiresAt is when the staging credentials expire; zero when no staging file exists yet.
	ExpiresAt time.Time
}

// ShouldImport decides whether a file is closed and imported now. Throttled means the sink
// already has JobLimit unfinished jobs; only the slice limit and expiring credentials
// override it. When the answer is no, next is when time alone may change it (zero: only new
// records can).
func ShouldImport(cfg Config, tr Trigger, st FileStats, now time.Time, throttled bool) (ok bool, next time.Time) {
	age := now.Sub(st.OpenedAt)
	expiring := !st.ExpiresAt.IsZero() && st.ExpiresAt.Sub(now) <= tr.Expiration
	switch {
	case st.Slices >= cfg.MaxSlices:
		return true, time.Time{}
	case age < cfg.MinInterval:
		return false, st.OpenedAt.Add(cfg.MinInterval)
	case expiring && st.Records > 0:
		return true, time.Time{}
	case throttled:
		return false, time.Time{}
	case st.Slices >= tr.SlicesCount && st.Records > 0:
		return true, time.Time{}
	case st.Records == 0:
		return false, time.Time{}
	case st.Records >= tr.Count, st.CompressedSize >= tr.Size, age >= tr.Interval:
		return true, time.Time{}
	}
	next = st.OpenedAt.Add(tr.Interval)
	if !st.ExpiresAt.IsZero() && st.ExpiresAt.Add(-tr.Expiration).Before(next) {
		next = st.ExpiresAt.Add(-tr.Expiration)
	}
	return false, next
}

// Table is the destination of a sink.
type Table struct {
	ID         string
	Columns    []string
	PrimaryKey []string
}

// Importer imports staging files into tables; safe for concurrent use.
type Importer struct{ client *storageapi.Client }

// NewImporter returns an importer.
func NewImporter(client *storageapi.Client) *Importer { return &Importer{client: client} }

// EnsureTable creates the bucket and table when missing and checks an existing table's
// columns and primary key. A table that lacks some of the columns (a mapping that grew) gets
// them added (tableColumnAdd, STRING on a typed table). Columns of the table the mapping does
// not write are allowed when extra is true (incremental imports leave them empty: a mapping
// that shrank, or rows of a file written before the table grew). Any other difference is a
// *storageapi.ColumnsMismatchError.
func (im *Importer) EnsureTable(ctx context.Context, t Table, extra bool) error {
	tbl, err := im.client.GetTable(ctx, t.ID)
	if err == nil {
		return im.grow(ctx, tbl, t, extra)
	}
	if !errors.Is(err, storageapi.ErrNotFound) {
		return err
	}
	stage, bucket, name, err := splitTableID(t.ID)
	if err != nil {
		return err
	}
	bucketID := storageapi.BucketID(stage, bucket)
	if _, err := im.client.GetBucket(ctx, bucketID); errors.Is(err, storageapi.ErrNotFound) {
		_, err = im.client.CreateBucket(ctx, storageapi.CreateBucketRequest{Stage: stage, Name: bucket})
		if err != nil && !errors.Is(err, storageapi.ErrAlreadyExists) {
			return err
		}
	} else if err != nil {
		return err
	}
	_, err = im.client.CreateTable(ctx, bucketID, storageapi.CreateTableRequest{Name: name, Columns: t.Columns, PrimaryKey: t.PrimaryKey})
	if alreadyExists(err) {
		tbl, err := im.client.GetTable(ctx, t.ID)
		if err != nil {
			return err
		}
		return im.grow(ctx, tbl, t, extra)
	}
	return err
}

// grow adds the columns a table lacks when that is its only difference from t.
func (im *Importer) grow(ctx context.Context, tbl *storageapi.Table, t Table, extra bool) error {
	err := tbl.CheckColumns(t.Columns, t.PrimaryKey)
	var mismatch *storageapi.ColumnsMismatchError
	if !errors.As(err, &mismatch) || len(mismatch.Unexpected) > 0 && !extra || mismatch.PrimaryKey != nil || mismatch.WantPrimaryKey != nil {
		return err
	}
	baseType := ""
	if tbl.IsTyped || tbl.Definition != nil {
		baseType = "STRING"
	}
	for _, c := range mismatch.Missing {
		if err := im.client.AddColumn(ctx, t.ID, c, baseType); err != nil {
			return err
		}
	}
	return nil
}

// Metadata keys Keboola's stream service puts on the tables of its sinks (provider "stream").
const (
	MetadataProvider  = "stream"
	MetadataSinkKey   = "KBC.stream.sink.id"
	MetadataSourceKey = "KBC.stream.source.id"
)

// MarkTable puts the stream metadata naming the sink and its source on the table, unless it
// already carries exactly those values.
func (im *Importer) MarkTable(ctx context.Context, tableID, sourceID, sinkID string) error {
	tbl, err := im.client.GetTable(ctx, tableID)
	if err != nil {
		return err
	}
	found := 0
	for _, m := range tbl.Metadata {
		if m.Key == MetadataSinkKey && m.Value == sinkID || m.Key == MetadataSourceKey && m.Value == sourceID {
			found++
		}
	}
	if found == 2 {
		return nil
	}
	return im.client.SetTableMetadata(ctx, tableID, MetadataProvider, map[string]string{MetadataSinkKey: sinkID, MetadataSourceKey: sourceID})
}

// alreadyExists: the create was refused, or its job failed, because the table exists.
func alreadyExists(err error) bool {
	var je *storageapi.JobError
	return errors.Is(err, storageapi.ErrAlreadyExists) ||
		errors.As(err, &je) && strings.HasSuffix(strings.ToLower(je.Code), "alreadyexists")
}

// splitTableID splits "in.c-bucket.table" into stage, bucket name and table name.
func splitTableID(id string) (stage, bucket, table string, err error) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "c-") || parts[2] == "" || (parts[0] != "in" && parts[0] != "out") {
		return "", "", "", fmt.Errorf("table id %q: want in|out.c-<bucket>.<table>", id)
	}
	return parts[0], strings.TrimPrefix(parts[1], "c-"), parts[2], nil
}

// storageName is what Storage takes as a bucket or table name: 1 to 96 ASCII letters, digits,
// dashes and underscores.
var storageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,96}$`)

// ValidateTableID checks a table id as Storage will when the table is created: its shape, and
// bucket and table names it takes, so a sink is refused at once rather than failing every import.
func ValidateTableID(id string) error {
	_, bucket, table, err := splitTableID(id)
	if err != nil {
		return err
	}
	for _, n := range []struct{ what, name string }{{"bucket", bucket}, {"table", table}} {
		if !storageName.MatchString(n.name) {
			return fmt.Errorf("table id %q: the %s name %q: want 1 to 96 letters, digits, dashes and underscores (Storage's rule)",
				id, n.what, n.name)
		}
	}
	return nil
}

// Start creates the import job of a staging file and returns its id.
func (im *Importer) Start(ctx context.Context, t Table, fileID int64) (int64, error) {
	job, err := im.client.ImportFile(ctx, t.ID, fileID, storageapi.ImportOptions{
		Incremental: true, WithoutHeaders: true, Columns: t.Columns,
	})
	if err != nil {
		return 0, err
	}
	return job.ID, nil
}

// jobsSearched is how many of the project's most recent jobs FindImport looks through.
const jobsSearched = 500

// FindImport looks for an import job of the staging file into the table among the project's
// recent jobs: the outcome of a Start whose answer was lost (a crash before the job's id was
// persisted). found is false when Storage has no such job, so starting one imports once.
func (im *Importer) FindImport(ctx context.Context, t Table, fileID int64) (jobID int64, found bool, err error) {
	jobs, err := im.client.ListJobs(ctx, jobsSearched)
	if err != nil {
		return 0, false, err
	}
	for _, j := range jobs {
		if j.TableID == t.ID && j.ImportedFileID() == fileID {
			return j.ID, true, nil
		}
	}
	return 0, false, nil
}

// Wait polls the job until it finishes or timeout passes. A failed job matches
// storageapi.ErrJobFailed; a timeout matches context.DeadlineExceeded and the job may still
// finish.
func (im *Importer) Wait(ctx context.Context, jobID int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := im.client.WaitForJob(ctx, jobID)
	return err
}

// DeleteFile removes a staging file (an empty one, never imported).
func (im *Importer) DeleteFile(ctx context.Context, fileID int64) error {
	return im.client.DeleteFile(ctx, fileID)
}
