package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/kbridge/kbridge/bridge/strict"
	"github.com/kbridge/kbridge/mapping"
)

func init() {
	commands["mapping"] = command{
		summary: "'mapping test': render one event through a column mapping and print the row",
		run:     runMapping,
	}
}

func runMapping(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: kbridge mapping test --columns FILE --body FILE [--header 'Name: value']... [flags]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return errHelp
		}
		return errUsage
	}
	return runMappingTest(ctx, args[1:], stdout, stderr)
}

// headerFlags collects repeated --header 'Name: value' flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func runMappingTest(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mapping test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	columnsFile := fs.String("columns", "", "file with the column list: a JSON array or {\"columns\": [...]} (required)")
	bodyFile := fs.String("body", "", "file with the event body, - for standard input (required)")
	header := headerFlags(http.Header{})
	fs.Var(header, "header", "a request header 'Name: value' (repeatable); Content-Type defaults to application/json")
	ip := fs.String("ip", "127.0.0.1", "client IP address")
	asJSON := fs.Bool("json", false, "print the column values as the Stream API's test endpoint does")
	kafka := fs.Bool("kafka", false, "treat the body as a Kafka record value (always JSON)")
	topic := fs.String("topic", "", "Kafka topic (with --kafka)")
	partition := fs.Int("partition", 0, "Kafka partition (with --kafka)")
	offset := fs.Int64("offset", 0, "Kafka offset (with --kafka)")
	key := fs.String("key", "", "Kafka record key (with --kafka)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if *columnsFile == "" || *bodyFile == "" {
		fmt.Fprintln(stderr, "kbridge mapping test: --columns and --body are required")
		fs.Usage()
		return errUsage
	}
	m, err := loadMapping(*columnsFile)
	if err != nil {
		return err
	}
	body, err := readInput(*bodyFile)
	if err != nil {
		return err
	}
	clientIP, err := netip.ParseAddr(*ip)
	if err != nil {
		return fmt.Errorf("--ip: %w", err)
	}
	if http.Header(header).Get("Content-Type") == "" {
		http.Header(header).Set("Content-Type", "application/json")
	}
	now := time.Now()
	ev := mapping.Event{Body: body, Header: http.Header(header), ClientIP: clientIP, ReceivedAt: now,
		Kafka: *kafka, Topic: *topic, Partition: int32(*partition), Offset: *offset, Timestamp: now}
	if *key != "" {
		ev.Key = []byte(*key)
	}
	r := m.NewRenderer()
	if *asJSON {
		return printValues(stdout, m, r, &ev)
	}
	row, err := r.AppendRow(nil, &ev)
	if err != nil {
		return err
	}
	_, err = stdout.Write(row)
	return err
}

// printValues prints {"columns":[{"name","value"}]}, one row of the test endpoint's answer.
func printValues(w io.Writer, m *mapping.Mapping, r *mapping.Renderer, ev *mapping.Event) error {
	values, err := r.Values(ev)
	if err != nil {
		return err
	}
	type column struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	out := struct {
		Columns []column `json:"columns"`
	}{}
	for i, name := range m.Names() {
		out.Columns = append(out.Columns, column{Name: name, Value: values[i]})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func loadMapping(path string) (*mapping.Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--columns: %w", err)
	}
	shape := reflect.TypeOf([]mapping.Column{})
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		shape = reflect.TypeOf(struct {
			Columns []mapping.Column `json:"columns"`
		}{})
	}
	if errs := strict.JSON(data, shape); len(errs) > 0 {
		return nil, fmt.Errorf("--columns %s: %w", path, errors.Join(errs...))
	}
	columns, err := mapping.DecodeColumns(data)
	if err != nil {
		return nil, fmt.Errorf("--columns %s: %w", path, err)
	}
	m, err := mapping.Compile(columns, mapping.Config{})
	if err != nil {
		return nil, fmt.Errorf("--columns %s: %w", path, err)
	}
	return m, nil
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--body: %w", err)
	}
	return data, err
}
