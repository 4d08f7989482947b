package emulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// storageTimeLayout is how Storage writes timestamps.
const storageTimeLayout = "2006-01-02T15:04:05-0700"

// apiError is a Storage error response: {"error", "code", "status": "error", "exceptionId"}.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds, 0 for none
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errForbidden(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, "storage.accessDenied", format, args...)
}

func errInvalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "storage.validation", format, args...)
}

// handlerFunc serves one endpoint for an authenticated token (nil for the index).
type handlerFunc func(w http.ResponseWriter, r *http.Request, tok *token) error

// writeError is the one place that turns an error into a Storage error response.
func (e *Emulator) writeError(w http.ResponseWriter, requestID string, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		e.log.Error("request failed", "requestId", requestID, "error", err)
		ae = errorf(http.StatusInternalServerError, "storage.internal", "internal error: %v", err)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	writeJSON(w, ae.status, map[string]any{
		"error":       ae.message,
		"code":        ae.code,
		"status":      "error",
		"exceptionId": "exception-" + requestID,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data) // the client may have gone; nothing to do about it
}

// decodeBody reads a JSON body, or a form body (application/x-www-form-urlencoded or
// multipart) whose fields become strings and whose "x[]" fields become string arrays.
// Typed fields use flexBool/flexInt to accept both encodings.
func decodeBody(r *http.Request, v any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return errInvalid("invalid form body: %v", err)
		}
		m := map[string]any{}
		for key, values := range r.PostForm {
			if name, ok := strings.CutSuffix(key, "[]"); ok {
				m[name] = values
			} else if len(values) > 0 {
				m[key] = values[0]
			}
		}
		data, _ := json.Marshal(m) // strings only; cannot fail
		return decodeJSON(data, v)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return errInvalid("read body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	return decodeJSON(data, v)
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return errInvalid("invalid request body: %v", err)
	}
	return nil
}

// flexBool accepts true/false, 0/1 and their string forms.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	switch strings.ToLower(s) {
	case "true", "1":
		*b = true
	case "false", "0", "", "null":
		*b = false
	default:
		return fmt.Errorf("not a boolean: %s", data)
	}
	return nil
}

// flexInt accepts a number or a numeric string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", data)
	}
	*n = flexInt(v)
	return nil
}

// flexJSON accepts a JSON value or a string holding JSON, and keeps it as raw JSON.
type flexJSON json.RawMessage

func (f *flexJSON) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil && json.Valid([]byte(s)) {
		*f = flexJSON(s)
		return nil
	}
	*f = append((*f)[:0], data...)
	return nil
}

func formatTime(t time.Time) string { return t.Format(storageTimeLayout) }

func formatTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
