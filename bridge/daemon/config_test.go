package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/daemon"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	err := os.WriteFile(path, []byte(`
sink: {dataDir: /data, retryAfter: 2s}
storage: {url: "http://storage:8001", token: from-file}
kafka: {brokers: [k0:9092]}
connect: {auth: {type: none}}
pipelines:
  - {name: orders, kbridge.source: orders, topics: orders, consumer.override.group.instance.id: "${POD_NAME}"}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KBRIDGE_STORAGE_TOKEN": "from-env", "KBRIDGE_KAFKA_BROKERS": "a:1, b:2",
		"KBRIDGE_SINK_TARGET_MININTERVAL": "45s", "POD_NAME": "kbridge-2", "KBRIDGE_LOG_FORMAT": "text"}
	cfg, err := daemon.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Token != "from-env" || cfg.Storage.URL != "http://storage:8001" || strings.Join(cfg.Kafka.Brokers, "|") != "a:1|b:2" ||
		cfg.Sink.Target.MinInterval != 45*time.Second || cfg.Sink.RetryAfter != 2*time.Second || cfg.Log.Format != "text" ||
		cfg.Pipelines[0]["consumer.override.group.instance.id"] != "kbridge-2" || cfg.Metrics.Listen != ":9000" {
		t.Fatalf("loaded %+v", cfg)
	}

	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KBRIDGE_SINK_RETRYAFTER": "soon"}, `environment KBRIDGE_SINK_RETRYAFTER: time: invalid duration "soon"`},
		{map[string]string{"KBRIDGE_LOG_FORMAT": "xml"}, `log.format: must be json or text, got "xml"`},
		{map[string]string{"KBRIDGE_KAFKA_BROKERS": "nohost"}, `kafka.brokers: "nohost" has no port`},
		{map[string]string{"KBRIDGE_DEFAULTBRANCHID": "-1"}, "defaultBranchId: must not be negative (0: the project's default branch), got -1"},
		{map[string]string{"KBRIDGE_CONNECT_AUTH_TYPE": ""}, "connect.auth.type: missing: set basic or bearer with credentials, or none"},
		{map[string]string{"KBRIDGE_CONNECT_AUTH_TYPE": "basic"}, "connect.auth.username: missing (auth.type is basic)"},
		{map[string]string{"KBRIDGE_CLUSTER_ENABLED": "true", "KBRIDGE_CLUSTER_CONFIGTOPIC": "a b"}, `cluster.configTopic: "a b" is not a Kafka topic name`},
		{map[string]string{"KBRIDGE_CLUSTER_ENABLED": "true", "KBRIDGE_CLUSTER_MEMBER": "pod/0"}, `cluster.member: "pod/0" has a '/'`},
		{map[string]string{"KBRIDGE_CLUSTER_ENABLED": "true", "KBRIDGE_CLUSTER_REPLICATIONFACTOR": "0"}, "cluster.replicationFactor: must be -1"},
	} {
		_, err := daemon.Load(path, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want %q", tc.env, err, tc.want)
		}
	}
	if _, err := daemon.Load(filepath.Join(t.TempDir(), "missing.yaml"), os.LookupEnv); err == nil {
		t.Error("a missing file was accepted")
	}
	if got := cfg.ConnectConfig().Pipelines; len(got) != 1 || got["orders"] != "connect-orders" {
		t.Errorf("connect config pipelines %v, want orders in group connect-orders", got)
	}
}

// Every bad key of a pipeline is named, each with the pipeline's index.
func TestPipelineErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	err := os.WriteFile(path, []byte(`
sink: {dataDir: /data}
storage: {url: "http://storage:8001", token: t}
kafka: {brokers: [k0:9092]}
connect: {auth: {type: none}}
pipelines:
  - {name: orders, topics: orders, batch.max.size: "0"}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = daemon.Load(path, func(string) (string, bool) { return "", false })
	want := "pipelines[0]: batch.max.size: must be an integer from 1 to 1000000, got \"0\"\n" +
		"pipelines[0]: kbridge.source: missing: name the source whose sinks receive the records"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// Every error of a bad config starts with the key as docs/configuration.md lists it
// (sink.dataDir, not a package's own name for its section), so a reader finds it there.
func TestErrorsNameDocumentedKeys(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	err = os.WriteFile(path, []byte(`
defaultBranchId: -1
sink:
  dataDir: ""
  maxLocalBytes: 1
  staging: {minInterval: -1s}
  target: {minInterval: -1s, maxSlices: 0, jobLimit: 0, importTimeout: 0s, backoff: {base: 0s}}
  mapping: {templateTimeout: 2h}
storage: {url: "ftp://storage", token: ""}
kafka: {brokers: [nohost]}
intake: {listen: ":7000", publicUrl: "nowhere", maxBodySize: 1}
api: {listen: ":8000", publicUrl: "nowhere"}
restartBackoff: 1ms
shutdownTimeout: 0s
log: {format: xml}
cluster: {enabled: true, statusTopic: kbridge-configs, writeRetryBackoff: 0s}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = daemon.Load(path, func(string) (string, bool) { return "", false })
	if err == nil {
		t.Fatal("a config with every key wrong loaded")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{"sink.dataDir", "sink.staging.minInterval", "sink.target.maxSlices", "sink.target.backoff.base",
		"sink.mapping.templateTimeout", "storage.url", "storage.token", "intake.publicUrl", "api.publicUrl", "kafka.brokers", "log.format", "cluster.statusTopic",
		"restartBackoff", "shutdownTimeout"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want+": ")
		}
		if !found {
			t.Errorf("no error names %s:\n%v", want, err)
		}
	}
	for _, l := range lines {
		key, _, _ := strings.Cut(l, ": ")
		if !strings.Contains(string(doc), "| `"+key+"` |") {
			t.Errorf("%q names %q, which docs/configuration.md does not list", l, key)
		}
	}
}

// Table and column names Storage refuses are config errors naming the path, not a pipeline
// whose imports fail later.
func TestStorageNamesInConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kbridge.yaml")
	err := os.WriteFile(path, []byte(`
sink: {dataDir: /data}
storage: {url: "http://storage:8001", token: t}
sources:
  - id: shop
    type: http
    sinks:
      - {id: ok, tableId: in.c-shop.orders, columns: [{type: body, name: body}]}
      - id: bad
        tableId: "in.c-shop.t;DROP TABLE x"
        columns: [{type: uuid, name: id}, {type: body, name: "a b"}, {type: body, name: "😀"}]
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = daemon.Load(path, func(string) (string, bool) { return "", false })
	for _, want := range []string{`sources[0].sinks[1].tableId: table id "in.c-shop.t;DROP TABLE x": the table name "t;DROP TABLE x"`,
		`sources[0].sinks[1].columns[1].name "a b": want 1 to 64 letters`, `sources[0].sinks[1].columns[2].name "😀"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "sinks[0]") {
		t.Errorf("a valid sink named in %v", err)
	}
}

// A key that nothing reads is an error naming its path and the key it most likely means:
// in the file's sections, in a pipeline's Connect keys and in a column definition.
func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"pipeline:\n  - {name: orders, kbridge.source: orders, topics: orders}\n",
			`pipeline: unknown key; did you mean "pipelines"?`},
		{"pipelines:\n  - {name: orders, kbridge.source: orders, topicz: orders}\n",
			`pipelines[0].topicz: unknown key; did you mean "topics"?`},
		{"pipelines:\n  - {name: orders, kbridge.source: orders, topics: orders, errors.tolerence: all}\n",
			`pipelines[0].errors.tolerence: unknown key; did you mean "errors.tolerance"?`},
		{"sources:\n  - id: s\n    sinks:\n      - {id: k, tableId: in.c-a.b, columns: [{type: body, name: b}, {type: path, name: a, pth: x}]}\n",
			`sources[0].sinks[0].columns[1].pth: unknown key; did you mean "path"?`},
		{"pipelines:\n  - {name: o, kbridge.source: o, topics: o, value.converter: com.example.X}\n",
			`pipelines[0]: value.converter: unknown converter class "com.example.X"`},
		{"pipelines:\n  - {name: o, kbridge.source: o, topics: o, value.converter: io.confluent.connect.avro.AvroConverter}\n",
			`pipelines[0]: value.converter.schema.registry.url: missing`},
		{"pipelines:\n  - {name: o, kbridge.source: o, topics: o, value.converter: io.confluent.connect.avro.AvroConverter,\n" +
			"     value.converter.schema.registry.url: 'http://sr:8081', value.converter.schema.registy.url: 'http://sr:8081'}\n",
			`pipelines[0]: value.converter.schema.registy.url: unknown key for AvroConverter; did you mean "value.converter.schema.registry.url"?`},
		{"pipelines:\n  - {name: o, kbridge.source: o, topics: o, value.convertor: io.confluent.connect.avro.AvroConverter}\n",
			`pipelines[0].value.convertor: unknown key; did you mean "value.converter"?`},
		{"sink: {dataDir: /data, retryAftr: 1s}\n", `sink.retryAftr: unknown key; did you mean "retryAfter"?`},
		{"metrics: {listen: ':9000', prof: true}\n", `metrics.prof: unknown key; did you mean "pprof"?`},
	} {
		path := filepath.Join(t.TempDir(), "kbridge.yaml")
		base := "sink: {dataDir: /data}\nstorage: {url: \"http://storage:8001\", token: t}\nkafka: {brokers: [k0:9092]}\n"
		if strings.HasPrefix(tc.yaml, "sink:") {
			base = strings.Replace(base, "sink: {dataDir: /data}\n", "", 1)
		}
		if err := os.WriteFile(path, []byte(base+tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := daemon.Load(path, func(string) (string, bool) { return "", false })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// topic2table.map's YAML form is a block of topic: table lines.
func TestTopicTablesYAML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ block, want string }{
		{"      orders: orders\n      shop.payments: in.c-finance.payments\n", ""},
		{"      orders: orders\n      payments\n", `pipelines[0]: topic2table.map: entry "payments": want topic:table`},
	} {
		path := filepath.Join(t.TempDir(), "kbridge.yaml")
		cfg := "sink: {dataDir: /data}\nstorage: {url: \"http://storage:8001\", token: t}\nkafka: {brokers: [k0:9092]}\nconnect: {auth: {type: none}}\n" +
			"pipelines:\n  - name: shop\n    kbridge.source: shop\n    topics.regex: \"shop\\\\..*\"\n    topic2table.map: |\n" + tc.block
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := daemon.Load(path, func(string) (string, bool) { return "", false })
		if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
			t.Errorf("%q: error %v, want %q", tc.block, err, tc.want)
		}
	}
}
