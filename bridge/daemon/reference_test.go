package daemon_test

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/daemon"
)

var update = flag.Bool("update", false, "rewrite the key reference in docs/configuration.md")

// allowed are the values each key accepts, as the Validate functions check them.
var allowed = map[string]string{
	"defaultBranchId":                  "0: the project's default branch, read from Storage; else a branch of the project",
	"sink.dataDir":                     "required",
	"sink.maxLocalBytes":               "≥ 1 MiB",
	"sink.retryAfter":                  "> 0",
	"sink.keepImportedFiles":           "≥ 0",
	"sink.encryption.keys":             "`<id>:<base64 of 32 bytes>`, comma-separated; the first seals",
	"sink.encryption.keyFile":          "a file of such keys, one a line, after `keys`",
	"sink.mapping.templateTimeout":     "1ms–1m; 0 = 1s",
	"sink.mapping.templateMaxStack":    "10–10000; 0 = 500",
	"sink.mapping.templateMaxOutput":   "1 KiB–64 MiB; 0 = 1 MiB",
	"sink.mapping.templateBatchSize":   "1–10000; 0 = 256",
	"sink.mapping.templateMemoryLimit": "32 MiB–64 GiB; 0 = 256 MiB",
	"sink.mapping.templateWorkers":     "1–64; 0 = 4",
	"sink.staging.minInterval":         "≥ 0",
	"sink.target.minInterval":          "≥ 0",
	"sink.target.maxSlices":            "1–1000",
	"sink.target.jobLimit":             "1–100",
	"sink.target.importTimeout":        "> 0",
	"storage.url":                      "required",
	"storage.token":                    "required",
	"storage.requestTimeout":           "> 0",
	"storage.uploadTimeout":            "> 0",
	"storage.retry.maxAttempts":        "≥ 1",
	"storage.retry.maxInterval":        "≥ storage.retry.initialInterval",
	"storage.retry.multiplier":         "≥ 1",
	"storage.retry.jitter":             "0 ≤ x < 1",
	"storage.jobPoll.maxInterval":      "≥ storage.jobPoll.initialInterval",
	"kafka.brokers":                    "host:port list; required with pipelines",
	"kafka.tls.certFile":               "with kafka.tls.keyFile",
	"kafka.sasl.mechanism":             "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or empty",
	"kafka.sasl.username":              "required with a mechanism",
	"intake.listen":                    "empty turns the intake off",
	"intake.maxBodySize":               "100 B–4 MB",
	"intake.maxNdjsonBodySize":         "intake.maxBodySize–256 MB",
	"intake.maxNdjsonLines":            "1–10,000,000 records of one NDJSON body; more is 413 stream.in.tooManyLines",
	"intake.maxHeaderBytes":            "1 KB–1 MB",
	"intake.trustedProxies":            "CIDRs or addresses",
	"api.listen":                       "empty turns the API off",
	"api.defaultBranchId":              "set from Storage's default branch",
	"api.tokenCacheTtl":                "0–5m: reads accept a deleted token for at most this long; writes always verify the token with Storage",
	"api.taskTtl":                      "≥ 1m",
	"api.maxBodySize":                  "1 KB–64 MB",
	"connect.listen":                   "empty turns it off; off without kafka.brokers",
	"connect.connectors":               "connector files (JSON or .properties) or directories; see connect.md",
	"connect.auth.type":                "required while the API is on: `basic`, `bearer`, or `none` to serve it without credentials (`kbridge dev` sets none); see [connect.md](connect.md#authentication)",
	"connect.auth.username":            "basic: the operator's user; it sees secrets in connector configs as `[hidden]`",
	"connect.auth.password":            "basic: the operator's password",
	"connect.auth.token":               "bearer: the operator's token",
	"connect.auth.adminUsername":       "basic, optional: the admin's user, who also sees the secrets",
	"connect.auth.adminPassword":       "basic: the admin's password",
	"connect.auth.adminToken":          "bearer, optional: the admin's token",
	"cluster.enabled":                  "true: definitions shared through Kafka (needs kafka.brokers; every replica needs the same sink.encryption keys); see operations.md",
	"cluster.configTopic":              "a Kafka topic name; one partition, compacted, created if missing",
	"cluster.statusTopic":              "a Kafka topic name other than cluster.configTopic; compacted, created if missing",
	"cluster.replicationFactor":        "-1 (the broker's default) or 1–32767",
	"cluster.member":                   "empty: the host name (the pod name); no `/`",
	"cluster.writeRetryBackoff":        "> 0",
	"metrics.listen":                   "empty turns it off",
	"metrics.pprof":                    "true serves Go's profiles at /debug/pprof/ on the metrics listener",
	"restartBackoff":                   "≥ 1s",
	"shutdownTimeout":                  "≥ 1s; bounds the whole shutdown (drainOnShutdown takes at most three quarters of what is left of it once the intake stopped)",
	"drainOnShutdown":                  "true: at shutdown the local level is imported before the Kafka offsets are committed (scaling in); see operations.md",
	"log.format":                       "json or text",
	"log.level":                        "debug, info, warn or error: every component starts at it; each component's level can be changed at run time through the Connect API's `/admin/loggers` ([connect.md](connect.md))",
	"sources":                          "file only: see above",
	"pipelines":                        "file only: Kafka Connect keys, see kafka.md",
}

// The key reference in docs/configuration.md lists every key of the configuration with its
// default and environment variable; regenerate it with go test -run TestConfigReference -update.
func TestConfigReference(t *testing.T) {
	var b strings.Builder
	b.WriteString("| key | default | environment variable | allowed |\n|---|---|---|---|\n")
	walkKeys(reflect.ValueOf(daemon.DefaultConfig()), "", func(key string, v reflect.Value) {
		env := "KBRIDGE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if v.Kind() == reflect.Map || v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.String {
			env = "–"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", key, defaultText(v), env, allowed[key])
	})
	const path, begin, end = "../../docs/configuration.md", "<!-- keys -->\n", "<!-- /keys -->"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok1 := strings.Cut(string(doc), begin)
	_, tail, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("%s has no %q … %q section", path, begin, end)
	}
	want := head + begin + b.String() + end + tail
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(doc) != want {
		t.Fatalf("%s lists other keys or defaults than the code; run go test ./bridge/daemon -run TestConfigReference -update", path)
	}
	for key := range allowed {
		if !strings.Contains(b.String(), "| `"+key+"` |") {
			t.Errorf("allowed names %q, which is not a key", key)
		}
	}
}

func walkKeys(v reflect.Value, path string, fn func(string, reflect.Value)) {
	if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(time.Duration(0)) {
		for i := 0; i < v.NumField(); i++ {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			if path != "" {
				tag = path + "." + tag
			}
			walkKeys(v.Field(i), tag, fn)
		}
		return
	}
	fn(path, v)
}

func defaultText(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.Slice || v.Kind() == reflect.Map:
		return "none"
	case v.Kind() == reflect.Bool:
		return fmt.Sprintf("`%t`", v.Bool())
	case v.IsZero():
		if v.Kind() == reflect.String {
			return "empty"
		}
		return "`0`"
	}
	return fmt.Sprintf("`%v`", v.Interface())
}
