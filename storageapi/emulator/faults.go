package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Fault makes the next Count calls of an endpoint fail or hang.
type Fault struct {
	// Endpoint is an endpoint name (see Endpoints) or "*" for every endpoint.
	Endpoint string `json:"endpoint"`
	// Count is how many calls are affected; 0 means 1.
	Count int `json:"count"`
	// Status is the HTTP status to answer with. 0 with Hang set: answer normally after the hang.
	Status int `json:"status,omitempty"`
	// Code and Message override the Storage error code and message.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// RetryAfter is sent as the Retry-After header, in seconds.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Hang holds the request this long before answering; it ends early when the client
	// gives up or the emulator shuts down.
	Hang time.Duration `json:"-"`
	// AnswerLost carries the call out, then answers Status instead of its result: Storage
	// acted, but the client never learns it (a connection cut after the request).
	AnswerLost bool `json:"answerLost,omitempty"`
}

// faults is the in-memory fault state; it is not persisted.
type faults struct {
	mu          sync.Mutex
	pending     []Fault
	calls       map[string]int
	jobFailures int
	jobFailMsg  string
	jobSlowdown time.Duration
	revokedUpTo int64 // SAS of files with an id up to this are refused
}

func newFaults() faults { return faults{calls: map[string]int{}} }

// InjectFault queues a fault; faults for the same endpoint apply in order.
func (e *Emulator) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.pending = append(e.faults.pending, f)
}

// FailJobs makes the next n jobs end with status "error" and the message.
func (e *Emulator) FailJobs(n int, message string) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.jobFailures, e.faults.jobFailMsg = n, message
}

// SlowJobs makes every job stay "processing" for d before it finishes; 0 restores.
func (e *Emulator) SlowJobs(d time.Duration) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.jobSlowdown = d
}

// ExpireCredentials makes every upload credential issued so far invalid: the blob
// endpoint answers 403 AuthenticationFailed to them. Files prepared later work.
func (e *Emulator) ExpireCredentials() {
	e.mu.Lock()
	last := e.st.NextID
	e.mu.Unlock()
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.revokedUpTo = last
}

// ClearFaults removes every pending fault and restores jobs and credentials.
func (e *Emulator) ClearFaults() {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.pending, e.faults.jobFailures, e.faults.jobSlowdown, e.faults.revokedUpTo = nil, 0, 0, 0
}

// Calls is how many requests the endpoint has received, failed ones included.
func (e *Emulator) Calls(endpoint string) int {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	return e.faults.calls[endpoint]
}

// Endpoints lists the endpoint names faults can target.
func Endpoints() []string {
	return []string{"index", "verifyToken", "createToken", "deleteToken", "devBranches", "listBuckets", "createBucket",
		"getBucket", "createTable", "listTables", "getTable", "dataPreview", "importTable", "setTableMetadata",
		"listTableEvents", "prepareFile", "listFiles", "getFile", "deleteFile", "getJob", "listJobs", "createEvent", "listEvents",
		"putBlob", "getBlob"}
}

// takeFault counts the call and pops the first matching fault.
func (e *Emulator) takeFault(name string) (Fault, bool) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	e.faults.calls[name]++
	for i := range e.faults.pending {
		f := &e.faults.pending[i]
		if f.Endpoint != name && f.Endpoint != "*" {
			continue
		}
		out := *f
		if f.Count--; f.Count == 0 {
			e.faults.pending = slices.Delete(e.faults.pending, i, i+1)
		}
		return out, true
	}
	return Fault{}, false
}

// applyFault applies a pending fault to the request; done reports that it answered.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, name, requestID string) (done bool, lost *Fault) {
	f, ok := e.takeFault(name)
	if !ok {
		return false, nil
	}
	if f.AnswerLost && f.Status != 0 {
		return false, &f
	}
	if f.Hang > 0 {
		t := time.NewTimer(f.Hang)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true, nil
		case <-e.stopping:
			return true, nil
		}
	}
	if f.Status == 0 {
		return false, nil
	}
	e.writeFault(w, name, requestID, f)
	return true, nil
}

// writeFault answers the fault's status and error body.
func (e *Emulator) writeFault(w http.ResponseWriter, name, requestID string, f Fault) {
	ae := &apiError{status: f.Status, code: f.Code, message: f.Message, retryAfter: f.RetryAfter}
	if ae.code == "" {
		ae.code = defaultCode(f.Status)
	}
	if ae.message == "" {
		ae.message = fmt.Sprintf("injected fault: %d", f.Status)
	}
	if name == "putBlob" || name == "getBlob" {
		writeBlobError(w, ae)
		return
	}
	e.writeError(w, requestID, ae)
}

// discard is a ResponseWriter whose answer never reaches the client.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "storage.validation"
	case http.StatusUnauthorized:
		return "storage.tokenInvalid"
	case http.StatusForbidden:
		return "storage.accessDenied"
	case http.StatusNotFound:
		return "storage.notFound"
	case http.StatusTooManyRequests:
		return "storage.tooManyRequests"
	case http.StatusServiceUnavailable:
		return "storage.maintenance"
	}
	return "storage.internal"
}

// jobFault pops a job failure and returns the current slowdown.
func (e *Emulator) jobFault() (fail bool, message string, slow time.Duration) {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	if e.faults.jobFailures > 0 {
		e.faults.jobFailures--
		fail, message = true, e.faults.jobFailMsg
		if message == "" {
			message = "injected job failure"
		}
	}
	return fail, message, e.faults.jobSlowdown
}

// credentialsRevoked reports whether ExpireCredentials covered the file; e.mu may be held.
func (e *Emulator) credentialsRevoked(fileID int64) bool {
	e.faults.mu.Lock()
	defer e.faults.mu.Unlock()
	return fileID <= e.faults.revokedUpTo
}

// faultBody is Fault on the admin API; hang is a Go duration string ("2s").
type faultBody struct {
	Fault
	Hang string `json:"hang,omitempty"`
}

func (e *Emulator) handleInjectFault(w http.ResponseWriter, r *http.Request, _ *token) error {
	var body faultBody
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Endpoint != "*" && !slices.Contains(Endpoints(), body.Endpoint) {
		return errInvalid("unknown endpoint %q; known: %v", body.Endpoint, Endpoints())
	}
	if body.Hang != "" {
		d, err := time.ParseDuration(body.Hang)
		if err != nil {
			return errInvalid("hang: %v", err)
		}
		body.Fault.Hang = d
	}
	if body.Status == 0 && body.Fault.Hang == 0 {
		return errInvalid("a fault needs a status or a hang")
	}
	e.InjectFault(body.Fault)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) handleJobFaults(w http.ResponseWriter, r *http.Request, _ *token) error {
	var body struct {
		Fail    flexInt `json:"fail"`
		Message string  `json:"message"`
		Slow    string  `json:"slow"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Slow != "" {
		d, err := time.ParseDuration(body.Slow)
		if err != nil {
			return errInvalid("slow: %v", err)
		}
		e.SlowJobs(d)
	}
	if body.Fail > 0 {
		e.FailJobs(int(body.Fail), body.Message)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) handleExpireCredentials(w http.ResponseWriter, _ *http.Request, _ *token) error {
	e.ExpireCredentials()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) handleClearFaults(w http.ResponseWriter, _ *http.Request, _ *token) error {
	e.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) handleListFaults(w http.ResponseWriter, _ *http.Request, _ *token) error {
	e.faults.mu.Lock()
	pending := make([]faultBody, 0, len(e.faults.pending))
	for _, f := range e.faults.pending {
		b := faultBody{Fault: f}
		if f.Hang > 0 {
			b.Hang = f.Hang.String()
		}
		pending = append(pending, b)
	}
	calls := make(map[string]int, len(e.faults.calls))
	for k, v := range e.faults.calls {
		calls[k] = v
	}
	jobs := map[string]any{"fail": e.faults.jobFailures, "slow": e.faults.jobSlowdown.String()}
	e.faults.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": pending, "jobs": jobs, "calls": calls, "endpoints": Endpoints()})
	return nil
}
