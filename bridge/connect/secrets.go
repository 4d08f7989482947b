package connect

import (
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// hidden stands for a secret value in answers, as Connect shows a PASSWORD-typed key.
const hidden = "[hidden]"

// secretWords mark a config key whose value is a secret: Connect's PASSWORD-typed keys of the
// HTTP sinks (connection.password, the OAuth client secret, ...), credentials of any client
// override (sasl.jaas.config, ssl.key.password), tokens and authorization headers, and a
// Schema Registry converter's basic.auth.user.info (user:password).
var secretWords = []string{"password", "secret", "token", "credential", "authorization", "jaas.config",
	"api.key", "apikey", "private.key", "user.info"}

// secretKey tells whether key's value is secret. A Data Streams intake URL (http.api.url,
// http.url) carries its source's secret, so the URL keys are secret too, and so are a
// converter's Schema Registry URLs, which may carry the registry's credentials.
func secretKey(key string) bool {
	k := strings.ToLower(key)
	if k == "http.api.url" || k == "http.url" {
		return true
	}
	if strings.HasSuffix(k, "converter.schema.registry.url") { // may carry user:password@ (credentials source URL)
		return true
	}
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(k, w) })
}

// masked is cfg as the caller of r may see it: secret values hidden unless an admin asks.
func masked(r *http.Request, cfg map[string]string) map[string]string {
	if callerOf(r).admin {
		return cfg
	}
	out := maps.Clone(cfg)
	for k, v := range out {
		if v != "" && secretKey(k) {
			out[k] = hidden
		}
	}
	return out
}

// redact replaces, in text shown to a caller who is not an admin, every secret value of cfg
// (and the secret segment of an intake URL) by [hidden]: an error may quote one.
func redact(r *http.Request, cfg map[string]string, text string) string {
	if callerOf(r).admin || text == "" {
		return text
	}
	for k, v := range cfg {
		if !secretKey(k) || v == "" {
			continue
		}
		text = strings.ReplaceAll(text, v, hidden)
		if u, err := url.Parse(v); err == nil && len(path.Base(u.Path)) >= 8 {
			text = strings.ReplaceAll(text, path.Base(u.Path), hidden)
		}
	}
	return text
}

// unmask puts back the secrets a client sends as [hidden] (it read the config masked and sends
// it back changed elsewhere) from current, the connector's config; a [hidden] kbridge has no
// value for is an error on its key.
func unmask(cfg, current map[string]string) error {
	var keys []string
	for k, v := range cfg {
		if v != hidden || !secretKey(k) {
			continue
		}
		if old, ok := current[k]; ok {
			cfg[k] = old
		} else {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	return errorf(http.StatusBadRequest, "%s: %s stands for a secret the connector does not have; send the value",
		strings.Join(keys, ", "), hidden)
}
