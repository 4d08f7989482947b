package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/kbridge/kbridge/mapping"
	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/sink/local"
)

// Tables routes each record into a table of its own topic (topic2table.map): the topic a
// record has after the transforms (a RegexRouter or TimestampRouter renames it) names the
// table, through the map or, for a topic the map does not name, as the topic itself with every
// character Storage does not take in a table name replaced by an underscore.
type Tables struct {
	byTopic map[string]string // topic → table name or table id
}

// parseTables reads topic2table.map: "topic:table" entries separated by commas or new lines
// (a YAML block). A table is a name, in the bucket of the source's sink, or a full table id.
func parseTables(v string) (*Tables, error) {
	t := &Tables{byTopic: map[string]string{}}
	for _, entry := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		topic, table, ok := strings.Cut(entry, ":")
		topic, table = strings.TrimSpace(topic), strings.TrimSpace(table)
		if !ok || topic == "" || table == "" {
			return nil, fmt.Errorf("entry %q: want topic:table", entry)
		}
		if _, dup := t.byTopic[topic]; dup {
			return nil, fmt.Errorf("topic %q is mapped twice", topic)
		}
		if err := checkTable(table); err != nil {
			return nil, fmt.Errorf("entry %q: %w", entry, err)
		}
		t.byTopic[topic] = table
	}
	return t, nil
}

// checkTable checks a table name or id of the map.
func checkTable(table string) error {
	name := table
	if parts := strings.Split(table, "."); len(parts) > 1 {
		if len(parts) != 3 || parts[0] != "in" && parts[0] != "out" || !strings.HasPrefix(parts[1], "c-") {
			return fmt.Errorf("table %q: want a name or a table id in|out.c-<bucket>.<table>", table)
		}
		name = parts[2]
	}
	if safeTableName(name) != name {
		return fmt.Errorf("table %q: a table name has letters, digits, underscores and dashes, at most 96", table)
	}
	return nil
}

// safeTableName is name with every character a Storage table name does not take replaced by
// an underscore, cut to 96 characters.
func safeTableName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 96 {
		b = b[:96]
	}
	return string(b)
}

// tableID returns the table of topic, given the table id of the source's sink, whose bucket
// holds tables given by name.
func (t *Tables) tableID(topic, template string) string {
	table, ok := t.byTopic[topic]
	if !ok {
		table = safeTableName(topic)
	}
	if strings.Contains(table, ".") {
		return table
	}
	return template[:strings.LastIndexByte(template, '.')+1] + table
}

// Definitions are the source and sink definitions a routing writer creates tables' sinks
// with; *sink.Manager implements them. Every method may be called concurrently.
type Definitions interface {
	Source(k sink.SourceKey) (sink.Source, bool)
	Sources() []sink.Source
	Sinks(k sink.SourceKey) ([]sink.Sink, error)
	PutSource(src sink.Source) error
	PutSink(def sink.Sink) error
}

// router is the Writer of a pipeline with topic2table.map: each table has a source of its own
// (the routes of the pipeline's source), created on the first record for it as a copy of the
// pipeline's source with a copy of its first enabled sink writing into the table. Their ledgers
// are the tables' own, keyed by the records' partitions as every ledger is, so each offset is
// held by the one table its record went to, and the union of the tables' ledgers is the
// pipeline's.
type router struct {
	Writer
	defs   Definitions
	source sink.SourceKey
	tables *Tables

	mu      sync.Mutex
	routes  map[string]sink.SourceKey // by table id
	byTopic map[string]sink.SourceKey // the route of each topic seen
}

// routeMark starts the description of a route's source, which names the pipeline's source
// and the table: the routes are found again after a restart.
const routeMark = "topic2table.map of source "

func routeDescription(source sink.SourceKey, tableID string) string {
	return routeMark + source.SourceID + ": " + tableID
}

// routeID is the source id of the route of source into tableID: the source's id and a hash of
// the table, within the 48 characters of an id.
func routeID(source sink.SourceKey, tableID string) string {
	h := fnv.New32a()
	h.Write([]byte(tableID))
	base := source.SourceID[:min(len(source.SourceID), 38)]
	return fmt.Sprintf("%s-%08x", strings.TrimRight(base, "-"), h.Sum32())
}

// Writer returns where the pipeline's records go: w itself, or with topic2table.map a writer
// routing each topic into its table, whose ledger (Held, Recovered) is the union of the
// tables'. w must then also be Definitions.
func (p Pipeline) Writer(w Writer, source sink.SourceKey) (Writer, error) {
	if p.Tables == nil {
		return w, nil
	}
	defs, ok := w.(Definitions)
	if !ok {
		return nil, errors.New("topic2table.map needs a writer that creates sinks")
	}
	return newRouter(w, defs, source, p.Tables), nil
}

func newRouter(w Writer, defs Definitions, source sink.SourceKey, tables *Tables) *router {
	r := &router{Writer: w, defs: defs, source: source, tables: tables,
		routes: map[string]sink.SourceKey{}, byTopic: map[string]sink.SourceKey{}}
	for _, src := range defs.Sources() {
		rest, ok := strings.CutPrefix(src.Description, routeMark)
		id, table, _ := strings.Cut(rest, ": ")
		if ok && id == source.SourceID && src.Key == (sink.SourceKey{ProjectID: source.ProjectID, BranchID: source.BranchID, SourceID: routeID(source, table)}) {
			r.routes[table] = src.Key
		}
	}
	return r
}

// route returns the source of topic's table, creating it on the topic's first record.
func (r *router) route(topic string) (sink.SourceKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.byTopic[topic]; ok {
		return k, nil
	}
	src, ok := r.defs.Source(r.source)
	if !ok {
		return sink.SourceKey{}, fmt.Errorf("source %s: %w", r.source, sink.ErrSourceNotFound)
	}
	sinks, err := r.defs.Sinks(r.source)
	if err != nil {
		return sink.SourceKey{}, err
	}
	i := slices.IndexFunc(sinks, func(s sink.Sink) bool { return !s.Disabled && !s.Deleted })
	if i < 0 {
		return sink.SourceKey{}, fmt.Errorf("source %s: %w", r.source, sink.ErrNoEnabledSink)
	}
	tmpl := sinks[i]
	table := r.tables.tableID(topic, tmpl.TableID)
	k, ok := r.routes[table]
	if !ok {
		k = sink.SourceKey{ProjectID: r.source.ProjectID, BranchID: r.source.BranchID, SourceID: routeID(r.source, table)}
		route := sink.Source{Key: k, Type: "kafka", Name: src.Name + " " + table, Description: routeDescription(r.source, table),
			Settings: src.Settings}
		if err := r.defs.PutSource(route); err != nil {
			return sink.SourceKey{}, fmt.Errorf("route %s into %s: %w", topic, table, err)
		}
		def := sink.Sink{Key: sink.SinkKey{SourceKey: k, SinkID: tmpl.Key.SinkID}, Name: tmpl.Name, TableID: table,
			Columns: tmpl.Columns, Settings: tmpl.Settings}
		if err := r.defs.PutSink(def); err != nil {
			return sink.SourceKey{}, fmt.Errorf("route %s into %s: %w", topic, table, err)
		}
		r.routes[table] = k
	}
	r.byTopic[topic] = k
	return k, nil
}

// Write writes each event into the table of its topic: one write per table, joined.
func (r *router) Write(ctx context.Context, _ sink.SourceKey, events []mapping.Event, positions []sink.Position) (*sink.Write, error) {
	var keys []sink.SourceKey
	var idx [][]int
	group := map[string]int{} // topic → index in keys
	for i := range events {
		g, ok := group[events[i].Topic]
		if !ok {
			k, err := r.route(events[i].Topic)
			if err != nil {
				return nil, err
			}
			if g = slices.Index(keys, k); g < 0 {
				keys, idx, g = append(keys, k), append(idx, nil), len(keys)
			}
			group[events[i].Topic] = g
		}
		idx[g] = append(idx[g], i)
	}
	if len(keys) == 1 {
		return r.Writer.Write(ctx, keys[0], events, positions)
	}
	parts := make([]*sink.Write, len(keys))
	for g, k := range keys {
		evs := make([]mapping.Event, len(idx[g]))
		var pos []sink.Position
		if positions != nil {
			pos = make([]sink.Position, len(idx[g]))
		}
		for j, i := range idx[g] {
			evs[j] = events[i]
			if pos != nil {
				pos[j] = positions[i]
			}
		}
		w, err := r.Writer.Write(ctx, k, evs, pos)
		if err != nil {
			return nil, err
		}
		parts[g] = w
	}
	return sink.Combine(len(events), parts, idx), nil
}

// sources returns the routes' sources.
func (r *router) sources() []sink.SourceKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.routes))
}

// gone tells whether err is a route whose source was disabled or deleted: it holds nothing.
func gone(err error) bool {
	return errors.Is(err, sink.ErrNoEnabledSink) || errors.Is(err, sink.ErrSourceNotFound)
}

// Held is the union of the tables' ledgers: each offset is in the one table its record went to.
func (r *router) Held(sink.SourceKey) (sink.Offsets, error) {
	out := sink.Offsets{}
	for _, k := range r.sources() {
		held, err := r.Writer.Held(k)
		if err != nil && !gone(err) {
			return nil, err
		}
		for stream, rs := range held {
			u := out[stream]
			u.Union(rs)
			out[stream] = u
		}
	}
	return out, nil
}

// Holds reports whether the tables holding the offsets rs of stream hold them at level.
func (r *router) Holds(_ sink.SourceKey, stream string, rs local.Ranges, level sink.Level) bool {
	var covered local.Ranges
	for _, k := range r.sources() {
		held, err := r.Writer.Held(k)
		if err != nil {
			continue
		}
		part := held[stream].Intersect(rs)
		if len(part) == 0 {
			continue
		}
		if !r.Writer.Holds(k, stream, part, level) {
			return false
		}
		covered.Union(part)
	}
	return covered.Covers(rs)
}

// Flush flushes every table's sinks.
func (r *router) Flush(ctx context.Context, _ sink.SourceKey) error {
	for _, k := range r.sources() {
		if err := r.Writer.Flush(ctx, k); err != nil && !gone(err) {
			return err
		}
	}
	return nil
}

// Recovered is, per partition, the highest offset any table holds.
func (r *router) Recovered(sink.SourceKey) (map[string]int64, error) {
	out := map[string]int64{}
	for _, k := range r.sources() {
		rec, err := r.Writer.Recovered(k)
		if err != nil && !gone(err) {
			return nil, err
		}
		for name, last := range rec {
			if v, ok := out[name]; !ok || last > v {
				out[name] = last
			}
		}
	}
	return out, nil
}
