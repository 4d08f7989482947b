package connect

import (
	"context"
	"net/http/httptest"
	"testing"
)

// A task's trace quoting a secret (the intake URL, its secret segment, a password) is redacted
// for callers who are not the admin.
func TestRedactTrace(t *testing.T) {
	cfg := map[string]string{"http.api.url": "https://stream.example/stream/1/orders/S3CRETS3CRETS3CRET", "connection.password": "pa55word",
		"topics": "orders"}
	trace := "post https://stream.example/stream/1/orders/S3CRETS3CRETS3CRET: refused; secret S3CRETS3CRETS3CRET; password pa55word; topic orders"
	operator := httptest.NewRequest("GET", "/", nil)
	admin := operator.WithContext(context.WithValue(operator.Context(), callerKey{}, caller{admin: true}))
	want := "post [hidden]: refused; secret [hidden]; password [hidden]; topic orders"
	if got := redact(operator, cfg, trace); got != want {
		t.Errorf("operator reads %q, want %q", got, want)
	}
	if got := redact(admin, cfg, trace); got != trace {
		t.Errorf("admin reads %q", got)
	}
}

// The credentials of a converter's Schema Registry are secrets: basic.auth.user.info, a bearer
// token, and the URLs, which may carry user:password@.
func TestRegistryCredentialsAreSecret(t *testing.T) {
	for key, want := range map[string]bool{
		"value.converter.basic.auth.user.info": true, "key.converter.schema.registry.basic.auth.user.info": true,
		"value.converter.bearer.auth.token": true, "value.converter.schema.registry.url": true,
		"key.converter.schema.registry.url": true, "value.converter.schema.registry.ssl.truststore.password": true,
		"value.converter": false, "value.converter.schemas.enable": false, "value.converter.auto.register.schemas": false,
	} {
		if got := secretKey(key); got != want {
			t.Errorf("secretKey(%q) = %v, want %v", key, got, want)
		}
	}
}
