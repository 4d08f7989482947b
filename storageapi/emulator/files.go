package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Azure naming of the emulated storage account.
const (
	accountName = "devstoreaccount1"
	sasVersion  = "2021-08-06"
)

func containerOf(fileID int64) string { return fmt.Sprintf("exp-15-files-%d", fileID) }

// blobEndpoint is the Azurite-style path endpoint: {base}/blob/{account}.
func (e *Emulator) blobEndpoint(r *http.Request) string {
	return e.baseURL(r) + "/blob/" + accountName
}

// sas issues a container-scoped SAS valid until f.Expiration.
func (e *Emulator) sas(f *file) string {
	st := f.Created.UTC().Format(time.RFC3339)
	se := f.Expiration.UTC().Format(time.RFC3339)
	q := "sv=" + sasVersion + "&sr=c&st=" + url.QueryEscape(st) + "&se=" + url.QueryEscape(se) + "&sp=racwl"
	return q + "&sig=" + url.QueryEscape(e.sasSignature(f.Container, st, se, "racwl"))
}

func (e *Emulator) sasSignature(container, st, se, sp string) string {
	mac := hmac.New(sha256.New, []byte(e.st.SASSecret))
	fmt.Fprintf(mac, "%s\n%s\n%s\n%s", container, st, se, sp)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (e *Emulator) fileJSON(r *http.Request, f *file, withUpload, withDownload bool) map[string]any {
	blobURL := e.blobEndpoint(r) + "/" + f.Container + "/" + url.PathEscape(f.BlobName)
	if f.IsSliced {
		blobURL += "manifest"
	}
	creatorID, _ := strconv.ParseInt(f.CreatorTokenID, 10, 64) // file objects carry a numeric token id
	creator := map[string]any{"id": creatorID, "description": ""}
	if t := e.tokenByIDLocked(f.CreatorTokenID); t != nil {
		creator["description"] = t.Description
	}
	maxAge := 15
	if f.IsPermanent {
		maxAge = 0
	}
	out := map[string]any{
		"id": f.ID, "created": formatTime(f.Created), "isPublic": false, "isSliced": f.IsSliced, "isEncrypted": true,
		"name": f.Name, "url": blobURL + "?" + e.sas(f), "provider": "azure", "region": "emulator",
		"sizeBytes": f.SizeBytes, "tags": nonNil(f.Tags), "maxAgeDays": maxAge, "runId": nil, "runIds": []any{},
		"creatorToken": creator,
	}
	creds := map[string]any{
		"SASConnectionString": "BlobEndpoint=" + e.blobEndpoint(r) + ";SharedAccessSignature=" + e.sas(f),
		"expiration":          formatTime(f.Expiration),
	}
	if withUpload {
		out["absUploadParams"] = map[string]any{"blobName": f.BlobName, "accountName": accountName, "container": f.Container, "absCredentials": creds}
	}
	if withDownload {
		out["absPath"] = map[string]any{"container": f.Container, "name": f.BlobName}
		out["absCredentials"] = creds
	}
	return out
}

func (e *Emulator) tokenByIDLocked(id string) *token {
	if t, ok := e.st.Tokens[id]; ok {
		return t
	}
	for _, t := range e.configTokens {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (e *Emulator) handlePrepareFile(w http.ResponseWriter, r *http.Request, tok *token) error {
	var body struct {
		Name        string   `json:"name"`
		Tags        []string `json:"tags"`
		IsSliced    flexBool `json:"isSliced"`
		IsPermanent flexBool `json:"isPermanent"`
		SizeBytes   flexInt  `json:"sizeBytes"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if body.Name == "" {
		return errInvalid("name is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.st.nextID()
	created := now()
	f := &file{ID: id, Name: body.Name, Created: created, IsSliced: bool(body.IsSliced), IsPermanent: bool(body.IsPermanent),
		Tags: body.Tags, SizeBytes: int64(body.SizeBytes), Container: containerOf(id), BlobName: fmt.Sprintf("%d.%s", id, body.Name),
		Expiration: created.Add(e.cfg.CredentialsTTL), CreatorTokenID: tok.ID}
	e.st.Files[id] = f
	if err := e.saveLocked(); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e.fileJSON(r, f, true, false))
	return nil
}

// fileLocked finds a file the token may see; e.mu must be held.
func (e *Emulator) fileLocked(rawID string, tok *token) (*file, error) {
	id, err := strconv.ParseInt(rawID, 10, 64)
	f, ok := e.st.Files[id]
	if err != nil || !ok || !canSeeFile(tok, f) {
		return nil, errorf(http.StatusNotFound, "storage.files.notFound", "File %s not found", rawID)
	}
	return f, nil
}

func canSeeFile(tok *token, f *file) bool {
	return tok.IsMaster || tok.CanReadAllFileUploads || f.CreatorTokenID == tok.ID
}

func (e *Emulator) handleGetFile(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := e.fileLocked(r.PathValue("id"), tok)
	if err != nil {
		return err
	}
	federation := r.URL.Query().Get("federationToken")
	writeJSON(w, http.StatusOK, e.fileJSON(r, f, false, federation == "1" || federation == "true"))
	return nil
}

func (e *Emulator) handleDeleteFile(w http.ResponseWriter, r *http.Request, tok *token) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, err := e.fileLocked(r.PathValue("id"), tok)
	if err != nil {
		return err
	}
	delete(e.st.Files, f.ID)
	if err := e.saveLocked(); err != nil {
		return err
	}
	if err := e.deleteContainerLocked(f.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) handleListFiles(w http.ResponseWriter, r *http.Request, tok *token) error {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errInvalid("invalid limit %q", v)
		}
		limit = n
	}
	tags := append(q["tags[]"], q["tags"]...)
	e.mu.Lock()
	defer e.mu.Unlock()
	files := make([]*file, 0, len(e.st.Files))
	for _, f := range e.st.Files {
		if !canSeeFile(tok, f) {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(f.Tags, t) }) {
			continue
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *file) int { return int(b.ID - a.ID) })
	out := make([]any, 0, min(limit, len(files)))
	for _, f := range files[:min(limit, len(files))] {
		out = append(out, e.fileJSON(r, f, false, false))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
