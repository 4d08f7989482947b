// Package httperr is the one place where kbridge's HTTP endpoints turn errors into responses.
//
// Every error answer is JSON {"statusCode", "error", "message"} with a stable name in the
// error field ("stream.in.noSourceFound", "stream.api.sourceNotFound", ...), the envelope
// Keboola's Stream API and intake use. Handlers build an *Error (or wrap one) and call Write;
// anything else becomes a 500 whose message does not leak internals.
//
// Invariants: Write never panics on a nil or foreign error; a 503 with RetryAfter always
// carries a Retry-After header in whole seconds (at least 1).
package httperr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is an HTTP error answer.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Name is the stable error name, e.g. "stream.in.bodyTooLarge".
	Name string
	// Message is shown to the client.
	Message string
	// RetryAfter, when positive, is sent as Retry-After (rounded up to seconds).
	RetryAfter time.Duration
	// ExceptionID, when set, identifies a 5xx in the logs.
	ExceptionID string
	// Lines lists per-line errors of a multi-record body.
	Lines []LineError
	// Err is the cause; it is logged, never sent.
	Err error
}

// LineError is why one line of an NDJSON body was refused; Line counts from 1.
type LineError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Sentence turns an error text into a message: the first letter capitalised, a period at the
// end.
func Sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// New returns an error answer with a formatted message.
func New(status int, name, format string, args ...any) *Error {
	return &Error{Status: status, Name: name, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Name, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Name, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Body is the JSON body of an error answer.
type Body struct {
	StatusCode  int         `json:"statusCode"`
	Error       string      `json:"error"`
	Message     string      `json:"message"`
	ExceptionID string      `json:"exceptionId,omitempty"`
	Lines       []LineError `json:"lines,omitempty"`
}

// As returns err as an *Error; any other error becomes a 500 named internalName with a
// generic message.
func As(err error, internalName string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Name: internalName,
		Message: "Internal server error.", Err: err}
}

// Write sends e as the response.
func Write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(Encode(e))
}

// Encode returns the JSON body of e's answer (with a final newline), for servers that are not
// net/http; Write sends the same bytes.
func Encode(e *Error) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(Body{StatusCode: e.Status, Error: e.Name, Message: e.Message, ExceptionID: e.ExceptionID, Lines: e.Lines})
	return b.Bytes()
}

var jsonContentType = []string{"application/json"}
