package sink_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/sink"
	"github.com/kbridge/kbridge/storageapi/durable"
)

const sourceSecret = "S3cretOfTheSourceNeverOnDiskInClear0123456789ab"

// TestSecretsSealedAtRest writes a source secret and a staged file's upload credentials with no
// key (clear text, as before), then restarts with a key: every record is sealed, no secret is
// left in clear text in any file of the data directory, and the definitions still load. Then
// the key is rotated.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k1, k2 := durable.GenerateKey("k1"), durable.GenerateKey("k2")
	withKeys := func(keys ...durable.Key) func(*sink.Config) {
		return func(c *sink.Config) {
			var s []string
			for _, k := range keys {
				s = append(s, k.String())
			}
			c.Encryption.Keys = strings.Join(s, ",")
		}
	}

	m, err := sink.New(testConfig(e.dir), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	stop := runUntil(t, m)
	if err := m.PutSource(sink.Source{Key: sourceKey, Type: "http", Name: "events", Secret: sourceSecret}); err != nil {
		t.Fatal(err)
	}
	settings := patch(syncEachBatch, "staging.upload.trigger.count", 1, "target.import.trigger.count", 1_000_000)
	if err := m.PutSink(sink.Sink{Key: sinkKey(0), Name: "sink", TableID: "in.c-s.sealed", Columns: columns, Settings: settings}); err != nil {
		t.Fatal(err)
	}
	for _, w := range writeBatches(t, m, 0, 3, 3) {
		if err := w.Wait(ctxT(t, 20*time.Second), sink.LevelStaging); err != nil {
			t.Fatal(err)
		}
	}
	tok := sinkToken(t, m, sinkKey(0))
	if tok == nil {
		t.Fatal("the sink has no token")
	}
	stop()
	if files := filesContaining(t, e.dir, sourceSecret); len(files) == 0 {
		t.Fatal("without a key the secret should be in clear text: the check cannot see it")
	}
	if files := filesContaining(t, e.dir, tok.Secret); len(files) == 0 {
		t.Fatal("without a key the sink token should be in clear text: the check cannot see it")
	}

	// The first start with a key seals what is there.
	sealed := newManager(t, e, withKeys(k1))
	if src, ok := sealed.Source(sourceKey); !ok || src.Secret != sourceSecret {
		t.Fatalf("source after sealing: %+v", src)
	}
	credentials := stagedCredentials(t, e.dir, k1)
	if len(credentials) == 0 {
		t.Fatal("no upload credentials found in the file records")
	}
	if got := sinkToken(t, sealed, sinkKey(0)); got == nil || got.Secret != tok.Secret {
		t.Fatalf("sink token after sealing: %+v", got)
	}
	for _, secret := range append(credentials, sourceSecret, tok.Secret) {
		if files := filesContaining(t, e.dir, secret); len(files) > 0 {
			t.Errorf("%.12s… in clear text in %v", secret, files)
		}
	}
	assertKeyID(t, e.dir, "k1")
	closeManager(t, sealed)

	// Rotation: k2 first seals, k1 still opens; afterwards k1 can go.
	closeManager(t, newManager(t, e, withKeys(k2, k1)))
	assertKeyID(t, e.dir, "k2")
	rotated := newManager(t, e, withKeys(k2))
	if src, ok := rotated.Source(sourceKey); !ok || src.Secret != sourceSecret {
		t.Fatalf("source after rotation: %+v", src)
	}
	closeManager(t, rotated)
	if _, err := sink.New(withConfig(testConfig(e.dir), withKeys(k1)), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk}); err == nil ||
		!strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("start with a key that no longer opens the records: %v", err)
	}
}

func withConfig(c sink.Config, fn func(*sink.Config)) sink.Config {
	fn(&c)
	return c
}

func newManager(t *testing.T, e *env, adjust func(*sink.Config)) *sink.Manager {
	t.Helper()
	m, err := sink.New(withConfig(testConfig(e.dir), adjust), sink.Deps{Storage: newClient(t, e.em.url), Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func closeManager(t *testing.T, m *sink.Manager) {
	t.Helper()
	if err := m.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// filesContaining lists the files under dir whose bytes contain s.
func filesContaining(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(s)) {
			out = append(out, strings.TrimPrefix(path, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stagedCredentials opens the file records with key and returns the credential strings of
// their staging files.
func stagedCredentials(t *testing.T, dir string, key durable.Key) []string {
	t.Helper()
	ring, err := durable.NewKeyring([]durable.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	records, _ := filepath.Glob(filepath.Join(dir, "sinks", "*", "*", "*", "*", "*", "file.json"))
	var out []string
	for _, path := range records {
		var rec struct{ StagingFile map[string]any }
		if _, err := durable.ReadSealed(path, &rec, ring); err != nil {
			t.Fatal(err)
		}
		collectCredentials(rec.StagingFile, false, &out)
	}
	return out
}

func collectCredentials(v any, inside bool, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			lk := strings.ToLower(k)
			secret := strings.Contains(lk, "credential") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") ||
				strings.Contains(lk, "sas") || strings.Contains(lk, "signature")
			collectCredentials(val, inside || secret, out)
		}
	case string:
		if inside && len(x) >= 16 {
			*out = append(*out, x)
		}
	}
}

// assertKeyID checks every definitions record and file record is sealed with the key id.
func assertKeyID(t *testing.T, dir, id string) {
	t.Helper()
	defs, _ := filepath.Glob(filepath.Join(dir, "definitions", "*", "*", "*.json"))
	files, _ := filepath.Glob(filepath.Join(dir, "sinks", "*", "*", "*", "*", "*", "file.json"))
	if len(defs) == 0 || len(files) == 0 {
		t.Fatalf("records: %d definitions, %d files", len(defs), len(files))
	}
	for _, path := range append(defs, files...) {
		data, _ := os.ReadFile(path)
		var env struct{ Sealed, KeyID string }
		if err := json.Unmarshal(data, &env); err != nil || env.Sealed != "AES-256-GCM" || env.KeyID != id {
			t.Errorf("%s: %+v %v, want sealed with %q", path, env, err, id)
		}
	}
}
