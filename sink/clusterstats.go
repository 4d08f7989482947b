package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// StatusBoard is where the replicas of one cluster publish their statuses and read everyone's
// (bridge/cluster.Statuses implements it): a member writes only its own status of a key, and
// Of returns every member's last one. Methods are called concurrently.
type StatusBoard interface {
	// Publish sets this member's status of key; it returns once the board has it.
	Publish(ctx context.Context, key string, status []byte) error
	// Remove deletes this member's status of key.
	Remove(ctx context.Context, key string) error
	// Of returns every member's status of key, by member name (this member's included, once
	// read back); the values are shared, not to be modified.
	Of(key string) map[string][]byte
}

// The status keys of a sink: "statistics/<projectId>/<branchId>/<sourceId>/<sinkId>" holds its
// totals (Statistics), "files/…" its files (the []FileStatistics SinkFiles lists: at most
// KeepImportedFiles imported ones and those not imported yet).
// "clears/…" holds the reset point of the member's last statistics/clear (clearMark).
func statisticsKey(k SinkKey) string { return "statistics/" + k.String() }
func filesKey(k SinkKey) string      { return "files/" + k.String() }
func clearsKey(k SinkKey) string     { return "clears/" + k.String() }

// clearMark is a statistics/clear of a sink on one member: files with ids from From on count
// (file ids are opening times, comparable across members).
type clearMark struct {
	From string `json:"from"`
}

// clearPublishTimeout bounds the publication of a clear mark.
const clearPublishTimeout = 10 * time.Second

// ClusterStatistics answers a sink's statistics for the whole cluster: Run publishes this
// replica's totals and files of every sink to a StatusBoard (on change, at most once per
// interval, and once more when it stops), and SinkStatistics adds this replica's live totals to
// the last totals every other member published (SinkFiles lists their files with its own). A member that left keeps its last totals in the sum: the
// rows it imported stay in the table, and the table is what the totals describe.
type ClusterStatistics struct {
	m        *Manager
	board    StatusBoard
	member   string
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	marks map[SinkKey]string // this member's last statistics reset point per sink
}

// NewClusterStatistics sums m's statistics with those the other members publish on board;
// member is this replica's name on the board, interval the shortest time between two
// publications of one sink (at least 10 ms).
func NewClusterStatistics(m *Manager, board StatusBoard, member string, interval time.Duration, logger *slog.Logger) (*ClusterStatistics, error) {
	switch {
	case m == nil || board == nil:
		return nil, fmt.Errorf("cluster statistics: a manager and a status board are needed")
	case member == "" || strings.Contains(member, "/"):
		return nil, fmt.Errorf("cluster statistics: member %q must be non-empty and without '/'", member)
	case interval < 10*time.Millisecond:
		return nil, fmt.Errorf("cluster statistics: interval %s is shorter than 10ms", interval)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ClusterStatistics{m: m, board: board, member: member, interval: interval, log: logger, marks: map[SinkKey]string{}}, nil
}

// SinkStatistics is the sink's totals over the cluster: this replica's live ones plus every
// other member's last published ones. A sink this replica does not know is an error, as
// Manager.SinkStatistics.
//
// After a statistics/clear on any member, another member's numbers are those of its files
// opened since the clear (from its published files), so a member that has not applied the
// clear yet, or left before it, does not count what was cleared.
func (c *ClusterStatistics) SinkStatistics(k SinkKey) (Statistics, error) {
	st, err := c.m.SinkStatistics(k)
	if err != nil {
		return Statistics{}, err
	}
	cleared := c.clearedFrom(k)
	var files map[string][]byte
	if cleared != "" {
		files = c.board.Of(filesKey(k))
	}
	for member, raw := range c.board.Of(statisticsKey(k)) {
		if member == c.member {
			continue // our own last publication is older than the live numbers
		}
		if cleared != "" { // the member's files since the reset; its totals may predate it
			var list []FileStatistics
			if err := json.Unmarshal(files[member], &list); err != nil {
				c.log.Warn("unreadable files of another member after a statistics reset", "member", member, "sink", k.String(), "error", err)
				continue
			}
			for _, f := range list {
				if f.ID >= cleared {
					st = SumStatistics(st, f.Statistics)
				}
			}
			continue
		}
		var other Statistics
		if err := json.Unmarshal(raw, &other); err != nil {
			c.log.Warn("unreadable statistics of another member", "member", member, "sink", k.String(), "error", err)
			continue
		}
		st = SumStatistics(st, other)
	}
	return st, nil
}

// SinkFiles lists the sink's files over the cluster: this replica's live ones and every other
// member's last published ones, filtered and ordered as Manager.SinkFiles does.
func (c *ClusterStatistics) SinkFiles(k SinkKey, failedOnly bool) ([]FileStatistics, error) {
	out, err := c.m.SinkFiles(k, failedOnly)
	if err != nil {
		return nil, err
	}
	cleared := c.clearedFrom(k)
	others := c.board.Of(filesKey(k))
	for _, member := range slices.Sorted(maps.Keys(others)) {
		if member == c.member {
			continue
		}
		var files []FileStatistics
		if err := json.Unmarshal(others[member], &files); err != nil {
			c.log.Warn("unreadable files of another member", "member", member, "sink", k.String(), "error", err)
			continue
		}
		for _, f := range files {
			if f.ID >= cleared && (!failedOnly || failedFile(f)) {
				out = append(out, f)
			}
		}
	}
	sortFiles(out)
	return out, nil
}

// ClearStatistics restarts the sink's statistics from zero on every member: this replica
// clears its own at once and publishes the reset point, which every other member applies
// within an interval (its rows written meanwhile into the file it was writing are not counted)
// and which SinkStatistics applies to the numbers of members that have not, or that left. A
// publication that fails is tried again at each interval (Run); the clear has happened here.
func (c *ClusterStatistics) ClearStatistics(k SinkKey) error {
	p, err := c.m.pipeline(k)
	if err != nil {
		return err
	}
	from, err := p.clearStatistics()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.marks[k] = from
	c.mu.Unlock()
	raw, err := json.Marshal(clearMark{From: from})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clearPublishTimeout)
	defer cancel()
	if err := c.board.Publish(ctx, clearsKey(k), raw); err != nil {
		c.log.Warn("publish a statistics reset; trying again at the next interval", "sink", k.String(), "error", err)
	}
	return nil
}

// ClearSourceStatistics clears the statistics of every sink of the source on every member.
func (c *ClusterStatistics) ClearSourceStatistics(k SourceKey) error {
	sinks, err := c.m.Sinks(k)
	if err != nil {
		return err
	}
	var errs []error
	for _, def := range sinks {
		errs = append(errs, c.ClearStatistics(def.Key))
	}
	return errors.Join(errs...)
}

// clearedFrom is the latest reset point any member published for the sink ("" when none).
func (c *ClusterStatistics) clearedFrom(k SinkKey) string {
	latest := ""
	for member, raw := range c.board.Of(clearsKey(k)) {
		var m clearMark
		if err := json.Unmarshal(raw, &m); err != nil {
			c.log.Warn("unreadable statistics reset of another member", "member", member, "sink", k.String(), "error", err)
			continue
		}
		latest = max(latest, m.From)
	}
	return latest
}

// Run publishes this replica's totals and files until ctx ends: every interval, those of each
// sink that changed since their last publication, after applying the latest statistics reset
// another member published; a sink that was deleted has its statuses removed.
// When ctx ends it publishes the changed totals once more, bounded by final (the shutdown's
// time), so the last rows a leaving replica imported are counted. It returns nil then.
func (c *ClusterStatistics) Run(ctx context.Context, final time.Duration) error {
	published := map[string][]byte{}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), final)
			defer cancel()
			c.publish(fctx, published)
			return nil
		case <-tick.C:
			c.publish(ctx, published)
		}
	}
}

// publish sends the statuses that changed since published (by status key) and records them
// there.
func (c *ClusterStatistics) publish(ctx context.Context, published map[string][]byte) {
	seen := map[string]bool{}
	marks := map[SinkKey]bool{} // the sinks whose reset point was sent: the others are gone
	defer func() {
		c.mu.Lock()
		maps.DeleteFunc(c.marks, func(k SinkKey, _ string) bool { return !marks[k] })
		c.mu.Unlock()
	}()
	send := func(key string, v any) {
		seen[key] = true
		raw, err := json.Marshal(v)
		if err != nil {
			c.log.Error("encode status", "key", key, "error", err)
			return
		}
		if prev, ok := published[key]; ok && bytes.Equal(prev, raw) {
			return
		}
		if err := c.board.Publish(ctx, key, raw); err != nil {
			c.log.Warn("publish status", "key", key, "error", err)
			return // tried again at the next tick
		}
		published[key] = raw
	}
	for _, src := range c.m.Sources() {
		sinks, err := c.m.Sinks(src.Key)
		if err != nil {
			continue // deleted meanwhile
		}
		for _, def := range sinks {
			if from := c.clearedFrom(def.Key); from != "" {
				if err := c.m.clearStatisticsSince(def.Key, from); err != nil {
					c.log.Warn("apply another replica's statistics reset", "sink", def.Key.String(), "error", err)
				}
			}
			c.mu.Lock()
			mark, cleared := c.marks[def.Key]
			c.mu.Unlock()
			if cleared {
				marks[def.Key] = true
				send(clearsKey(def.Key), clearMark{From: mark})
			}
			st, err := c.m.SinkStatistics(def.Key)
			if err != nil {
				continue
			}
			files, err := c.m.SinkFiles(def.Key, false)
			if err != nil {
				continue
			}
			send(statisticsKey(def.Key), st)
			send(filesKey(def.Key), files)
		}
	}
	for key := range published {
		if seen[key] {
			continue
		}
		if err := c.board.Remove(ctx, key); err != nil {
			c.log.Warn("remove status", "key", key, "error", err)
			continue
		}
		delete(published, key)
	}
}

// SumStatistics adds b to a: counts and sizes add up per level, the first record time is the
// earlier one and the last record time the later one.
func SumStatistics(a, b Statistics) Statistics {
	return Statistics{Total: sumLevel(a.Total, b.Total), Levels: Levels{
		Local: sumLevelPtr(a.Levels.Local, b.Levels.Local), Staging: sumLevelPtr(a.Levels.Staging, b.Levels.Staging),
		Target: sumLevelPtr(a.Levels.Target, b.Levels.Target),
	}}
}

func sumLevelPtr(a, b *LevelStatistics) *LevelStatistics {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		s := sumLevel(LevelStatistics{}, *b)
		return &s
	case b == nil:
		s := sumLevel(*a, LevelStatistics{})
		return &s
	}
	s := sumLevel(*a, *b)
	return &s
}

func sumLevel(a, b LevelStatistics) LevelStatistics {
	out := LevelStatistics{RecordsCount: a.RecordsCount + b.RecordsCount, CompressedSize: a.CompressedSize + b.CompressedSize,
		UncompressedSize: a.UncompressedSize + b.UncompressedSize, FirstRecordAt: a.FirstRecordAt, LastRecordAt: a.LastRecordAt}
	if b.FirstRecordAt != nil && (out.FirstRecordAt == nil || b.FirstRecordAt.Before(out.FirstRecordAt.Time)) {
		out.FirstRecordAt = b.FirstRecordAt
	}
	if b.LastRecordAt != nil && (out.LastRecordAt == nil || b.LastRecordAt.After(out.LastRecordAt.Time)) {
		out.LastRecordAt = b.LastRecordAt
	}
	return out
}
