package convert

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
)

// avroDecoder appends the JSON of one Avro value read from r to dst.
type avroDecoder func(r *avroReader, dst []byte) ([]byte, error)

// compileAvro parses an Avro schema, with the schemas it references, and compiles its decoder:
// the record is walked once per message straight from the binary to JSON, without building
// Go values on the way.
func compileAvro(text string, refs []string) (avroDecoder, error) {
	cache := &avro.SchemaCache{} // named types of this schema only, not the process's
	for _, ref := range refs {
		if _, err := avro.ParseWithCache(ref, "", cache); err != nil {
			return nil, fmt.Errorf("parse referenced Avro schema: %w", err)
		}
	}
	schema, err := avro.ParseWithCache(text, "", cache)
	if err != nil {
		return nil, fmt.Errorf("parse Avro schema: %w", err)
	}
	c := avroCompiler{named: map[string]*avroDecoder{}}
	return c.compile(schema), nil
}

type avroCompiler struct {
	named map[string]*avroDecoder // by full name: recursive types refer to themselves
}

func (c *avroCompiler) compile(s avro.Schema) avroDecoder {
	switch s := s.(type) {
	case *avro.NullSchema:
		return avroPrimitive(avro.Null, nil)
	case *avro.PrimitiveSchema:
		return avroPrimitive(s.Type(), s.Logical())
	case *avro.RecordSchema:
		return c.record(s)
	case *avro.RefSchema:
		named := s.Schema()
		if d, ok := c.named[named.FullName()]; ok {
			return func(r *avroReader, dst []byte) ([]byte, error) { return (*d)(r, dst) }
		}
		return c.compile(named)
	case *avro.EnumSchema:
		symbols := s.Symbols()
		return func(r *avroReader, dst []byte) ([]byte, error) {
			i, err := r.long()
			if err != nil {
				return dst, err
			}
			if i < 0 || i >= int64(len(symbols)) {
				return dst, fmt.Errorf("enum %s: symbol index %d out of range", s.FullName(), i)
			}
			return appendJSONString(dst, symbols[i]), nil
		}
	case *avro.ArraySchema:
		item := c.compile(s.Items())
		return func(r *avroReader, dst []byte) ([]byte, error) {
			dst = append(dst, '[')
			first := true
			err := r.blocks(func() (err error) {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst, err = item(r, dst)
				return err
			})
			return append(dst, ']'), err
		}
	case *avro.MapSchema:
		value := c.compile(s.Values())
		return func(r *avroReader, dst []byte) ([]byte, error) {
			dst = append(dst, '{')
			first := true
			err := r.blocks(func() error {
				key, err := r.bytes()
				if err != nil {
					return err
				}
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(appendJSONString(dst, key), ':')
				dst, err = value(r, dst)
				return err
			})
			return append(dst, '}'), err
		}
	case *avro.UnionSchema:
		types := make([]avroDecoder, len(s.Types()))
		for i, t := range s.Types() {
			types[i] = c.compile(t)
		}
		return func(r *avroReader, dst []byte) ([]byte, error) {
			i, err := r.long()
			if err != nil {
				return dst, err
			}
			if i < 0 || i >= int64(len(types)) {
				return dst, fmt.Errorf("union branch %d out of range", i)
			}
			return types[i](r, dst)
		}
	case *avro.FixedSchema:
		return avroFixed(s)
	}
	return func(_ *avroReader, dst []byte) ([]byte, error) {
		return dst, fmt.Errorf("unsupported Avro schema %s", s.Type())
	}
}

func (c *avroCompiler) record(s *avro.RecordSchema) avroDecoder {
	var self avroDecoder
	c.named[s.FullName()] = &self
	fields := s.Fields()
	names := make([][]byte, len(fields)) // `"name":` once, not per record
	decoders := make([]avroDecoder, len(fields))
	for i, f := range fields {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		names[i] = append(appendJSONString([]byte{sep}, f.Name()), ':')
		decoders[i] = c.compile(f.Type())
	}
	self = func(r *avroReader, dst []byte) (_ []byte, err error) {
		if len(fields) == 0 {
			return append(dst, '{', '}'), nil
		}
		for i, d := range decoders {
			dst = append(dst, names[i]...)
			if dst, err = d(r, dst); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return self
}

func avroPrimitive(t avro.Type, logical avro.LogicalSchema) avroDecoder {
	lt := avro.LogicalType("")
	if logical != nil {
		lt = logical.Type()
	}
	switch t {
	case avro.Null:
		return func(_ *avroReader, dst []byte) ([]byte, error) { return append(dst, "null"...), nil }
	case avro.Boolean:
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.byte()
			if b != 0 {
				return append(dst, "true"...), err
			}
			return append(dst, "false"...), err
		}
	case avro.Int, avro.Long:
		return avroInteger(lt)
	case avro.Float:
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.fixed(4)
			if err != nil {
				return dst, err
			}
			return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), nil
		}
	case avro.Double:
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.fixed(8)
			if err != nil {
				return dst, err
			}
			return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), nil
		}
	case avro.String:
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.bytes()
			return appendJSONString(dst, b), err
		}
	case avro.Bytes:
		if d, ok := logical.(*avro.DecimalLogicalSchema); ok {
			scale := d.Scale()
			return func(r *avroReader, dst []byte) ([]byte, error) {
				b, err := r.bytes()
				return appendDecimal(dst, b, scale), err
			}
		}
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.bytes()
			return appendBase64(dst, b), err
		}
	}
	return func(_ *avroReader, dst []byte) ([]byte, error) {
		return dst, fmt.Errorf("unsupported Avro type %s", t)
	}
}

// avroInteger decodes an int or a long; dates and times become text (RFC 3339 for timestamps).
func avroInteger(lt avro.LogicalType) avroDecoder {
	var format func(dst []byte, v int64) []byte
	switch lt {
	case avro.Date:
		format = func(dst []byte, v int64) []byte { return appendTime(dst, time.Unix(v*86400, 0), "2006-01-02") }
	case avro.TimeMillis:
		format = func(dst []byte, v int64) []byte { return appendTime(dst, time.UnixMilli(v), "15:04:05.000") }
	case avro.TimeMicros:
		format = func(dst []byte, v int64) []byte { return appendTime(dst, time.UnixMicro(v), "15:04:05.000000") }
	case avro.TimestampMillis:
		format = func(dst []byte, v int64) []byte {
			return appendTime(dst, time.UnixMilli(v), "2006-01-02T15:04:05.000Z")
		}
	case avro.TimestampMicros:
		format = func(dst []byte, v int64) []byte {
			return appendTime(dst, time.UnixMicro(v), "2006-01-02T15:04:05.000000Z")
		}
	case avro.LocalTimestampMillis:
		format = func(dst []byte, v int64) []byte { return appendTime(dst, time.UnixMilli(v), "2006-01-02T15:04:05.000") }
	case avro.LocalTimestampMicros:
		format = func(dst []byte, v int64) []byte {
			return appendTime(dst, time.UnixMicro(v), "2006-01-02T15:04:05.000000")
		}
	default:
		return func(r *avroReader, dst []byte) ([]byte, error) {
			v, err := r.long()
			return strconv.AppendInt(dst, v, 10), err
		}
	}
	return func(r *avroReader, dst []byte) ([]byte, error) {
		v, err := r.long()
		return format(dst, v), err
	}
}

func appendTime(dst []byte, t time.Time, layout string) []byte {
	dst = append(dst, '"')
	return append(t.UTC().AppendFormat(dst, layout), '"')
}

func avroFixed(s *avro.FixedSchema) avroDecoder {
	size := s.Size()
	if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
		scale := d.Scale()
		return func(r *avroReader, dst []byte) ([]byte, error) {
			b, err := r.fixed(size)
			return appendDecimal(dst, b, scale), err
		}
	}
	return func(r *avroReader, dst []byte) ([]byte, error) {
		b, err := r.fixed(size)
		return appendBase64(dst, b), err
	}
}

// appendDecimal writes the two's-complement big-endian unscaled value b with scale digits
// after the point, exactly: as a JSON number, never through a float.
func appendDecimal(dst, b []byte, scale int) []byte {
	var digits []byte
	neg := false
	if len(b) <= 8 {
		var v int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			v = -1
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		neg = v < 0
		var u uint64
		if neg {
			u = uint64(-v) // -MinInt64 wraps to itself, which as uint64 is right
		} else {
			u = uint64(v)
		}
		digits = strconv.AppendUint(make([]byte, 0, 24), u, 10)
	} else {
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
		}
		neg = n.Sign() < 0
		digits = n.Abs(n).Append(nil, 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		for range -scale {
			dst = append(dst, '0')
		}
		return dst
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...)
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	return append(base64.StdEncoding.AppendEncode(dst, b), '"')
}

// appendFloat writes a float as JSON; NaN and infinities, which JSON has no number for, as
// strings (as Jackson writes them for Connect).
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// avroReader reads Avro's binary encoding.
type avroReader struct {
	b []byte
	i int
}

var errAvroTruncated = errors.New("avro: record is truncated")

func (r *avroReader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errAvroTruncated
	}
	r.i++
	return r.b[r.i-1], nil
}

// long reads a zig-zag varint.
func (r *avroReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.i >= len(r.b) {
			return 0, errAvroTruncated
		}
		c := r.b[r.i]
		r.i++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, errors.New("avro: varint longer than 64 bits")
}

func (r *avroReader) fixed(n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.i < n {
		return nil, errAvroTruncated
	}
	r.i += n
	return r.b[r.i-n : r.i], nil
}

func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.i) {
		return nil, errAvroTruncated
	}
	return r.fixed(int(n))
}

// blocks reads the blocks of an array or a map, calling item once per item.
func (r *avroReader) blocks(item func() error) error {
	for {
		n, err := r.long()
		if err != nil || n == 0 {
			return err
		}
		if n < 0 { // a negative count is followed by the block's size in bytes
			n = -n
			if _, err := r.long(); err != nil {
				return err
			}
		}
		if n > int64(len(r.b)-r.i)+1 && n > 1<<20 {
			return errAvroTruncated
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}
