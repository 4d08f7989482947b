package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink/target"
	"github.com/kbridge/kbridge/storageapi"
)

// provisionTimeout bounds the Storage calls that prepare a sink definition (branch check,
// table, metadata, token) before it is stored.
const provisionTimeout = 2 * time.Minute

// SinkToken is a sink's own Storage token, as Keboola's stream service makes one per sink:
// write access to the table's bucket only, described "[_internal] Stream Sink <source>/<sink>".
// Uploads and imports of the sink use it. It lives in the sink's definition record, which is
// sealed at rest like the other secrets, and is never shown by the APIs nor kept in versions.
type SinkToken struct {
	ID       string `json:"id"`
	Secret   string `json:"secret"`
	BucketID string `json:"bucketId"`
}

// SinkTokenDescription is the description Keboola gives a sink's token.
func SinkTokenDescription(k SinkKey) string {
	return fmt.Sprintf("[_internal] Stream Sink %s/%s", k.SourceID, k.SinkID)
}

// TableError is a sink whose table exists with other columns or another primary key: the sink
// is refused at creation, as Keboola refuses it, naming the differences.
type TableError struct {
	Sink SinkKey
	Err  error // a *storageapi.ColumnsMismatchError
}

func (e *TableError) Error() string { return fmt.Sprintf("sink %s: %v", e.Sink.SinkID, e.Err) }
func (e *TableError) Unwrap() error { return e.Err }

// ErrBranchNotFound: the branch of a source or sink does not exist in the Storage project.
var ErrBranchNotFound = errors.New("branch not found")

// branchClient is the Storage client (master token) of a branch of the project, checked to
// exist once and then kept: the default branch's id gives the legacy paths.
func (m *Manager) branchClient(ctx context.Context, branchID int64) (*storageapi.Client, error) {
	m.branchMu.Lock()
	defer m.branchMu.Unlock()
	if c, ok := m.branches[branchID]; ok {
		return c, nil
	}
	c, err := m.storage.BranchOf(ctx, branchID)
	if errors.Is(err, storageapi.ErrNotFound) {
		return nil, fmt.Errorf("branch %d: %w", branchID, ErrBranchNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("check branch %d: %w", branchID, err)
	}
	m.branches[branchID] = c
	return c, nil
}

// provision prepares Storage for def before it is stored, as Keboola's stream service does
// when a sink is created, updated, enabled or disabled:
//   - the branch must exist;
//   - an enabled sink's table is created when missing (bucket too), grown by the columns a
//     grown mapping adds, else checked: other columns or another primary key is a *TableError;
//     the table gets the KBC.stream.sink.id and KBC.stream.source.id metadata;
//   - an enabled sink that is new, re-enabled, moved to another bucket or has no token gets a
//     new token; a disabled sink's token is given up.
//
// def.Token is set to the token to store; retire is the previous token to delete once the
// definition is stored, created the new one to delete if storing fails.
func (m *Manager) provision(ctx context.Context, def *Sink, prev *Sink, mp *mapping.Mapping) (retire, created *SinkToken, err error) {
	if prev != nil {
		def.Token = prev.Token
	}
	client, err := m.branchClient(ctx, def.Key.BranchID)
	if err != nil {
		return nil, nil, err
	}
	if def.Disabled {
		retire, def.Token = def.Token, nil
		return retire, nil, nil
	}
	revived := prev == nil || prev.Deleted || prev.Disabled
	if revived || prev.TableID != def.TableID || !slices.Equal(prev.columnNames(), def.columnNames()) {
		im := target.NewImporter(client)
		t := target.Table{ID: def.TableID, Columns: mp.Names(), PrimaryKey: mp.PrimaryKey()}
		// A new sink needs the table's columns exactly (Keboola's rule); an updated one may
		// leave columns of the table it wrote before empty.
		if err := im.EnsureTable(ctx, t, prev != nil && !prev.Deleted); err != nil {
			if errors.Is(err, storageapi.ErrColumnsMismatch) {
				return nil, nil, &TableError{Sink: def.Key, Err: err}
			}
			return nil, nil, fmt.Errorf("sink %s: table %s: %w", def.Key.SinkID, def.TableID, err)
		}
		if err := im.MarkTable(ctx, def.TableID, def.Key.SourceID, def.Key.SinkID); err != nil {
			return nil, nil, fmt.Errorf("sink %s: table %s metadata: %w", def.Key.SinkID, def.TableID, err)
		}
	}
	bucketID := def.TableID[:strings.LastIndexByte(def.TableID, '.')]
	if !revived && def.Token != nil && def.Token.BucketID == bucketID {
		return nil, nil, nil
	}
	tok, err := newSinkToken(ctx, client, def.Key, bucketID)
	if err != nil {
		return nil, nil, err
	}
	retire, def.Token = def.Token, tok
	return retire, def.Token, nil
}

// newSinkToken creates a sink's token: write on its bucket, all file uploads readable (its
// imports read the files it uploaded under an earlier token).
func newSinkToken(ctx context.Context, client *storageapi.Client, k SinkKey, bucketID string) (*SinkToken, error) {
	tok, err := client.CreateToken(ctx, storageapi.CreateTokenRequest{
		Description:           SinkTokenDescription(k),
		BucketPermissions:     map[string]string{bucketID: "write"},
		CanReadAllFileUploads: true,
	})
	if err != nil {
		return nil, fmt.Errorf("sink %s: create its token: %w", k.SinkID, err)
	}
	return &SinkToken{ID: tok.ID, Secret: tok.Token, BucketID: bucketID}, nil
}

// issueTokens gives each sink that is live, enabled and without a token a new one (sinks
// undeleted). The definition's version does not change: the token is no part of its content.
// A failure is logged; such a sink uses the master token until it is next changed.
func (m *Manager) issueTokens(keys ...SinkKey) {
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	for _, k := range keys {
		if err := m.issueToken(ctx, k); err != nil {
			m.log.Warn("sink token not created; the sink uses the master token", "sink", k.String(), "error", err)
		}
	}
}

func (m *Manager) issueToken(ctx context.Context, k SinkKey) error {
	m.mu.RLock()
	def, found, err := m.sinkForPut(k)
	m.mu.RUnlock()
	if err != nil || !found || def.Deleted || def.Disabled || def.Token != nil {
		return err
	}
	client, err := m.branchClient(ctx, k.BranchID)
	if err != nil {
		return err
	}
	tok, err := newSinkToken(ctx, client, k, def.TableID[:strings.LastIndexByte(def.TableID, '.')])
	if err != nil {
		return err
	}
	stored, err := m.setToken(k, tok)
	if !stored {
		m.deleteTokens(tok)
	}
	return err
}

// setToken stores tok as the sink's token unless the sink changed meanwhile.
func (m *Manager) setToken(k SinkKey, tok *SinkToken) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sources[k.SourceKey]
	if ss == nil {
		return false, nil
	}
	i := slices.IndexFunc(ss.rec.Sinks, func(s Sink) bool { return s.Key == k })
	if i < 0 || ss.rec.Sinks[i].Deleted || ss.rec.Sinks[i].Disabled || ss.rec.Sinks[i].Token != nil {
		return false, nil
	}
	rec := ss.rec
	rec.Sinks = slices.Clone(rec.Sinks)
	rec.Sinks[i].Token = tok
	v, err := m.defs.save(&rec, ss.version)
	if err != nil {
		return false, err
	}
	ss.version = v
	ss.rec = rec
	if p := ss.pipes[k.SinkID]; p != nil {
		p.mu.Lock()
		p.def.Token = tok
		p.mu.Unlock()
	}
	return true, nil
}

// deleteTokens deletes tokens given up (a sink disabled, deleted, or given a new token). A
// failure is logged, as Keboola logs it: the token is no longer used either way.
func (m *Manager) deleteTokens(tokens ...*SinkToken) {
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	for _, t := range tokens {
		if t == nil {
			continue
		}
		if err := m.storage.DeleteToken(ctx, t.ID); err != nil {
			m.log.Warn("cannot delete a sink token", "token", t.ID, "error", err)
		}
	}
}

func (s *Sink) columnNames() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name + "\x00" + fmt.Sprint(c.PrimaryKey)
	}
	return out
}

// CheckBranch returns nil when the branch exists in the Storage project, ErrBranchNotFound
// when it does not; a branch found once is not asked about again.
func (m *Manager) CheckBranch(ctx context.Context, branchID int64) error {
	_, err := m.branchClient(ctx, branchID)
	return err
}

// IssueMissingTokens gives every live, enabled sink without a token (sinks stored before
// kbridge made tokens, or whose token could not be made) its own token. Failures are logged;
// such sinks keep using the master token.
func (m *Manager) IssueMissingTokens() {
	var keys []SinkKey
	m.mu.RLock()
	for _, ss := range m.sources {
		for _, def := range ss.rec.Sinks {
			if !ss.rec.Source.Deleted && !def.Deleted && !def.Disabled && def.Token == nil {
				keys = append(keys, def.Key)
			}
		}
	}
	m.mu.RUnlock()
	m.issueTokens(keys...)
}
