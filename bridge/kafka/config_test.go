package kafka_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/bridge/kafka"
	"github.com/kbridge/kbridge/sink"
)

func TestParsePipeline(t *testing.T) {
	t.Parallel()
	base := func(extra ...string) map[string]string {
		m := map[string]string{"name": "orders", "kbridge.source": "shop", "topics": "orders, payments"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	p, warnings, err := kafka.ParsePipeline(base())
	if err != nil || len(warnings) != 0 {
		t.Fatalf("defaults: %v %v", err, warnings)
	}
	if p.GroupID != "connect-orders" || p.BatchMaxSize != 500 || p.CommitLevel != sink.LevelTarget ||
		p.ErrorsTolerance != "none" || p.NullValues != "ignore" || strings.Join(p.Topics, "|") != "orders|payments" || p.StartAtEnd {
		t.Fatalf("defaults: %+v", p)
	}
	p, warnings, err = kafka.ParsePipeline(base("batch.max.size", "1000", "errors.tolerance", "ALL",
		"errors.deadletterqueue.topic.name", "orders-dlq", "errors.deadletterqueue.context.headers.enable", "true",
		"kbridge.commit.level", "staging", "consumer.override.auto.offset.reset", "latest", "consumer.group.id", "g2",
		"consumer.override.group.instance.id", "pod-0", "consumer.session.timeout.ms", "6000",
		"connector.class", "io.confluent.connect.http.HttpSinkConnector", "batch.separator", ",", "frobnicate", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.BatchMaxSize != 1000 || p.ErrorsTolerance != "all" || p.DeadLetterTopic != "orders-dlq" || !p.DeadLetterHeaders ||
		p.CommitLevel != sink.LevelStaging || !p.StartAtEnd || p.GroupID != "g2" || p.InstanceID != "pod-0" || p.SessionTimeout != 6*time.Second {
		t.Fatalf("explicit keys: %+v", p)
	}
	wantWarnings := "batch.separator: ignored: rows are written as CSV, not joined into a request body|frobnicate: unknown key, ignored"
	if got := strings.Join(warnings, "|"); got != wantWarnings {
		t.Fatalf("warnings %q, want %q", got, wantWarnings)
	}

	for _, tc := range []struct {
		keys map[string]string
		want string
	}{
		{map[string]string{"kbridge.source": "s", "topics": "a"}, "name: missing"},
		{map[string]string{"name": "n", "topics": "a"}, "kbridge.source: missing: name the source whose sinks receive the records"},
		{map[string]string{"name": "n", "kbridge.source": "s"}, "topics: set topics or topics.regex"},
		{base("topics.regex", "o.*"), "topics.regex: set topics or topics.regex, not both"},
		{base("topics", "", "topics.regex", "(("), "topics.regex: error parsing regexp: missing closing ): `((`"},
		{base("batch.max.size", "0"), `batch.max.size: must be an integer from 1 to 1000000, got "0"`},
		{base("batch.max.size", "many"), `batch.max.size: must be an integer from 1 to 1000000, got "many"`},
		{base("errors.tolerance", "some"), `errors.tolerance: must be one of none, all, got "some"`},
		{base("errors.deadletterqueue.topic.name", "dlq"), "errors.deadletterqueue.topic.name: needs errors.tolerance=all"},
		{base("topic2table.map", "orders"), `topic2table.map: entry "orders": want topic:table`},
		{base("topic2table.map", "orders:a,orders:b"), `topic2table.map: topic "orders" is mapped twice`},
		{base("topic2table.map", "orders:my table"), `topic2table.map: entry "orders:my table": table "my table": a table name has letters, digits, underscores and dashes, at most 96`},
		{base("topic2table.map", "orders:in.shop.orders"), `topic2table.map: entry "orders:in.shop.orders": table "in.shop.orders": want a name or a table id in|out.c-<bucket>.<table>`},
		{base("errors.tolerance", "all", "errors.deadletterqueue.topic.name", "orders"),
			`errors.deadletterqueue.topic.name: "orders" is also consumed by this pipeline`},
		{base("behavior.on.null.values", "delete"), `behavior.on.null.values: must be one of ignore, fail, got "delete"`},
		{base("errors.deadletterqueue.context.headers.enable", "yes"), `errors.deadletterqueue.context.headers.enable: must be true or false, got "yes"`},
		{base("kbridge.commit.level", "disk"), `kbridge.commit.level: must be one of local, staging, target, got "disk"`},
		{base("consumer.override.auto.offset.reset", "none"), `consumer.override.auto.offset.reset: must be one of earliest, latest, got "none"`},
		{base("consumer.session.timeout.ms", "10"), `consumer.override.session.timeout.ms: must be milliseconds from 1000 to 3600000, got "10"`},
		{map[string]string{"name": "n", "topics": "a", "batch.max.size": "0", "tasks.max": "many"},
			"batch.max.size: must be an integer from 1 to 1000000, got \"0\"\ntasks.max: must be an integer from 1 to 64, got \"many\"\n" +
				"kbridge.source: missing: name the source whose sinks receive the records"},
		{base("errors.tolerance", "some", "errors.deadletterqueue.topic.name", "dlq"), `errors.tolerance: must be one of none, all, got "some"`},
	} {
		if _, _, err := kafka.ParsePipeline(tc.keys); err == nil || err.Error() != tc.want {
			t.Errorf("ParsePipeline(%v) = %v, want %s", tc.keys, err, tc.want)
		}
	}
}

func TestClientConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  kafka.ClientConfig
		want string
	}{
		{kafka.ClientConfig{Brokers: []string{"k:9092"}}, ""},
		{kafka.ClientConfig{}, "kafka.brokers: at least one broker address is needed"},
		{kafka.ClientConfig{Brokers: []string{"k"}}, `kafka.brokers: "k" has no port`},
		{kafka.ClientConfig{Brokers: []string{"k:1"}, TLS: kafka.TLSConfig{CertFile: "c"}}, "kafka.tls.certFile, kafka.tls.keyFile: give both or neither"},
		{kafka.ClientConfig{Brokers: []string{"k:1"}, SASL: kafka.SASLConfig{Mechanism: "GSSAPI"}}, `kafka.sasl.mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`},
		{kafka.ClientConfig{Brokers: []string{"k:1"}, SASL: kafka.SASLConfig{Mechanism: "plain"}}, "kafka.sasl.username: needed with mechanism plain"},
	} {
		err := tc.cfg.Validate()
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
