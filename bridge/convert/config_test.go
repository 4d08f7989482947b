package convert_test

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kbridge/kbridge/bridge/convert"
	"github.com/kbridge/kbridge/bridge/schemaregistry"
)

// A bad converter class or key is an error naming the key.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		keys map[string]string
		want []string
	}{
		{"unknown class", map[string]string{"value.converter": "com.example.MyConverter"},
			[]string{`value.converter: unknown converter class "com.example.MyConverter"`}},
		{"registry url missing", map[string]string{"value.converter": convert.AvroConverter},
			[]string{"value.converter.schema.registry.url: missing"}},
		{"registry url not http", map[string]string{"value.converter": convert.ProtobufConverter,
			"value.converter.schema.registry.url": "http://ok:8081,ftp://x"},
			[]string{`value.converter.schema.registry.url: "ftp://x" is not an http or https URL`}},
		{"unknown key of a class", map[string]string{"value.converter": convert.JSONSchemaConverter,
			"value.converter.schema.registry.url": "http://sr:8081", "value.converter.schema.registry.ulr": "x"},
			[]string{"value.converter.schema.registry.ulr: unknown key for JsonSchemaConverter"}},
		{"user info without colon", map[string]string{"value.converter": convert.AvroConverter,
			"value.converter.schema.registry.url": "http://sr:8081", "value.converter.basic.auth.credentials.source": "USER_INFO",
			"value.converter.basic.auth.user.info": "ann"},
			[]string{"value.converter.basic.auth.user.info: must be user:password"}},
		{"credentials source", map[string]string{"value.converter": convert.AvroConverter,
			"value.converter.schema.registry.url": "http://sr:8081", "value.converter.basic.auth.credentials.source": "SASL_INHERIT"},
			[]string{"value.converter.basic.auth.credentials.source: must be URL or USER_INFO"}},
		{"jks truststore", map[string]string{"value.converter": convert.AvroConverter,
			"value.converter.schema.registry.url": "https://sr:8081", "value.converter.schema.registry.ssl.truststore.location": "/nonexistent.jks",
			"value.converter.schema.registry.ssl.truststore.type": "JKS"},
			[]string{"value.converter.schema.registry.ssl.truststore.type: only PEM", "value.converter.schema.registry.ssl.truststore.location: open /nonexistent.jks"}},
		{"schemas.enable not a boolean", map[string]string{"value.converter": convert.JSONConverter, "value.converter.schemas.enable": "yes"},
			[]string{`value.converter.schemas.enable: must be true or false, got "yes"`}},
		{"string encoding", map[string]string{"value.converter": convert.StringConverter, "value.converter.encoding": "latin1"},
			[]string{"value.converter.encoding: only UTF-8"}},
		{"a key of another class", map[string]string{"value.converter": convert.StringConverter, "value.converter.schemas.enable": "false"},
			[]string{"value.converter.schemas.enable: unknown key for StringConverter"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, errs := convert.Parse(tc.keys, "value.converter")
			if c != nil {
				t.Errorf("a converter from bad keys")
			}
			got := errors.Join(errs...)
			if got == nil || len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d", got, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(errs[i].Error(), want) {
					t.Errorf("error %q, want it to start with %q", errs[i], want)
				}
			}
		})
	}
}

// Keys that only serializers use are accepted; without a class nothing is converted.
func TestParseAccepts(t *testing.T) {
	t.Parallel()
	c, used, errs := convert.Parse(map[string]string{"value.converter": convert.AvroConverter,
		"value.converter.schema.registry.url":   "http://a:8081, http://b:8081",
		"value.converter.auto.register.schemas": "false", "value.converter.enhanced.avro.schema.support": "true",
		"key.converter": convert.StringConverter}, "value.converter")
	if len(errs) > 0 || c == nil {
		t.Fatalf("%v", errs)
	}
	for _, key := range []string{"value.converter", "value.converter.schema.registry.url", "value.converter.auto.register.schemas",
		"value.converter.enhanced.avro.schema.support"} {
		if !slices.Contains(used, key) {
			t.Errorf("%s not among the keys used: %v", key, used)
		}
	}
	if slices.Contains(used, "key.converter") {
		t.Errorf("key.converter used by value.converter")
	}
	if c, _, errs := convert.Parse(map[string]string{}, "key.converter"); c != nil || errs != nil {
		t.Errorf("a converter without key.converter: %v %v", c, errs)
	}
}

// Several URLs: one that refuses connections is passed over; basic auth (USER_INFO) is sent.
// A registry nobody answers at is an UnavailableError, not the record's fault.
func TestRegistryClient(t *testing.T) {
	t.Parallel()
	reg, err := schemaregistry.New(schemaregistry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := reg.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ann" || p != "s3cret" {
			http.Error(w, `{"error_code":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	body := `{"schema":"{\"type\":\"record\",\"name\":\"test\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"string\"}]}"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/subjects/t-value/versions", strings.NewReader(body))
	req.SetBasicAuth("ann", "s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("register: %v %v", resp, err)
	}
	dead := closedAddr(t)
	record, _ := hex.DecodeString("00000000013606666f6f")
	for _, tc := range []struct {
		name        string
		keys        map[string]string
		want        string
		unavailable bool
	}{
		{"second URL, user info", map[string]string{"schema.registry.url": "http://" + dead + "," + srv.URL,
			"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "ann:s3cret"}, `{"a":27,"b":"foo"}`, false},
		{"credentials in the URL", map[string]string{"schema.registry.url": strings.Replace(srv.URL, "http://", "http://ann:s3cret@", 1)},
			`{"a":27,"b":"foo"}`, false},
		{"wrong password", map[string]string{"schema.registry.url": srv.URL,
			"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "ann:nope"}, "", true},
		{"nobody listening", map[string]string{"schema.registry.url": "http://" + dead}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := map[string]string{"value.converter": convert.AvroConverter}
			for k, v := range tc.keys {
				keys["value.converter."+k] = v
			}
			got, err := converter(t, keys).Convert(context.Background(), record)
			var unavailable *convert.UnavailableError
			if errors.As(err, &unavailable) != tc.unavailable || string(got) != tc.want {
				t.Fatalf("got %s, %v", got, err)
			}
		})
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A registry over TLS, trusted through a PEM truststore; the schema of an id is fetched once
// however many records carry it.
func TestRegistryTLSAndCache(t *testing.T) {
	t.Parallel()
	reg, err := schemaregistry.New(schemaregistry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	h := reg.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/schemas/ids/") {
			fetches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	body := `{"schema":"{\"type\":\"record\",\"name\":\"test\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"string\"}]}"}`
	if resp, err := srv.Client().Post(srv.URL+"/subjects/t-value/versions", "application/json", strings.NewReader(body)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("register: %v %v", resp, err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	record, _ := hex.DecodeString("00000000013606666f6f")
	untrusted := converter(t, map[string]string{"value.converter": convert.AvroConverter, "value.converter.schema.registry.url": srv.URL})
	if _, err := untrusted.Convert(context.Background(), record); !errors.As(err, new(*convert.UnavailableError)) {
		t.Fatalf("a registry whose certificate is not trusted: %v, want it unavailable", err)
	}
	c := converter(t, map[string]string{"value.converter": convert.AvroConverter, "value.converter.schema.registry.url": srv.URL,
		"value.converter.schema.registry.ssl.truststore.type": "PEM", "value.converter.schema.registry.ssl.truststore.location": ca})
	fetches.Store(0)
	for range 50 {
		if got, err := c.Convert(context.Background(), record); err != nil || string(got) != `{"a":27,"b":"foo"}` {
			t.Fatalf("got %s, %v", got, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("schema fetched %d times for 50 records", n)
	}
}
