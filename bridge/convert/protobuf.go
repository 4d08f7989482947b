package convert

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	// Google's well-known types, which schemas import without registering them.
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// protoSchemaFile is the name the schema being compiled gets; its imports are the names of
// its references, as the registry records them.
const protoSchemaFile = "kbridge-schema.proto"

// ProtoSource is a .proto file of a schema's references: its import name and its text.
type ProtoSource struct{ Name, Text string }

// protoSchema is a compiled .proto schema: the file whose messages the message indexes walk.
type protoSchema struct {
	file protoreflect.FileDescriptor
}

// CompileProtobuf compiles a Protobuf schema as a registry holds it, with the files it imports
// (deps before the files that import them). A schema is .proto text, or a base64-encoded
// FileDescriptorProto, the form older Confluent clients (confluent-kafka-python 1.x) register.
// Google's well-known types resolve without being given.
func CompileProtobuf(ctx context.Context, text string, imports []ProtoSource) error {
	_, err := compileProto(ctx, text, imports)
	return err
}

func compileProto(ctx context.Context, text string, imports []ProtoSource) (*protoSchema, error) {
	deps := new(protoregistry.Files)
	for _, src := range imports {
		fd, err := protoFile(ctx, src.Name, src.Text, deps)
		if err != nil {
			return nil, fmt.Errorf("imported %s: %w", src.Name, err)
		}
		if _, err := deps.FindFileByPath(fd.Path()); err == nil {
			continue
		}
		if err := deps.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("imported %s: %w", src.Name, err)
		}
	}
	fd, err := protoFile(ctx, protoSchemaFile, text, deps)
	if err != nil {
		return nil, err
	}
	return &protoSchema{file: fd}, nil
}

// protoFile compiles one file whose imports are in deps (or Google's well-known types).
func protoFile(ctx context.Context, name, text string, deps *protoregistry.Files) (protoreflect.FileDescriptor, error) {
	if fdp := serializedDescriptor(text); fdp != nil {
		fd, err := protodesc.NewFile(fdp, resolver{deps})
		if err != nil {
			return nil, fmt.Errorf("protobuf schema (serialized descriptor): %w", err)
		}
		return fd, nil
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(
		func(path string) (protocompile.SearchResult, error) {
			if path == name {
				return protocompile.SearchResult{Source: io.NopCloser(strings.NewReader(text))}, nil
			}
			if fd, err := deps.FindFileByPath(path); err == nil {
				return protocompile.SearchResult{Desc: fd}, nil
			}
			return protocompile.SearchResult{}, fmt.Errorf("import %q is not among the schema's references", path)
		}))}
	files, err := c.Compile(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("compile Protobuf schema: %w", err)
	}
	return files[0], nil
}

// serializedDescriptor reads text as a base64-encoded FileDescriptorProto; nil when it is not.
func serializedDescriptor(text string) *descriptorpb.FileDescriptorProto {
	text = strings.TrimSpace(text)
	if text == "" || strings.ContainsAny(text, " \n\t;{") {
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if proto.Unmarshal(raw, fdp) != nil || fdp.GetName() == "" {
		return nil
	}
	return fdp
}

// resolver finds imports among a schema's references, then among the well-known types.
type resolver struct{ deps *protoregistry.Files }

func (r resolver) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.deps.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (r resolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.deps.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, err
}

// message finds the message type that Confluent's message indexes point at: the first index
// into the file's top-level messages, each next one into the nested messages of the last.
func (s *protoSchema) message(indexes []int) (protoreflect.MessageDescriptor, error) {
	if len(indexes) == 0 {
		indexes = []int{0}
	}
	msgs := s.file.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range indexes {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("message index %v: the schema has no message %d there", indexes, i)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// protoJSON is how decoded messages are written: protojson with the .proto field names (the
// names Connect's ProtobufConverter gives fields) and every field present, defaults included,
// so each field has a column value.
var protoJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// decode turns the bytes of one message of the type at indexes into JSON.
func (s *protoSchema) decode(indexes []int, b []byte) ([]byte, error) {
	md, err := s.message(indexes)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("protobuf message %s: %w", md.FullName(), err)
	}
	out, err := protoJSON.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("protobuf message %s as JSON: %w", md.FullName(), err)
	}
	// protojson varies its spaces on purpose; rows must not vary with them
	compact := bytes.NewBuffer(make([]byte, 0, len(out)))
	if err := json.Compact(compact, out); err != nil {
		return nil, fmt.Errorf("protobuf message %s as JSON: %w", md.FullName(), err)
	}
	return compact.Bytes(), nil
}
