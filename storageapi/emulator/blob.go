package emulator

import (
	"bytes"
	"crypto/hmac"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxBlobBytes bounds one uploaded blob or block.
const maxBlobBytes = 256 << 20

func blobErr(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

// writeBlobError answers in Azure's style: x-ms-error-code and an XML body.
func writeBlobError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = blobErr(http.StatusInternalServerError, "InternalError", err.Error())
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	w.Header().Set("x-ms-error-code", ae.code)
	w.Header().Set("x-ms-request-id", w.Header().Get("X-Request-Id"))
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(ae.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message></Error>", xmlEscape(ae.code), xmlEscape(ae.message))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to a buffer; cannot fail
	return b.String()
}

func (e *Emulator) blobPath(container, blob string) string {
	return filepath.Join(e.cfg.DataDir, "blobs", container, url.PathEscape(blob))
}

func (e *Emulator) deleteContainerLocked(container string) error {
	for _, dir := range []string{"blobs", "blobprops"} {
		if err := os.RemoveAll(filepath.Join(e.cfg.DataDir, dir, container)); err != nil {
			return fmt.Errorf("delete container %s: %w", container, err)
		}
	}
	return nil
}

// authorizeBlob checks the SAS of a blob request; e.mu must be held.
func (e *Emulator) authorizeBlob(r *http.Request, container string, write bool) error {
	if r.PathValue("account") != accountName {
		return blobErr(http.StatusNotFound, "ResourceNotFound", "unknown account "+r.PathValue("account"))
	}
	var f *file
	for _, candidate := range e.st.Files {
		if candidate.Container == container {
			f = candidate
		}
	}
	if f == nil {
		return blobErr(http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
	}
	q := r.URL.Query()
	st, se, sp := q.Get("st"), q.Get("se"), q.Get("sp")
	if !hmac.Equal([]byte(q.Get("sig")), []byte(e.sasSignature(container, st, se, sp))) {
		return blobErr(http.StatusForbidden, "AuthenticationFailed", "Signature did not match.")
	}
	expiry, err := time.Parse(time.RFC3339, se)
	if err != nil || !time.Now().Before(expiry) {
		return blobErr(http.StatusForbidden, "AuthenticationFailed", "Signature not valid in the specified time frame")
	}
	if e.credentialsRevoked(f.ID) {
		return blobErr(http.StatusForbidden, "AuthenticationFailed", "Signature not valid in the specified time frame")
	}
	need := "r"
	if write {
		need = "w"
	}
	if !strings.Contains(sp, need) && !(write && strings.Contains(sp, "c")) {
		return blobErr(http.StatusForbidden, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
	}
	return nil
}

func (e *Emulator) handlePutBlob(w http.ResponseWriter, r *http.Request, _ *token) error {
	container, blob := r.PathValue("container"), r.PathValue("blob")
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBlobBytes+1))
	if err != nil {
		return blobErr(http.StatusBadRequest, "InvalidInput", err.Error())
	}
	if len(data) > maxBlobBytes {
		return blobErr(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "blob too large for the emulator")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.authorizeBlob(r, container, true); err != nil {
		return err
	}
	key := container + "/" + blob
	switch r.URL.Query().Get("comp") {
	case "block":
		id := r.URL.Query().Get("blockid")
		if id == "" {
			return blobErr(http.StatusBadRequest, "InvalidQueryParameterValue", "blockid is required")
		}
		if e.blocks[key] == nil {
			e.blocks[key] = map[string][]byte{}
		}
		e.blocks[key][id] = data
	case "blocklist":
		content, err := e.commitBlocksLocked(key, data)
		if err != nil {
			return err
		}
		if err := e.writeBlobLocked(r, container, blob, content); err != nil {
			return err
		}
	case "":
		if bt := r.Header.Get("x-ms-blob-type"); bt != "BlockBlob" {
			return blobErr(http.StatusBadRequest, "InvalidHeaderValue", "x-ms-blob-type must be BlockBlob, got "+strconv.Quote(bt))
		}
		if err := e.writeBlobLocked(r, container, blob, data); err != nil {
			return err
		}
	default:
		return blobErr(http.StatusBadRequest, "InvalidQueryParameterValue", "unsupported comp")
	}
	if props, err := e.readBlobProps(container, blob); err == nil {
		w.Header().Set("ETag", props.ETag)
		w.Header().Set("Last-Modified", props.Modified.Format(http.TimeFormat))
	} else { // a block was staged: the blob itself did not change
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	}
	w.Header().Set("x-ms-request-id", w.Header().Get("X-Request-Id"))
	w.Header().Set("x-ms-version", sasVersion)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// commitBlocksLocked concatenates the listed uncommitted blocks (Latest, Uncommitted or
// Committed elements, in document order) and drops the rest.
func (e *Emulator) commitBlocksLocked(key string, list []byte) ([]byte, error) {
	dec := xml.NewDecoder(bytes.NewReader(list))
	var content bytes.Buffer
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, blobErr(http.StatusBadRequest, "InvalidXmlDocument", err.Error())
		}
		start, ok := tok.(xml.StartElement)
		if !ok || (start.Name.Local != "Latest" && start.Name.Local != "Uncommitted" && start.Name.Local != "Committed") {
			continue
		}
		var id string
		if err := dec.DecodeElement(&id, &start); err != nil {
			return nil, blobErr(http.StatusBadRequest, "InvalidXmlDocument", err.Error())
		}
		block, ok := e.blocks[key][strings.TrimSpace(id)]
		if !ok {
			return nil, blobErr(http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
		}
		content.Write(block)
	}
	delete(e.blocks, key)
	return content.Bytes(), nil
}

func (e *Emulator) handleGetBlob(w http.ResponseWriter, r *http.Request, _ *token) error {
	container, blob := r.PathValue("container"), r.PathValue("blob")
	e.mu.Lock()
	if err := e.authorizeBlob(r, container, false); err != nil {
		e.mu.Unlock()
		return err
	}
	data, err := os.ReadFile(e.blobPath(container, blob))
	var props blobProps
	if err == nil {
		props, err = e.readBlobProps(container, blob)
	}
	e.mu.Unlock()
	if errors.Is(err, os.ErrNotExist) {
		return blobErr(http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
	}
	if err != nil {
		return err
	}
	setBlobHeaders(w.Header(), props)
	w.Header().Set("x-ms-request-id", w.Header().Get("X-Request-Id"))
	status := http.StatusOK
	if rng := r.Header.Get("x-ms-range"); rng != "" || r.Header.Get("Range") != "" {
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		var from, to int
		if n, _ := fmt.Sscanf(rng, "bytes=%d-%d", &from, &to); n >= 1 && from < len(data) {
			if n == 1 || to >= len(data) {
				to = len(data) - 1
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
			data, status = data[from:to+1], http.StatusPartialContent
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, err = w.Write(data)
	}
	return err
}

// readBlobLocked reads a stored blob for an import; e.mu must be held.
func (e *Emulator) readBlobLocked(container, blob string) ([]byte, error) {
	data, err := os.ReadFile(e.blobPath(container, blob))
	if err != nil {
		return nil, fmt.Errorf("blob %s/%s: %w", container, blob, err)
	}
	return data, nil
}
