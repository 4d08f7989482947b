package mapping

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"
)

// bodyState is the parsed form of the current event's body, computed at most once per event
// and only when a column needs it.
type bodyState struct {
	ready bool
	json  string // the body as JSON text: the body itself, or form data converted to JSON
	err   error
	form  bool   // json was converted from form data
	buf   []byte // reused buffer for converted form data
}

func (b *bodyState) reset() { b.ready, b.json, b.err, b.form = false, "", nil, false }

// parse returns the event's body as JSON text: the bytes themselves for JSON (and for every
// Kafka record), an object built from form data, or an error naming the content types that work.
func (b *bodyState) parse(ev *Event) (string, error) {
	if b.ready {
		return b.json, b.err
	}
	b.ready = true
	contentType := ""
	if !ev.Kafka {
		contentType = ev.Header.Get("Content-Type")
	}
	switch {
	case ev.Kafka || isJSONContentType(contentType):
		b.json = bytesToString(ev.Body)
		if ev.jsonVerdict == validJSON {
			break
		}
		if err := checkDepth(ev.Body); err != nil {
			b.json, b.err = "", err
		} else if !gjson.Valid(b.json) {
			b.json, b.err = "", invalidJSON(ev.Body)
		}
	case isFormContentType(contentType):
		b.buf, b.err = appendFormJSON(b.buf[:0], bytesToString(ev.Body))
		b.json, b.form = bytesToString(b.buf), true
	default:
		b.err = errorf(ErrUnsupportedContentType,
			`unsupported content type %q, supported types: application/json (or application/*+json) and application/x-www-form-urlencoded`,
			contentType)
	}
	return b.json, b.err
}

// MaxJSONDepth is how deeply JSON bodies may nest. Deeper bodies are refused: parsing them
// costs time that grows faster than their size, and no real event needs them.
const MaxJSONDepth = 1000

// checkDepth refuses bodies nested deeper than MaxJSONDepth. Counting brackets (vectorised)
// settles almost every body without the byte-by-byte scan.
func checkDepth(body []byte) error {
	if bytes.Count(body, []byte{'['})+bytes.Count(body, []byte{'{'}) <= MaxJSONDepth {
		return nil
	}
	depth, inString := 0, false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > MaxJSONDepth {
				return errorf(ErrInvalidBody, "invalid JSON: nested deeper than %d levels", MaxJSONDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// invalidJSON explains why body is not JSON; it runs only on the failure path.
func invalidJSON(body []byte) error {
	var v json.RawMessage
	if err := json.Unmarshal(body, &v); err != nil {
		return errorf(ErrInvalidBody, "invalid JSON: %v", err)
	}
	return errorf(ErrInvalidBody, "invalid JSON")
}

// mediaType returns the content type without parameters and surrounding space.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

// isJSONContentType accepts application/json and application/<name>+json, case-insensitively,
// with parameters such as "; charset=utf-8".
func isJSONContentType(ct string) bool {
	mt := mediaType(ct)
	const prefix = "application/"
	if len(mt) < len(prefix)+4 || !strings.EqualFold(mt[:len(prefix)], prefix) {
		return false
	}
	sub := mt[len(prefix):]
	if strings.EqualFold(sub, "json") {
		return true
	}
	if len(sub) < 6 || !strings.EqualFold(sub[len(sub)-5:], "+json") {
		return false
	}
	for i := 0; i < len(sub)-5; i++ {
		c := sub[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func isFormContentType(ct string) bool {
	return strings.EqualFold(mediaType(ct), "application/x-www-form-urlencoded")
}
