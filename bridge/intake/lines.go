package intake

import (
	"bytes"
	"io"
	"net/http"

	"github.com/kbridge/kbridge/bridge/httperr"
	"github.com/kbridge/kbridge/mapping"
)

// lineRef is one record of an NDJSON body: where its bytes are in request.buf and its line
// number (from 1). The events are made from the refs only once the whole body was read, so a
// body refused while reading (too many lines, a line too long, too large decoded) never
// costs an event per line.
type lineRef struct {
	start, end int32 // request.buf is at most MaxNDJSONLimit bytes
	line       int32
}

// lineLimits bound the reading of an NDJSON body.
type lineLimits struct {
	total int64 // decoded bytes of the whole body
	line  int64 // bytes of one record, without the line end
	lines int   // records
}

// readChunk is how much is read from the (decoded) body at a time.
const readChunk = 32 << 10

// readLines reads an NDJSON body as a stream: each chunk is read into q.buf and split there,
// in place, into records; blank lines and line ends are dropped, so q.buf holds only the
// records, and q.refs locates them. A limit is enforced as soon as it is passed, before the
// rest of the body is read or decoded. It returns the decoded bytes read.
func (q *request) readLines(r io.Reader, lim lineLimits) (int64, *httperr.Error) {
	buf := q.buf[:0]
	var (
		total     int64
		lineStart int  // start of the current line in buf
		line      = 1  // its number
		checked   int  // bytes of the current line already checked for the long-line limit
		nonSpace  bool // the checked part holds a byte other than white space
		trimmed   int  // length of the checked part without its trailing '\r's
	)
	finish := func(end int) *httperr.Error { // the line buf[lineStart:end] is complete
		cur := bytes.TrimRight(buf[lineStart:end], "\r")
		switch {
		case len(bytes.TrimSpace(cur)) == 0:
			buf = buf[:lineStart]
		case int64(len(cur)) > lim.line:
			return lineTooLarge(line, lim.line)
		case len(q.refs) >= lim.lines:
			return tooManyLines(lim.lines)
		default:
			q.refs = append(q.refs, lineRef{start: int32(lineStart), end: int32(lineStart + len(cur)), line: int32(line)})
			buf = buf[:lineStart+len(cur)]
		}
		lineStart, checked, nonSpace, trimmed = len(buf), 0, false, 0
		line++
		return nil
	}
	for {
		if cap(buf)-len(buf) < readChunk/4 {
			// Grow by half, never past what the limit can need.
			nb := make([]byte, len(buf), min(cap(buf)+max(readChunk, cap(buf)/2), int(lim.total)+readChunk))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+readChunk)])
		total += int64(n)
		if total > lim.total {
			q.buf = buf
			return total, tooLarge(lim.total)
		}
		// Split the new bytes in place: w is where the kept bytes end.
		src, end := len(buf), len(buf)+n
		w := src
		buf = buf[:end]
		for src < end {
			i := bytes.IndexByte(buf[src:end], '\n')
			if i < 0 {
				w += copy(buf[w:], buf[src:end])
				break
			}
			w += copy(buf[w:], buf[src:src+i])
			src += i + 1
			buf = buf[:w]
			if e := finish(w); e != nil {
				q.buf = buf
				return total, e
			}
			w = len(buf)
			buf = buf[:end]
		}
		buf = buf[:w]
		// A line still open may already be known to be too long.
		if cur := buf[lineStart+checked:]; int64(len(buf)-lineStart) > lim.line && len(cur) > 0 {
			if !nonSpace {
				nonSpace = len(bytes.TrimSpace(cur)) > 0
			}
			if t := len(bytes.TrimRight(cur, "\r")); t > 0 {
				trimmed = checked + t
			}
			checked = len(buf) - lineStart
			if nonSpace && int64(trimmed) > lim.line {
				q.buf = buf
				return total, lineTooLarge(line, lim.line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			q.buf = buf
			return total, httperr.New(http.StatusBadRequest, "stream.in.badRequest", "Cannot read the body: %v.", err)
		}
	}
	if lineStart < len(buf) {
		if e := finish(len(buf)); e != nil {
			q.buf = buf
			return total, e
		}
	}
	q.buf = buf
	return total, nil
}

// splitLines is readLines for a body that is already in memory as sent (not encoded): the
// records stay where they are, q.refs locates them in body, which becomes q.buf's stand-in
// (q.lines), and nothing is copied. The limits and line rules are readLines'.
func (q *request) splitLines(body []byte, lim lineLimits) (int64, *httperr.Error) {
	if int64(len(body)) > lim.total {
		return int64(len(body)), tooLarge(lim.total)
	}
	q.lines = body
	for line, start := 1, 0; start < len(body); line++ {
		end := len(body)
		next := end
		if i := bytes.IndexByte(body[start:], '\n'); i >= 0 {
			end, next = start+i, start+i+1
		}
		cur := bytes.TrimRight(body[start:end], "\r")
		switch {
		case len(bytes.TrimSpace(cur)) == 0:
		case int64(len(cur)) > lim.line:
			return int64(len(body)), lineTooLarge(line, lim.line)
		case len(q.refs) >= lim.lines:
			return int64(len(body)), tooManyLines(lim.lines)
		default:
			q.refs = append(q.refs, lineRef{start: int32(start), end: int32(start + len(cur)), line: int32(line)})
		}
		start = next
	}
	return int64(len(body)), nil
}

// batchEvents makes one event per record of q.refs, each a copy of tmpl with the record as
// its body.
func (q *request) batchEvents(tmpl mapping.Event) {
	base := q.buf
	if q.lines != nil {
		base = q.lines
	}
	if cap(q.events) < len(q.refs) {
		q.events = make([]mapping.Event, 0, len(q.refs))
	}
	q.events = q.events[:0]
	for _, ref := range q.refs {
		ev := tmpl
		ev.Body = base[ref.start:ref.end:ref.end]
		q.events = append(q.events, ev)
	}
}

func lineTooLarge(line int, limit int64) *httperr.Error {
	e := tooLarge(limit)
	e.Message = "Line " + itoa(line) + ": " + e.Message
	return e
}

func tooManyLines(limit int) *httperr.Error {
	return httperr.New(http.StatusRequestEntityTooLarge, "stream.in.tooManyLines",
		"Too many lines, the maximum is %d records per request.", limit)
}
