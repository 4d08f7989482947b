package main_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// interopRecords is how many records of each format produce.py writes.
const interopRecords = 30

// Records written by a client nobody here wrote, Debian's python3-confluent-kafka (1.7, with
// python3-avro): AvroProducer for Avro keys and values, ProtobufSerializer and JSONSerializer
// for Protobuf and JSON Schema values, each registering its schema in kbridge dev's Schema
// Registry. A connector per format, created over the Connect REST API with the matching
// converter, imports every record with its fields as columns.
func TestInteropConfluentPython(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Fatal("/usr/bin/python3 is missing (.ci/test-deps installs it with python3-confluent-kafka)")
	}
	bin := buildKbridge(t)
	kafkaAddr, storageAddr, apiAddr, connectAddr, registryAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	_, kafkaPort, _ := strings.Cut(kafkaAddr, ":")
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--kafka-port", kafkaPort, "--storage-listen", storageAddr,
		"--metrics-listen", freeAddr(t), "--intake-listen", freeAddr(t), "--api-listen", apiAddr, "--connect-listen", connectAddr,
		"--schema-registry-listen", registryAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kbridge dev stderr:\n%s", logs.tail(60))
		}
	})
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Schema Registry     http://"+registryAddr) {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("kbridge dev did not print its Schema Registry")
	}
	api := "http://" + apiAddr + "/v1/branches/default"
	registry := "http://" + registryAddr
	formats := []struct {
		source, topic, converter string
		columns                  []string
	}{
		{"interopavro", "interop-avro", "io.confluent.connect.avro.AvroConverter", []string{"id", "quantity", "price", "placed", "note", "express"}},
		{"interopproto", "interop-proto", "io.confluent.connect.protobuf.ProtobufConverter", []string{"id", "quantity", "price", "express"}},
		{"interopjson", "interop-json", "io.confluent.connect.json.JsonSchemaConverter", []string{"id", "quantity", "price"}},
	}
	for _, f := range formats {
		createSource(t, api, f.source)
		cols := []string{`{"type":"kafka.key","name":"key","primaryKey":true}`}
		for _, c := range f.columns {
			cols = append(cols, fmt.Sprintf(`{"type":"path","name":%q,"path":%q,"rawString":true}`, c, c))
		}
		createSink(t, api, f.source, strings.Join(cols, ","))
		if status, body := request(t, http.MethodPatch, api+"/sources/"+f.source+"/settings",
			`{"settings":[{"key":"storage.level.staging.upload.trigger.interval","value":"2s"},{"key":"storage.level.target.import.trigger.interval","value":"30s"}]}`); status != http.StatusAccepted {
			t.Fatalf("settings of %s: %d %s", f.source, status, body)
		}
		keyConverter := "org.apache.kafka.connect.storage.StringConverter"
		if f.source == "interopavro" { // AvroProducer writes Avro keys too
			keyConverter = f.converter
		}
		config := fmt.Sprintf(`{"name":%q,"config":{"connector.class":"KeboolaSinkConnector","topics":%q,"kbridge.source":%q,
			"key.converter":%q,"key.converter.schema.registry.url":%q,"value.converter":%q,"value.converter.schema.registry.url":%q,
			"errors.tolerance":"none"}}`, f.source, f.topic, f.source, keyConverter, registry, f.converter, registry)
		if keyConverter != f.converter {
			config = strings.Replace(config, fmt.Sprintf(`"key.converter.schema.registry.url":%q,`, registry), "", 1)
		}
		if status, body := request(t, http.MethodPost, "http://"+connectAddr+"/connectors", config); status != http.StatusCreated {
			t.Fatalf("create connector %s: %d %s", f.source, status, body)
		}
	}

	script := exec.Command("/usr/bin/python3", "testdata/interop/produce.py", kafkaAddr, registry, fmt.Sprint(interopRecords))
	out, err := script.CombinedOutput()
	t.Logf("produce.py: %s", out)
	if err != nil {
		t.Fatalf("produce.py: %v", err)
	}
	if status, body := request(t, http.MethodGet, registry+"/subjects", ""); status != 200 ||
		strings.TrimSpace(body) != `["interop-avro-key","interop-avro-value","interop-json-value","interop-proto-value"]` {
		t.Errorf("subjects: %d %s", status, body)
	}

	for _, f := range formats {
		table := "in.c-" + f.source + ".events"
		var rows [][]string
		waitUntil(t, 3*time.Minute, fmt.Sprintf("%d rows in %s", interopRecords, table), func() bool {
			rows = tableRows(t, "http://"+storageAddr, "kbridge-dev-token", table)
			return len(rows) >= interopRecords
		})
		sort.Slice(rows, func(i, j int) bool { return rowNumber(rows[i][0]) < rowNumber(rows[j][0]) })
		if len(rows) != interopRecords {
			t.Errorf("%s: %d rows, want %d", table, len(rows), interopRecords)
		}
		for i, row := range rows {
			want := interopRow(f.source, i)
			if got := strings.Join(row, "|"); got != want {
				t.Errorf("%s row %d: %s, want %s", table, i, got, want)
			}
		}
	}
}

func rowNumber(key string) int {
	var n int
	fmt.Sscanf(key, "order-%d", &n)
	return n
}

// interopRow is the row of record i as produce.py writes it, each field in its column.
func interopRow(source string, i int) string {
	key := fmt.Sprintf("order-%d", i)
	switch source {
	case "interopavro":
		note := fmt.Sprintf("gift %d", i)
		if i%2 == 1 {
			note = "null"
		}
		placed := time.UnixMilli(1700000000000 + int64(i)).UTC().Format("2006-01-02T15:04:05.000Z")
		return fmt.Sprintf("%s|%s|%d|%d.34|%s|%s|%t", key, key, i, 12+i, placed, note, i%3 == 0)
	case "interopproto":
		return fmt.Sprintf("%s|%s|%d|%g|%t", key, key, i, 0.5+float64(i), i%3 == 0)
	}
	return fmt.Sprintf("%s|%s|%d|%g", key, key, i, 2.5+float64(i))
}
