package streamapi

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/kbridge/kbridge/bridge/httperr"
)

// maxIDLength is the longest source or sink id.
const maxIDLength = 48

// normalizeID derives an id as Keboola does: camelCase words split with "-", accents
// stripped, every run of other characters turned into one "-", trimmed and lower-cased
// ("My Source" → "my-source", "!!!!~~~~weird|||id##" → "weird-id", "myID" → "my-id").
func normalizeID(s string) string {
	s = stripAccents(s)
	var b strings.Builder
	dash := false
	prev := rune(0)
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			upper := unicode.IsUpper(r)
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if upper && b.Len() > 0 && !dash && (unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower)) {
				b.WriteByte('-')
			}
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		default:
			dash = true
		}
		prev = r
	}
	return b.String()
}

// stripAccents replaces the accented Latin letters with their base letters.
func stripAccents(s string) string { return accents.Replace(s) }

var accents = strings.NewReplacer(
	"á", "a", "Á", "A", "à", "a", "À", "A", "â", "a", "Â", "A", "ä", "a", "Ä", "A", "ã", "a",
	"Ã", "A", "å", "a", "Å", "A", "ā", "a", "Ā", "A", "ă", "a", "Ă", "A", "ą", "a", "Ą", "A",
	"ǎ", "a", "Ǎ", "A", "ç", "c", "Ç", "C", "ć", "c", "Ć", "C", "ĉ", "c", "Ĉ", "C", "ċ", "c",
	"Ċ", "C", "č", "c", "Č", "C", "ď", "d", "Ď", "D", "đ", "d", "Đ", "D", "é", "e", "É", "E",
	"è", "e", "È", "E", "ê", "e", "Ê", "E", "ë", "e", "Ë", "E", "ē", "e", "Ē", "E", "ĕ", "e",
	"Ĕ", "E", "ė", "e", "Ė", "E", "ę", "e", "Ę", "E", "ě", "e", "Ě", "E", "ĝ", "g", "Ĝ", "G",
	"ğ", "g", "Ğ", "G", "ġ", "g", "Ġ", "G", "ģ", "g", "Ģ", "G", "ĥ", "h", "Ĥ", "H", "ħ", "h",
	"Ħ", "H", "í", "i", "Í", "I", "ì", "i", "Ì", "I", "î", "i", "Î", "I", "ï", "i", "Ï", "I",
	"ĩ", "i", "Ĩ", "I", "ī", "i", "Ī", "I", "ĭ", "i", "Ĭ", "I", "į", "i", "Į", "I", "ı", "i",
	"I", "I", "ĵ", "j", "Ĵ", "J", "ķ", "k", "Ķ", "K", "ĺ", "l", "Ĺ", "L", "ļ", "l", "Ļ", "L",
	"ľ", "l", "Ľ", "L", "ŀ", "l", "Ŀ", "L", "ł", "l", "Ł", "L", "ñ", "n", "Ñ", "N", "ń", "n",
	"Ń", "N", "ņ", "n", "Ņ", "N", "ň", "n", "Ň", "N", "ŉ", "n", "ó", "o", "Ó", "O", "ò", "o",
	"Ò", "O", "ô", "o", "Ô", "O", "ö", "o", "Ö", "O", "õ", "o", "Õ", "O", "ø", "o", "Ø", "O",
	"ō", "o", "Ō", "O", "ŏ", "o", "Ŏ", "O", "ő", "o", "Ő", "O", "ŕ", "r", "Ŕ", "R", "ŗ", "r",
	"Ŗ", "R", "ř", "r", "Ř", "R", "ś", "s", "Ś", "S", "ŝ", "s", "Ŝ", "S", "ş", "s", "Ş", "S",
	"š", "s", "Š", "S", "ș", "s", "Ș", "S", "ţ", "t", "Ţ", "T", "ť", "t", "Ť", "T", "ŧ", "t",
	"Ŧ", "T", "ț", "t", "Ț", "T", "ú", "u", "Ú", "U", "ù", "u", "Ù", "U", "û", "u", "Û", "U",
	"ü", "u", "Ü", "U", "ũ", "u", "Ũ", "U", "ū", "u", "Ū", "U", "ŭ", "u", "Ŭ", "U", "ů", "u",
	"Ů", "U", "ű", "u", "Ű", "U", "ų", "u", "Ų", "U", "ŵ", "w", "Ŵ", "W", "ý", "y", "Ý", "Y",
	"ÿ", "y", "Ÿ", "Y", "ŷ", "y", "Ŷ", "Y", "ź", "z", "Ź", "Z", "ż", "z", "Ż", "Z", "ž", "z",
	"Ž", "Z",
	"ß", "ss", "æ", "ae", "Æ", "AE", "œ", "oe", "Œ", "OE",
)

// checkID validates a normalised id; field names the request field for the message.
func checkID(id, field string) error {
	if id == "" {
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "%s cannot be empty.", field)
	}
	if len(id) > maxIDLength {
		return httperr.New(http.StatusBadRequest, "stream.api.invalidLength",
			"Length of %s must be lesser or equal than %d but got value %q (len=%d).", field, maxIDLength, id, len(id))
	}
	return nil
}

const secretAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newSecret returns 48 characters of [0-9a-zA-Z] from crypto/rand.
func newSecret() string { return randomString(48) }

// randomID returns n lowercase hex-like characters for task ids and exception ids.
func randomID(n int) string { return strings.ToLower(randomString(n)) }

func randomString(n int) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if buf[0] >= 248 { // 248 = 4*62: reject to keep the distribution uniform
			continue
		}
		out[i] = secretAlphabet[int(buf[0])%len(secretAlphabet)]
		i++
	}
	return string(out)
}

// decode reads a JSON body into v; unknown fields and trailing data are a 400.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return httperr.New(http.StatusRequestEntityTooLarge, "stream.api.bodyTooLarge", "The request body is larger than %d bytes.", mbe.Limit)
		case errors.Is(err, io.EOF):
			return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "The request body is empty, a JSON object is expected.")
		}
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Invalid request body: %v.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return httperr.New(http.StatusBadRequest, "stream.api.badRequest", "Invalid request body: unexpected data after the JSON object.")
	}
	return nil
}
