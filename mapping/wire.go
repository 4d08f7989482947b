package mapping

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"
)

// The messages between a process and its template workers (see worker.go). Each is a frame:
// a little-endian uint32 length, then the fields below, strings and byte slices as a uint32
// length and the bytes.
//
// Request: max stack frames (u32), the program's text, the template column names (u32 count,
// strings), the events (u32 count, each as appendEvent writes it).
// Response: a status byte (statusOK: the output follows; statusFailed: go-jsonnet's error
// follows), then the failures the natives recorded (u32 count, each: event index u32, column,
// class byte, message).

const (
	statusOK     = 0
	statusFailed = 1
)

// Event flags in a request.
const (
	flagFailed = 1 << iota // the event failed already: its natives record nothing more
	flagKafka
	flagKey // Key is not nil (an empty key is not a missing one)
)

// errorClasses are the sentinels a native's failure may wrap, by their number on the wire.
var errorClasses = []error{nil, ErrUnsupportedContentType, ErrInvalidBody, ErrNotFound, ErrTemplate}

func classOf(err error) byte {
	for n, class := range errorClasses[1:] {
		if errors.Is(err, class) {
			return byte(n + 1)
		}
	}
	return 0
}

func appendU32(b []byte, v int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(v)) }

func appendBytes(b, v []byte) []byte { return append(appendU32(b, len(v)), v...) }

func appendString(b []byte, v string) []byte { return append(appendU32(b, len(v)), v...) }

func appendTimeBinary(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return appendU32(b, t.Nanosecond())
}

// beginFrame starts a frame in b; endFrame writes its length once the fields are appended.
func beginFrame(b []byte) ([]byte, int) { return append(b, 0, 0, 0, 0), len(b) }

func endFrame(b []byte, at int) []byte {
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// appendRequest appends a request to evaluate program over events; errs marks the events that
// failed already.
func appendRequest(b []byte, maxStack int, program string, names []string, events []Event, errs []error) []byte {
	b, at := beginFrame(b)
	b = appendU32(b, maxStack)
	b = appendString(b, program)
	b = appendU32(b, len(names))
	for _, n := range names {
		b = appendString(b, n)
	}
	b = appendU32(b, len(events))
	for i := range events {
		b = appendEvent(b, &events[i], errs[i] != nil)
	}
	return endFrame(b, at)
}

func appendEvent(b []byte, ev *Event, failed bool) []byte {
	var flags byte
	if failed {
		flags |= flagFailed
	}
	if ev.Kafka {
		flags |= flagKafka
	}
	if ev.Key != nil {
		flags |= flagKey
	}
	b = append(b, flags, byte(ev.jsonVerdict))
	b = appendBytes(b, ev.Body)
	b = appendU32(b, len(ev.Header))
	for name, values := range ev.Header {
		b = appendString(b, name)
		b = appendU32(b, len(values))
		for _, v := range values {
			b = appendString(b, v)
		}
	}
	at := len(b)
	b, _ = ev.ClientIP.AppendBinary(append(b, 0, 0, 0, 0))
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	b = appendTimeBinary(b, ev.ReceivedAt)
	if !ev.Kafka {
		return b
	}
	b = appendString(b, ev.Topic)
	b = appendU32(b, int(uint32(ev.Partition)))
	b = binary.LittleEndian.AppendUint64(b, uint64(ev.Offset))
	b = appendBytes(b, ev.Key)
	b = appendTimeBinary(b, ev.Timestamp)
	b = appendU32(b, len(ev.RecordHeaders))
	for _, h := range ev.RecordHeaders {
		b = appendString(b, h.Key)
		b = appendBytes(b, h.Value)
	}
	return b
}

// appendResponse appends the outcome of an evaluation: its output or go-jsonnet's error, and
// the failures recorded in errs, except those marked already (failedBefore).
func appendResponse(b []byte, out string, evalErr error, errs []error, failedBefore error) []byte {
	b, at := beginFrame(b)
	if evalErr != nil {
		b = appendString(append(b, statusFailed), evalErr.Error())
	} else {
		b = appendString(append(b, statusOK), out)
	}
	n, count := 0, len(b)
	b = appendU32(b, 0)
	for i, err := range errs {
		if err == nil || err == failedBefore {
			continue
		}
		column := ""
		var ce *ColumnError
		if errors.As(err, &ce) {
			column, err = ce.Column, ce.Err
		}
		b = appendU32(b, i)
		b = appendString(b, column)
		b = append(b, classOf(err))
		b = appendString(b, err.Error())
		n++
	}
	binary.LittleEndian.PutUint32(b[count:], uint32(n))
	return endFrame(b, at)
}

// decoder reads the fields of one frame; the first short read sets err and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

var errShortFrame = errors.New("truncated frame")

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		d.err = errShortFrame
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() int {
	if v := d.take(4); v != nil {
		return int(binary.LittleEndian.Uint32(v))
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// bytes returns a view of the frame; string copies.
func (d *decoder) bytes() []byte  { return d.take(d.u32()) }
func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	sec := int64(d.u64())
	return time.Unix(sec, int64(d.u32())).UTC()
}

// count reads a number of items each at least min bytes long, refusing counts the frame cannot
// hold, so a bad frame cannot make the reader allocate.
func (d *decoder) count(min int) int {
	n := d.u32()
	if n*min > len(d.b) {
		d.err = errShortFrame
		return 0
	}
	return n
}

// request is a decoded request; its event bodies and keys are views of the frame.
type request struct {
	maxStack int
	program  []byte
	names    []string
	events   []Event
	failed   []bool
}

func (d *decoder) request(r *request) error {
	r.maxStack = d.u32()
	r.program = d.bytes()
	r.names = r.names[:0]
	for range d.count(4) {
		r.names = append(r.names, d.string())
	}
	n := d.count(2 + 4 + 4 + 4 + 12)
	r.events, r.failed = resize(r.events, n), resize(r.failed, n)
	for i := range n {
		r.failed[i] = d.event(&r.events[i])
	}
	if d.err != nil {
		return fmt.Errorf("decode request: %w", d.err)
	}
	return nil
}

func (d *decoder) event(ev *Event) (failed bool) {
	flags := d.u8()
	*ev = Event{jsonVerdict: verdict(d.u8()), Kafka: flags&flagKafka != 0}
	ev.Body = d.bytes()
	if n := d.count(8); n > 0 {
		ev.Header = make(http.Header, n)
		for range n {
			name := d.string()
			values := make([]string, d.count(4))
			for j := range values {
				values[j] = d.string()
			}
			ev.Header[name] = values
		}
	}
	var ip netip.Addr
	if ip.UnmarshalBinary(d.bytes()) == nil {
		ev.ClientIP = ip
	}
	ev.ReceivedAt = d.time()
	if ev.Kafka {
		ev.Topic = d.string()
		ev.Partition = int32(uint32(d.u32()))
		ev.Offset = int64(d.u64())
		ev.Key = d.bytes()
		if flags&flagKey == 0 {
			ev.Key = nil
		} else if ev.Key == nil {
			ev.Key = []byte{}
		}
		ev.Timestamp = d.time()
		ev.RecordHeaders = make([]RecordHeader, d.count(8))
		for j := range ev.RecordHeaders {
			ev.RecordHeaders[j] = RecordHeader{Key: d.string(), Value: d.bytes()}
		}
	}
	return flags&flagFailed != 0
}

// response decodes a response into its output (a view of the frame) and records the natives'
// failures in errs. A go-jsonnet error is returned as evalErr.
func (d *decoder) response(errs []error) (out string, evalErr error, err error) {
	status := d.u8()
	text := d.bytes()
	if status == statusOK {
		out = bytesToString(text)
	} else {
		evalErr = fmt.Errorf("%w: %s", ErrTemplate, firstLine(string(text)))
	}
	for range d.count(4 + 4 + 1 + 4) {
		i, column, class, msg := d.u32(), d.string(), d.u8(), d.string()
		if d.err == nil && i < len(errs) && int(class) < len(errorClasses) && errs[i] == nil {
			errs[i] = &ColumnError{Column: column, Err: &reason{class: errorClasses[class], msg: msg}}
		}
	}
	if d.err != nil {
		return "", nil, fmt.Errorf("decode response: %w", d.err)
	}
	return out, evalErr, nil
}
