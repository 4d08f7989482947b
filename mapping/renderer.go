package mapping

import (
	"unsafe"
)

// Renderer renders events with one Mapping. It owns reusable buffers and, when the mapping has
// templates, a Jsonnet VM. Not safe for concurrent use: one Renderer per goroutine.
type Renderer struct {
	m      *Mapping
	body   bodyState
	uuid   *uuidGen
	keys   []string
	cell   []byte
	engine *engine
}

// NewRenderer returns a Renderer for m.
func (m *Mapping) NewRenderer() *Renderer {
	r := &Renderer{m: m, uuid: newUUIDGen()}
	if len(m.templates) > 0 {
		r.engine = newEngine(m)
	}
	return r
}

// AppendRow appends ev's CSV row (with its trailing newline) to dst. On error dst is returned
// unchanged and the error is a *ColumnError.
func (r *Renderer) AppendRow(dst []byte, ev *Event) ([]byte, error) {
	templated, err := r.templates(ev)
	return r.appendRow(dst, ev, templated, err)
}

// Values renders ev into one string per column, as the Stream API's test endpoint shows them.
func (r *Renderer) Values(ev *Event) ([]string, error) {
	templated, terr := r.templates(ev)
	r.body.reset()
	values := make([]string, len(r.m.columns))
	var err error
	for i := range r.m.columns {
		if r.m.columns[i].kind == KindTemplate && terr != nil {
			return nil, terr
		}
		if r.cell, err = r.appendCell(r.cell[:0], &r.m.columns[i], ev, templated); err != nil {
			return nil, &ColumnError{Column: r.m.columns[i].def.Name, Err: err}
		}
		values[i] = string(r.cell)
	}
	return values, nil
}

// RenderBatch renders events into rows: row i is events[i]'s CSV row, or its error. Template
// columns are evaluated for the whole batch at once.
func (r *Renderer) RenderBatch(events []Event, rows *Rows) {
	rows.reset()
	if r.engine != nil {
		r.engine.run(events)
	}
	k := len(r.m.templates)
	for i := range events {
		var templated []string
		var terr error
		if r.engine != nil {
			templated, terr = r.engine.cells[i*k:(i+1)*k], r.engine.errs[i]
		}
		var err error
		rows.buf, err = r.appendRow(rows.buf, &events[i], templated, terr)
		rows.add(err)
	}
}

// templates evaluates the template columns for one event.
func (r *Renderer) templates(ev *Event) ([]string, error) {
	if r.engine == nil {
		return nil, nil
	}
	r.engine.run(unsafe.Slice(ev, 1))
	return r.engine.cells, r.engine.errs[0]
}

// appendRow renders the columns in order. terr, the templates' error for this event, is
// reported when the first template column is reached, so the error names the first column
// that fails in column order (among the templates, the one that failed).
func (r *Renderer) appendRow(dst []byte, ev *Event, templated []string, terr error) ([]byte, error) {
	r.body.reset()
	start := len(dst)
	var err error
	for i := range r.m.columns {
		c := &r.m.columns[i]
		if c.kind == KindTemplate && terr != nil {
			return dst[:start], terr
		}
		if r.cell, err = r.appendCell(r.cell[:0], c, ev, templated); err != nil {
			return dst[:start], &ColumnError{Column: c.def.Name, Err: err}
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, r.cell)
	}
	return append(dst, '\n'), nil
}

// appendCell appends the unquoted value of column c for ev.
func (r *Renderer) appendCell(dst []byte, c *compiledColumn, ev *Event, templated []string) ([]byte, error) {
	switch c.kind {
	case KindPath:
		return r.appendPath(dst, c, ev)
	case KindTemplate:
		raw := templated[c.template]
		if c.def.RawString && len(raw) > 0 && raw[0] == '"' {
			return appendUnquoted(dst, raw), nil
		}
		return appendCompactJSON(dst, raw), nil
	case KindUUID:
		return r.uuid.appendUUID(dst, r.m.cfg.Now()), nil
	case KindDatetime:
		return appendTime(dst, ev.ReceivedAt), nil
	case KindIP:
		if ev.ClientIP.IsValid() {
			dst = ev.ClientIP.AppendTo(dst)
		}
		return dst, nil
	case KindBody:
		return append(dst, ev.Body...), nil
	case KindHeaders:
		dst, r.keys = appendHeaders(dst, ev.Header, r.keys)
		return dst, nil
	}
	if c.fillHTTP && !ev.Kafka {
		return r.uuid.appendUUID(dst, r.m.cfg.Now()), nil
	}
	return appendKafkaCell(dst, c.kind, ev), nil
}

// appendKafkaCell renders the kafka.* columns; for an HTTP event they are empty.
func appendKafkaCell(dst []byte, kind Kind, ev *Event) []byte {
	if !ev.Kafka {
		return dst
	}
	switch kind {
	case KindKafkaTopic:
		return append(dst, ev.Topic...)
	case KindKafkaPartition:
		return appendInt(dst, int64(ev.Partition))
	case KindKafkaOffset:
		return appendInt(dst, ev.Offset)
	case KindKafkaKey:
		return append(dst, ev.Key...)
	case KindKafkaTimestamp:
		return appendTime(dst, ev.Timestamp)
	case KindKafkaHeaders:
		return appendRecordHeaders(dst, ev.RecordHeaders)
	}
	return dst
}

// Rows holds the rendered rows of a batch in one buffer. Reuse it across batches.
type Rows struct {
	buf  []byte
	ends []int
	errs []error
}

func (b *Rows) reset() {
	b.buf, b.ends, b.errs = b.buf[:0], b.ends[:0], b.errs[:0]
}

func (b *Rows) add(err error) {
	b.ends = append(b.ends, len(b.buf))
	b.errs = append(b.errs, err)
}

// Len is the number of events rendered.
func (b *Rows) Len() int { return len(b.ends) }

// Row is event i's CSV row, newline included; empty when Err(i) is not nil.
func (b *Rows) Row(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]]
}

// Err is why event i was not rendered, a *ColumnError, or nil.
func (b *Rows) Err(i int) error { return b.errs[i] }

// Bytes is every rendered row in order; failed events contribute nothing.
func (b *Rows) Bytes() []byte { return b.buf }
