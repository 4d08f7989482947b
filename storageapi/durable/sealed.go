package durable

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Records that hold secrets (source secrets, upload credentials, connector configs) are sealed
// at rest: the record's JSON is encrypted with AES-256-GCM under the keyring's current key and
// stored in an envelope that names the key:
//
//	{"sealed": "AES-256-GCM", "keyId": "2026-12", "nonce": "<base64>", "data": "<base64>"}
//
// Reading accepts a record sealed with any key of the ring and a plain JSON record (written
// before a key was configured); ReadSealed then reports the record as stale, so the caller
// rewrites it under the current key. Rotating a key is therefore: put the new key first, keep
// the old ones after it until every record has been rewritten, then drop them.

// sealedAlgorithm names the cipher in the envelope.
const sealedAlgorithm = "AES-256-GCM"

// sealedAAD binds the ciphertext to its use: a sealed record only opens as a record.
var sealedAAD = []byte("kbridge sealed record v1")

// Key is one AES-256 key and the id stored with what it seals.
type Key struct {
	ID     string
	Secret []byte // 32 bytes
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeys reads keys written as "<id>:<base64 of 32 bytes>", separated by commas, spaces or
// new lines; lines starting with "#" are comments. The first key is the current one.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, field := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			id, b64, ok := strings.Cut(field, ":")
			if !ok || !keyIDPattern.MatchString(id) {
				return nil, fmt.Errorf("key %d: want <id>:<base64 key>, the id of letters, digits, '.', '_' or '-'", len(keys)+1)
			}
			secret, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || len(secret) != 32 {
				return nil, fmt.Errorf("key %q: want the base64 of 32 random bytes (openssl rand -base64 32)", id)
			}
			if seen[id] {
				return nil, fmt.Errorf("key %q: the id is used twice", id)
			}
			seen[id] = true
			keys = append(keys, Key{ID: id, Secret: secret})
		}
	}
	return keys, nil
}

// GenerateKey returns a new random key with the id given.
func GenerateKey(id string) Key {
	k := Key{ID: id, Secret: make([]byte, 32)}
	_, _ = rand.Read(k.Secret) // crypto/rand never fails on supported platforms
	return k
}

// String writes the key as ParseKeys reads it.
func (k Key) String() string { return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret) }

// Keyring seals records with its first key and opens records sealed with any of its keys. A
// nil *Keyring writes plain records. Safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewKeyring builds a keyring; keys[0] seals, all open. No key is a nil keyring.
func NewKeyring(keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	r := &Keyring{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if r.aeads[k.ID] != nil {
			return nil, fmt.Errorf("key %q: the id is used twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
		if r.aeads[k.ID], err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
	}
	return r, nil
}

// CurrentKeyID is the id of the key new records are sealed with ("" for a nil keyring).
func (r *Keyring) CurrentKeyID() string {
	if r == nil {
		return ""
	}
	return r.current
}

type envelope struct {
	Sealed string `json:"sealed"`
	KeyID  string `json:"keyId"`
	Nonce  []byte `json:"nonce"`
	Data   []byte `json:"data"`
}

// Seal encrypts plain under the current key and returns the envelope's JSON.
func (r *Keyring) Seal(plain []byte) ([]byte, error) {
	aead := r.aeads[r.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	env := envelope{Sealed: sealedAlgorithm, KeyID: r.current, Nonce: nonce, Data: aead.Seal(nil, nonce, plain, sealedAAD)}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return append(out, '\n'), nil
}

// ErrSealed is returned for a sealed record the keyring cannot open.
var ErrSealed = errors.New("sealed record")

// Open returns the plain JSON of data: the decrypted envelope, or data itself when it is not
// sealed. stale reports that data should be sealed again (plain, or sealed with another key
// than the current one).
func (r *Keyring) Open(data []byte) (plain []byte, stale bool, err error) {
	var env envelope
	if !bytes.Contains(data, []byte(`"sealed"`)) || json.Unmarshal(data, &env) != nil || env.Sealed == "" {
		return data, r != nil, nil
	}
	if env.Sealed != sealedAlgorithm {
		return nil, false, fmt.Errorf("%w: unknown algorithm %q", ErrSealed, env.Sealed)
	}
	if r == nil {
		return nil, false, fmt.Errorf("%w with key %q, and no key is configured", ErrSealed, env.KeyID)
	}
	aead, ok := r.aeads[env.KeyID]
	if !ok {
		return nil, false, fmt.Errorf("%w with key %q, which is not among the configured keys", ErrSealed, env.KeyID)
	}
	if len(env.Nonce) != aead.NonceSize() {
		return nil, false, fmt.Errorf("%w with key %q: bad nonce", ErrSealed, env.KeyID)
	}
	plain, err = aead.Open(nil, env.Nonce, env.Data, sealedAAD)
	if err != nil {
		return nil, false, fmt.Errorf("%w with key %q: it does not open (another key with that id, or a damaged file)", ErrSealed, env.KeyID)
	}
	return plain, env.KeyID != r.current, nil
}

// WriteSealed stores v like Write, sealed with the ring's current key; a nil ring writes plain
// JSON.
func WriteSealed(path string, v any, ring *Keyring) error {
	if ring == nil {
		return Write(path, v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode state %s: %w", path, err)
	}
	sealed, err := ring.Seal(data)
	if err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	return WriteBytes(path, sealed)
}

// ReadSealed decodes a record written by Write or WriteSealed into v. stale reports that the
// record should be written again to be sealed with the current key.
func ReadSealed(path string, v any, ring *Keyring) (stale bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read state %s: %w", path, err)
	}
	plain, stale, err := ring.Open(data)
	if err != nil {
		return false, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return false, fmt.Errorf("decode state %s: %w", path, err)
	}
	return stale, nil
}

// EnsureKeyFile creates a key file with one new key (id given) when path does not exist, readable
// by its owner only; an existing file is left as it is.
func EnsureKeyFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	_, err = fmt.Fprintf(f, "# kbridge sealing keys, <id>:<base64 key>, the first one seals\n%s\n", GenerateKey(id))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("create key file: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}

// LoadKeyring builds the keyring from keys written inline (ParseKeys) and from a key file (the
// same form); inline keys come first. Neither: a nil keyring.
func LoadKeyring(inline, file string) (*Keyring, error) {
	keys, err := ParseKeys(inline)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("keyFile: %w", err)
		}
		more, err := ParseKeys(string(data))
		if err != nil {
			return nil, fmt.Errorf("keyFile %s: %w", file, err)
		}
		if len(more) == 0 {
			return nil, fmt.Errorf("keyFile %s: no key in it", file)
		}
		keys = append(keys, more...)
	}
	ring, err := NewKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return ring, nil
}
