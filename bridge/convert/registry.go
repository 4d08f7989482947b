package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
)

// UnavailableError is a Schema Registry that did not answer (refused connection, timeout,
// a 5xx, a refused credential): a transient fault, to wait out and retry.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "schema registry unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// registry fetches schemas by id and keeps them compiled. Concurrent misses of one id may
// fetch it twice; the first compiled one stays.
type registry struct {
	cl      *sr.Client
	compile func(ctx context.Context, s sr.Schema, refs []sr.Schema) (any, error)

	mu   sync.RWMutex
	byID map[int]any
}

func newRegistry(cl *sr.Client, compile func(ctx context.Context, s sr.Schema, refs []sr.Schema) (any, error)) *registry {
	return &registry{cl: cl, compile: compile, byID: map[int]any{}}
}

// schema returns the compiled schema of id: an *UnavailableError when the registry does not
// answer, another error when it does not know id or the schema does not compile.
func (r *registry) schema(ctx context.Context, id int) (any, error) {
	r.mu.RLock()
	s, ok := r.byID[id]
	r.mu.RUnlock()
	if ok {
		return s, nil
	}
	text, err := r.cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, classify(ctx, fmt.Sprintf("schema id %d", id), err)
	}
	refs, err := r.references(ctx, text.References, 0)
	if err != nil {
		return nil, err
	}
	compiled, err := r.compile(ctx, text, refs)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.byID[id]; ok {
		return s, nil
	}
	r.byID[id] = compiled
	return compiled, nil
}

// references fetches the schemas a schema references, theirs first, each with its import name
// in Subject (the references of a schema are a tree; depth bounds a cycle).
func (r *registry) references(ctx context.Context, refs []sr.SchemaReference, depth int) ([]sr.Schema, error) {
	if depth > 32 {
		return nil, errors.New("schema references nested deeper than 32")
	}
	var out []sr.Schema
	for _, ref := range refs {
		ss, err := r.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return nil, classify(ctx, fmt.Sprintf("referenced schema %s version %d", ref.Subject, ref.Version), err)
		}
		nested, err := r.references(ctx, ss.References, depth+1)
		if err != nil {
			return nil, err
		}
		s := ss.Schema
		s.References = nil
		out = append(append(out, nested...), sr.Schema{Schema: s.Schema, Type: s.Type, References: []sr.SchemaReference{{Name: ref.Name}}})
	}
	return out, nil
}

// classify tells a registry that answered "not found" or "invalid" (the record's fault) from
// one that did not answer (transient).
func classify(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 &&
		re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden &&
		re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusRequestTimeout {
		return fmt.Errorf("%s: the schema registry answered %d: %s", what, re.StatusCode, re.Error())
	}
	return &UnavailableError{Err: fmt.Errorf("%s: %w", what, err)}
}

// framed splits Confluent's wire format: magic byte 0, a 4-byte big-endian schema id, data.
func framed(b []byte) (int, []byte, error) {
	var h sr.ConfluentHeader
	id, rest, err := h.DecodeID(b)
	if err != nil {
		if len(b) == 0 {
			return 0, nil, errors.New("unknown magic byte: the record is empty")
		}
		if len(b) < 5 {
			return 0, nil, fmt.Errorf("record of %d bytes is shorter than the 5-byte Schema Registry header", len(b))
		}
		return 0, nil, fmt.Errorf("unknown magic byte %d: not Schema Registry wire format", b[0])
	}
	return id, rest, nil
}

// avroReaders keeps readers between records: a reader handed to the compiled decoders would
// otherwise be allocated per record.
var avroReaders = sync.Pool{New: func() any { return new(avroReader) }}

// avroConverter is io.confluent.connect.avro.AvroConverter.
type avroConverter struct{ reg *registry }

func newAvroConverter(cl *sr.Client) *avroConverter {
	return &avroConverter{reg: newRegistry(cl, func(_ context.Context, s sr.Schema, refs []sr.Schema) (any, error) {
		if s.Type != sr.TypeAvro {
			return nil, fmt.Errorf("is a %s schema, not Avro", s.Type)
		}
		texts := make([]string, len(refs))
		for i, ref := range refs {
			texts[i] = ref.Schema
		}
		return compileAvro(s.Schema, texts)
	})}
}

func (c *avroConverter) Convert(ctx context.Context, b []byte) ([]byte, error) {
	return c.AppendConvert(ctx, make([]byte, 0, len(b)+len(b)/2+64), b)
}

func (c *avroConverter) AppendConvert(ctx context.Context, dst, b []byte) ([]byte, error) {
	id, rest, err := framed(b)
	if err != nil {
		return nil, err
	}
	s, err := c.reg.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	r := avroReaders.Get().(*avroReader)
	defer avroReaders.Put(r)
	*r = avroReader{b: rest}
	out, err := s.(avroDecoder)(r, dst)
	left := len(rest) - r.i
	r.b = nil // the pool keeps no record
	if err != nil {
		return nil, fmt.Errorf("avro record of schema id %d: %w", id, err)
	}
	if left != 0 {
		return nil, fmt.Errorf("avro record of schema id %d: %d bytes left over", id, left)
	}
	return out, nil
}

// protobufConverter is io.confluent.connect.protobuf.ProtobufConverter.
type protobufConverter struct{ reg *registry }

func newProtobufConverter(cl *sr.Client) *protobufConverter {
	return &protobufConverter{reg: newRegistry(cl, func(ctx context.Context, s sr.Schema, refs []sr.Schema) (any, error) {
		if s.Type != sr.TypeProtobuf {
			return nil, fmt.Errorf("is a %s schema, not Protobuf", s.Type)
		}
		imports := make([]ProtoSource, len(refs))
		for i, ref := range refs {
			imports[i] = ProtoSource{Name: ref.References[0].Name, Text: ref.Schema}
		}
		return compileProto(ctx, s.Schema, imports)
	})}
}

func (c *protobufConverter) Convert(ctx context.Context, b []byte) ([]byte, error) {
	id, rest, err := framed(b)
	if err != nil {
		return nil, err
	}
	var h sr.ConfluentHeader
	indexes, rest, err := h.DecodeIndex(rest, 64)
	if err != nil {
		return nil, fmt.Errorf("protobuf message indexes: %w", err)
	}
	s, err := c.reg.schema(ctx, id)
	if err != nil {
		return nil, err
	}
	out, err := s.(*protoSchema).decode(indexes, rest)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	return out, nil
}

// jsonSchemaConverter is io.confluent.connect.json.JsonSchemaConverter: the data after the
// header is the JSON itself; the schema id must be one the registry knows.
type jsonSchemaConverter struct{ reg *registry }

func newJSONSchemaConverter(cl *sr.Client) *jsonSchemaConverter {
	return &jsonSchemaConverter{reg: newRegistry(cl, func(_ context.Context, s sr.Schema, _ []sr.Schema) (any, error) {
		if s.Type != sr.TypeJSON {
			return nil, fmt.Errorf("is a %s schema, not JSON Schema", s.Type)
		}
		if !json.Valid([]byte(s.Schema)) {
			return nil, errors.New("the JSON schema is not JSON")
		}
		return s.Type, nil
	})}
}

func (c *jsonSchemaConverter) Convert(ctx context.Context, b []byte) ([]byte, error) {
	id, rest, err := framed(b)
	if err != nil {
		return nil, err
	}
	if _, err := c.reg.schema(ctx, id); err != nil {
		return nil, err
	}
	if !json.Valid(rest) {
		return nil, fmt.Errorf("record of JSON schema id %d is not JSON", id)
	}
	return rest, nil
}
