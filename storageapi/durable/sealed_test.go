package durable_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbridge/kbridge/storageapi/durable"
)

type secretRecord struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

func ring(t *testing.T, keys ...durable.Key) *durable.Keyring {
	t.Helper()
	r, err := durable.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSealedRoundTripAndRotation: a sealed record holds no secret in clear text, opens with
// its key, is stale under a newer current key, and opens no more once its key is gone.
func TestSealedRoundTripAndRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	k1, k2 := durable.GenerateKey("k1"), durable.GenerateKey("k2")
	want := secretRecord{Name: "shop", Secret: "s3cr3t-value-never-in-clear"}
	if err := durable.WriteSealed(path, want, ring(t, k1)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(want.Secret)) || !bytes.Contains(data, []byte(`"keyId": "k1"`)) {
		t.Fatalf("sealed file:\n%s", data)
	}
	var got secretRecord
	if stale, err := durable.ReadSealed(path, &got, ring(t, k1)); err != nil || stale || got != want {
		t.Fatalf("read %+v stale %v: %v", got, stale, err)
	}
	// k2 is the new current key; k1 still opens.
	rotated := ring(t, k2, k1)
	if stale, err := durable.ReadSealed(path, &got, rotated); err != nil || !stale || got != want {
		t.Fatalf("after rotation: %+v stale %v: %v", got, stale, err)
	}
	if err := durable.WriteSealed(path, got, rotated); err != nil {
		t.Fatal(err)
	}
	if stale, err := durable.ReadSealed(path, &got, ring(t, k2)); err != nil || stale || got != want {
		t.Fatalf("resealed: %+v stale %v: %v", got, stale, err)
	}
	if _, err := durable.ReadSealed(path, &got, ring(t, k1)); !errors.Is(err, durable.ErrSealed) || !strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("without its key: %v", err)
	}
	if _, err := durable.ReadSealed(path, &got, nil); !errors.Is(err, durable.ErrSealed) {
		t.Fatalf("without any key: %v", err)
	}
	// Another key under the same id does not open it.
	if _, err := durable.ReadSealed(path, &got, ring(t, durable.GenerateKey("k2"))); !errors.Is(err, durable.ErrSealed) {
		t.Fatalf("wrong key: %v", err)
	}
}

// TestPlainRecordsStillLoad: records written before a key was configured are read and
// reported stale, so they get sealed.
func TestPlainRecordsStillLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	want := secretRecord{Name: "shop", Secret: "plain"}
	if err := durable.Write(path, want); err != nil {
		t.Fatal(err)
	}
	var got secretRecord
	if stale, err := durable.ReadSealed(path, &got, ring(t, durable.GenerateKey("k1"))); err != nil || !stale || got != want {
		t.Fatalf("%+v stale %v: %v", got, stale, err)
	}
	if stale, err := durable.ReadSealed(path, &got, nil); err != nil || stale || got != want {
		t.Fatalf("no keys: %+v stale %v: %v", got, stale, err)
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := durable.GenerateKey("2026-12"), durable.GenerateKey("old")
	keys, err := durable.ParseKeys("# current first\n" + k1.String() + "\n" + k2.String() + "\n")
	if err != nil || len(keys) != 2 || keys[0].ID != "2026-12" || !bytes.Equal(keys[1].Secret, k2.Secret) {
		t.Fatalf("%v %v", keys, err)
	}
	if keys, err := durable.ParseKeys(k1.String() + "," + k2.String()); err != nil || len(keys) != 2 {
		t.Fatalf("comma separated: %v %v", keys, err)
	}
	for _, bad := range []string{"nokey", "a:" + "c2hvcnQ=", "a b:x", k1.String() + "," + k1.String()} {
		if _, err := durable.ParseKeys(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
