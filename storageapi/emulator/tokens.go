package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

func (t *token) canReadBucket(bucketID string) bool {
	return t.IsMaster || t.CanManageBuckets || t.BucketPermissions[bucketID] != ""
}

func (t *token) canWriteBucket(bucketID string) bool {
	p := t.BucketPermissions[bucketID]
	return t.IsMaster || t.CanManageBuckets || p == "write" || p == "manage"
}

// bucketOf is the bucket id of a table id ("in.c-shop.orders" → "in.c-shop").
func bucketOf(tableID string) string {
	if i := strings.LastIndexByte(tableID, '.'); i > 0 {
		return tableID[:i]
	}
	return tableID
}

func (e *Emulator) tokenJSON(t *token, withSecret bool) map[string]any {
	var perms any = []any{} // Storage sends [] for no permissions
	if len(t.BucketPermissions) > 0 {
		perms = t.BucketPermissions
	}
	m := map[string]any{
		"id":                    t.ID,
		"description":           t.Description,
		"created":               formatTime(t.Created),
		"expires":               formatTimePtr(t.Expires),
		"isExpired":             false,
		"isDisabled":            false,
		"isMasterToken":         t.IsMaster,
		"canManageBuckets":      t.CanManageBuckets,
		"canManageTokens":       t.IsMaster,
		"canReadAllFileUploads": t.CanReadAllFileUploads,
		"canPurgeTrash":         t.CanPurgeTrash,
		"bucketPermissions":     perms,
		"owner": map[string]any{
			"id": e.cfg.ProjectID, "name": "Emulated project", "features": []string{},
			"defaultBackend": "snowflake", "fileStorageProvider": "azure",
		},
	}
	if len(t.ComponentAccess) > 0 {
		m["componentAccess"] = t.ComponentAccess
	}
	if t.IsMaster {
		m["admin"] = map[string]any{"id": 1, "name": "Emulator Admin", "role": "admin"}
	}
	if withSecret {
		m["token"] = t.Secret
	}
	return m
}

// handleIndex answers the index: the configured services of the stack (Keboola clients
// find every other service's URL there) and features.
func (e *Emulator) handleIndex(w http.ResponseWriter, _ *http.Request, _ *token) error {
	services := make([]any, 0, len(e.cfg.Services))
	for _, s := range e.cfg.Services {
		services = append(services, map[string]any{"id": s.ID, "url": s.URL})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"api":           "storage",
		"documentation": "https://keboola.docs.apiary.io/",
		"version":       "v2",
		"services":      services,
		"features":      nonNil(e.cfg.Features),
		"urlTemplates":  map[string]string{},
	})
	return nil
}

func (e *Emulator) handleVerifyToken(w http.ResponseWriter, _ *http.Request, tok *token) error {
	writeJSON(w, http.StatusOK, e.tokenJSON(tok, false))
	return nil
}

func (e *Emulator) handleCreateToken(w http.ResponseWriter, r *http.Request, tok *token) error {
	if !tok.IsMaster {
		return errForbidden("token %s cannot manage tokens", tok.ID)
	}
	var body struct {
		Description           string            `json:"description"`
		BucketPermissions     map[string]string `json:"bucketPermissions"`
		CanManageBuckets      flexBool          `json:"canManageBuckets"`
		CanReadAllFileUploads flexBool          `json:"canReadAllFileUploads"`
		CanPurgeTrash         flexBool          `json:"canPurgeTrash"`
		ComponentAccess       []string          `json:"componentAccess"`
		ExpiresIn             flexInt           `json:"expiresIn"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	for b, p := range body.BucketPermissions {
		if p != "read" && p != "write" && p != "manage" {
			return errInvalid("bucketPermissions[%s]: %q is not read, write or manage", b, p)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.st.nextID()
	t := &token{
		ID: fmt.Sprint(id), Secret: fmt.Sprintf("%d-%d-%s", e.cfg.ProjectID, id, randomHex(20)), Description: body.Description,
		Created: now(), CanManageBuckets: bool(body.CanManageBuckets), CanReadAllFileUploads: bool(body.CanReadAllFileUploads),
		BucketPermissions: body.BucketPermissions, CanPurgeTrash: bool(body.CanPurgeTrash), ComponentAccess: body.ComponentAccess,
	}
	if body.ExpiresIn > 0 {
		exp := now().Add(time.Duration(body.ExpiresIn) * time.Second)
		t.Expires = &exp
	}
	e.st.Tokens[t.ID] = t
	if err := e.saveLocked(); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e.tokenJSON(t, true))
	return nil
}

func (e *Emulator) handleDeleteToken(w http.ResponseWriter, r *http.Request, tok *token) error {
	id := r.PathValue("id")
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.st.Tokens[id]; !ok {
		for _, t := range e.configTokens {
			if t.ID == id {
				return errInvalid("token %s is configured at start-up and cannot be deleted", id)
			}
		}
		return errorf(http.StatusNotFound, "storage.tokens.notFound", "Token %s not found", id)
	}
	if !tok.IsMaster && tok.ID != id {
		return errForbidden("token %s cannot delete token %s", tok.ID, id)
	}
	delete(e.st.Tokens, id)
	if err := e.saveLocked(); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
