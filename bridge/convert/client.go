package convert

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// registryKeys are the Schema Registry client keys the registry converters read.
var registryKeys = []string{
	"schema.registry.url",
	"basic.auth.credentials.source", "basic.auth.user.info", "schema.registry.basic.auth.user.info",
	"bearer.auth.credentials.source", "bearer.auth.token",
	"schema.registry.ssl.truststore.location", "schema.registry.ssl.truststore.type", "schema.registry.ssl.truststore.password",
	"schema.registry.ssl.keystore.location", "schema.registry.ssl.keystore.type", "schema.registry.ssl.keystore.password",
	"schema.registry.ssl.key.password", "schema.registry.ssl.endpoint.identification.algorithm",
	"schema.registry.request.timeout.ms",
}

// ignoredRegistryKeys only matter to serializers (which schema to register or look up), not to
// reading records, whose schema id is in each record.
var ignoredRegistryKeys = []string{
	"auto.register.schemas", "use.latest.version", "latest.compatibility.strict", "normalize.schemas",
	"key.subject.name.strategy", "value.subject.name.strategy", "use.schema.id", "id.compatibility.strict",
	"schemas.cache.config", "max.schemas.per.subject", "connect.meta.data", "enhanced.avro.schema.support",
	"specific.avro.reader", "avro.use.logical.type.converters", "scrub.invalid.names", "generalized.sum.type.support",
	"json.fail.invalid.schema", "json.fail.unknown.properties", "avro.reflection.allow.null",
}

// registryConverter builds one of the Schema Registry converters from its keys.
func (p *parser) registryConverter(class string) Converter {
	opts := p.clientOptions()
	if len(p.errs) > 0 {
		return nil
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		p.fail("schema.registry.url", "%v", err)
		return nil
	}
	switch class {
	case AvroConverter:
		return newAvroConverter(cl)
	case ProtobufConverter:
		return newProtobufConverter(cl)
	}
	return newJSONSchemaConverter(cl)
}

// clientOptions reads the registry's URLs, credentials and TLS settings.
func (p *parser) clientOptions() []sr.ClientOpt {
	raw := p.get("schema.registry.url")
	var urls []string
	for _, u := range strings.Split(raw, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			p.fail("schema.registry.url", "%q is not an http or https URL", u)
			continue
		}
		urls = append(urls, u)
	}
	if raw == "" {
		p.fail("schema.registry.url", "missing: the Schema Registry's URL (several separated by commas)")
	}
	timeout := 10 * time.Second
	if v := p.get("schema.registry.request.timeout.ms"); v != "" {
		if ms, err := time.ParseDuration(v + "ms"); err != nil || ms < time.Millisecond {
			p.fail("schema.registry.request.timeout.ms", "must be a positive number of milliseconds, got %q", v)
		} else {
			timeout = ms
		}
	}
	opts := []sr.ClientOpt{sr.URLs(urls...), sr.UserAgent("kbridge"), sr.HTTPClient(&http.Client{Timeout: timeout})}
	switch source := strings.ToUpper(p.get("basic.auth.credentials.source")); source {
	case "", "URL": // user:password@ in the URL, which Go's HTTP client sends as basic auth
	case "USER_INFO":
		info := p.get("basic.auth.user.info")
		if info == "" {
			info = p.get("schema.registry.basic.auth.user.info")
		}
		user, pass, ok := strings.Cut(info, ":")
		if !ok {
			p.fail("basic.auth.user.info", "must be user:password with basic.auth.credentials.source=USER_INFO")
		}
		opts = append(opts, sr.BasicAuth(user, pass))
	default:
		p.fail("basic.auth.credentials.source", "must be URL or USER_INFO, got %q", source)
	}
	switch source := strings.ToUpper(p.get("bearer.auth.credentials.source")); source {
	case "":
	case "STATIC_TOKEN":
		if p.get("bearer.auth.token") == "" {
			p.fail("bearer.auth.token", "missing with bearer.auth.credentials.source=STATIC_TOKEN")
		}
		opts = append(opts, sr.BearerToken(p.get("bearer.auth.token")))
	default:
		p.fail("bearer.auth.credentials.source", "must be STATIC_TOKEN, got %q", source)
	}
	if tc := p.tlsConfig(); tc != nil {
		opts = append(opts, sr.DialTLSConfig(tc))
	}
	return opts
}

// tlsConfig reads the schema.registry.ssl.* keys; stores are PEM files (Go reads no JKS).
func (p *parser) tlsConfig() *tls.Config {
	const pre = "schema.registry.ssl."
	trust, keys := p.get(pre+"truststore.location"), p.get(pre+"keystore.location")
	verify := p.get(pre + "endpoint.identification.algorithm")
	if trust == "" && keys == "" && !p.has(pre+"endpoint.identification.algorithm") {
		return nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if trust != "" {
		p.pem(pre + "truststore.type")
		pem, err := os.ReadFile(trust)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			p.fail(pre+"truststore.location", "%v", err)
		case !pool.AppendCertsFromPEM(pem):
			p.fail(pre+"truststore.location", "%s holds no PEM certificate", trust)
		}
		tc.RootCAs = pool
	}
	if keys != "" {
		p.pem(pre + "keystore.type")
		pem, err := os.ReadFile(keys)
		if err != nil {
			p.fail(pre+"keystore.location", "%v", err)
		} else if cert, err := tls.X509KeyPair(pem, pem); err != nil {
			p.fail(pre+"keystore.location", "a PEM certificate chain and its unencrypted private key: %v", err)
		} else {
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	switch strings.ToLower(verify) {
	case "https":
	case "":
		if p.has(pre + "endpoint.identification.algorithm") {
			tc.InsecureSkipVerify = true // asked for: an empty algorithm skips host name checks, as in Kafka
		}
	default:
		p.fail(pre+"endpoint.identification.algorithm", "must be https or empty, got %q", verify)
	}
	return tc
}

// pem checks that a store type is PEM (or left out).
func (p *parser) pem(key string) {
	if t := strings.ToUpper(p.get(key)); t != "" && t != "PEM" {
		p.fail(key, "only PEM stores are read, got %q; convert the store with keytool and openssl", t)
	}
}
