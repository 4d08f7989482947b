package emulator

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// namePattern is what Storage accepts as a bucket, table or column name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,96}$`)

func (e *Emulator) bucketJSON(r *http.Request, b *bucket) map[string]any {
	uri := e.baseURL(r) + "/v2/storage/buckets/" + b.ID
	var rows, size int64
	for _, t := range e.st.Tables {
		if t.Branch == b.Branch && t.BucketID == b.ID {
			rows += t.RowsCount
			size += t.DataSizeBytes
		}
	}
	return map[string]any{
		"uri":            uri,
		"id":             b.ID,
		"name":           b.Name,
		"displayName":    b.DisplayName,
		"stage":          b.Stage,
		"description":    b.Description,
		"tables":         uri + "/tables",
		"created":        formatTime(b.Created),
		"lastChangeDate": nil,
		"isReadOnly":     false,
		"dataSizeBytes":  size,
		"rowsCount":      rows,
		"backend":        "snowflake",
	}
}

func (e *Emulator) handleCreateBucket(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Name        string `json:"name"`
		Stage       string `json:"stage"`
		Description string `json:"description"`
		DisplayName string `json:"displayName"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Stage == "" {
		body.Stage = "in"
	}
	// Storage prefixes the name with "c-" unless the stack has the feature
	// disable-legacy-bucket-prefix; then the name is the bucket's as given.
	name, prefix := strings.TrimPrefix(body.Name, "c-"), "c-"
	if slices.Contains(e.cfg.Features, "disable-legacy-bucket-prefix") {
		name, prefix = body.Name, ""
	}
	if !namePattern.MatchString(name) {
		return errInvalid("Invalid bucket name %q: 1-96 characters of A-Z, a-z, 0-9, _ and -", body.Name)
	}
	if body.Stage != "in" && body.Stage != "out" {
		return errInvalid("Invalid stage %q: in or out", body.Stage)
	}
	if !tok.IsMaster && !tok.CanManageBuckets {
		return errForbidden("You don't have access to create buckets")
	}
	b := &bucket{ID: body.Stage + "." + prefix + name, Name: prefix + name, DisplayName: body.DisplayName, Stage: body.Stage,
		Description: body.Description, Created: now()}
	if b.DisplayName == "" {
		b.DisplayName = strings.TrimPrefix(name, "c-")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return err
	}
	b.Branch = branch
	if _, ok := e.st.Buckets[objectKey(branch, b.ID)]; ok {
		return errorf(http.StatusBadRequest, "storage.buckets.alreadyExists", "The bucket %q already exists", b.ID)
	}
	e.st.Buckets[objectKey(branch, b.ID)] = b
	if err := e.saveLocked(); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e.bucketJSON(r, b))
	return nil
}

// bucketLocked finds a bucket of the branch the token may read; e.mu must be held.
func (e *Emulator) bucketLocked(branch int64, id string, tok *token) (*bucket, error) {
	b, ok := e.st.Buckets[objectKey(branch, id)]
	if !ok {
		return nil, errorf(http.StatusNotFound, "storage.buckets.notFound", "The bucket \"%s\" was not found in the project \"%d\"", id, e.cfg.ProjectID)
	}
	if !tok.canReadBucket(id) {
		return nil, errForbidden("You don't have access to the bucket %s", id)
	}
	return b, nil
}

func (e *Emulator) handleGetBucket(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return err
	}
	b, err := e.bucketLocked(branch, r.PathValue("bucket"), tok)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e.bucketJSON(r, b))
	return nil
}

func (e *Emulator) handleListBuckets(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	branch, err := e.requestBranchLocked(r)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(e.st.Buckets))
	for id, b := range e.st.Buckets {
		if b.Branch == branch && tok.canReadBucket(b.ID) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, e.bucketJSON(r, e.st.Buckets[id]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
