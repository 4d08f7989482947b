package emulator

import (
	"net/http"
	"time"
)

// routes registers every endpoint under a name; names are what faults target.
// Branch-scoped paths (/v2/storage/branch/{branch}/...) and the legacy default-branch
// paths are both served.
func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	api := func(name, method, path string, branched, auth bool, h handlerFunc) {
		patterns := []string{method + " /v2/storage" + path}
		if branched {
			patterns = append(patterns, method+" /v2/storage/branch/{branch}"+path)
		}
		for _, p := range patterns {
			mux.Handle(p, e.endpoint(name, auth, h))
		}
	}
	api("index", "GET", "", false, false, e.handleIndex)
	api("index", "GET", "/{$}", false, false, e.handleIndex) // go-client's form: /v2/storage/?exclude=components
	api("verifyToken", "GET", "/tokens/verify", false, true, e.handleVerifyToken)
	api("createToken", "POST", "/tokens", false, true, e.handleCreateToken)
	api("deleteToken", "DELETE", "/tokens/{id}", false, true, e.handleDeleteToken)
	api("devBranches", "GET", "/dev-branches", false, true, e.handleDevBranches)
	api("createBranch", "POST", "/dev-branches", false, true, e.handleCreateBranch)
	api("listBuckets", "GET", "/buckets", true, true, e.handleListBuckets)
	api("createBucket", "POST", "/buckets", true, true, e.handleCreateBucket)
	api("getBucket", "GET", "/buckets/{bucket}", true, true, e.handleGetBucket)
	api("createTable", "POST", "/buckets/{bucket}/tables-definition", true, true, e.handleCreateTable)
	api("listTables", "GET", "/tables", true, true, e.handleListTables)
	api("getTable", "GET", "/tables/{table}", true, true, e.handleGetTable)
	api("dataPreview", "GET", "/tables/{table}/data-preview", true, true, e.handleDataPreview)
	api("importTable", "POST", "/tables/{table}/import-async", true, true, e.handleImport)
	api("setTableMetadata", "POST", "/tables/{table}/metadata", true, true, e.handleSetMetadata)
	api("addColumn", "POST", "/tables/{table}/columns", true, true, e.handleAddColumn)
	api("listTableEvents", "GET", "/tables/{table}/events", true, true, e.handleListTableEvents)
	api("prepareFile", "POST", "/files/prepare", true, true, e.handlePrepareFile)
	api("listFiles", "GET", "/files", true, true, e.handleListFiles)
	api("getFile", "GET", "/files/{id}", true, true, e.handleGetFile)
	api("deleteFile", "DELETE", "/files/{id}", true, true, e.handleDeleteFile)
	api("getJob", "GET", "/jobs/{id}", false, true, e.handleGetJob)
	api("listJobs", "GET", "/jobs", false, true, e.handleListJobs)
	api("createEvent", "POST", "/events", false, true, e.handleCreateEvent)
	api("listEvents", "GET", "/events", false, true, e.handleListEvents)

	mux.Handle("PUT /blob/{account}/{container}/{blob...}", e.endpoint("putBlob", false, e.handlePutBlob))
	mux.Handle("GET /blob/{account}/{container}/{blob...}", e.endpoint("getBlob", false, e.handleGetBlob))
	mux.Handle("HEAD /blob/{account}/{container}/{blob...}", e.endpoint("getBlob", false, e.handleGetBlob))

	mux.Handle("GET /emulator/faults", e.endpoint("admin", true, e.handleListFaults))
	mux.Handle("POST /emulator/faults", e.endpoint("admin", true, e.handleInjectFault))
	mux.Handle("DELETE /emulator/faults", e.endpoint("admin", true, e.handleClearFaults))
	mux.Handle("POST /emulator/faults/jobs", e.endpoint("admin", true, e.handleJobFaults))
	mux.Handle("POST /emulator/faults/expire-credentials", e.endpoint("admin", true, e.handleExpireCredentials))
	mux.Handle("/", e.endpoint("notImplemented", false, func(http.ResponseWriter, *http.Request, *token) error {
		return errorf(http.StatusNotImplemented, "storage.notImplemented", "not implemented by the emulator")
	}))
	return mux
}

// endpoint wraps a handler: request id, call counting, injected faults, authentication,
// error rendering. Admin endpoints need the master token and ignore faults.
func (e *Emulator) endpoint(name string, auth bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID := randomHex(8)
		w.Header().Set("X-Request-Id", requestID)
		if name != "admin" {
			done, lost := e.applyFault(w, r, name, requestID)
			if done {
				return
			}
			if lost != nil {
				real := w
				w = &discard{h: http.Header{}}
				defer e.writeFault(real, name, requestID, *lost)
			}
		}
		var tok *token
		if auth {
			secret := r.Header.Get("X-StorageApi-Token")
			if secret == "" { // Storage's answer to a missing token: no error code
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Access token must be set", "status": "error",
					"exceptionId": "exception-" + requestID})
				return
			}
			e.mu.Lock()
			tok = e.tokenBySecret(secret)
			e.mu.Unlock()
			if tok == nil {
				e.writeError(w, requestID, errorf(http.StatusUnauthorized, "storage.tokenInvalid", "Invalid access token"))
				return
			}
			if name == "admin" && !tok.IsMaster {
				e.writeError(w, requestID, errForbidden("the emulator admin API needs the master token"))
				return
			}
		}
		if err := h(w, r, tok); err != nil {
			if name == "putBlob" || name == "getBlob" {
				writeBlobError(w, err)
				return
			}
			e.writeError(w, requestID, err)
		}
	})
}

// now is the emulator's time, truncated to seconds as Storage timestamps are.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }
