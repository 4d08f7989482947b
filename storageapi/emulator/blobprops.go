package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// blobProps are the properties Azure keeps with a blob and returns from Get Blob and Get
// Blob Properties: the Azure SDK reads Last-Modified, ETag and x-ms-creation-time from every
// such response, and the content type is the one the blob was uploaded with.
type blobProps struct {
	ContentType string    `json:"contentType"`
	ETag        string    `json:"etag"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

// defaultBlobContentType is Azure's type of a blob uploaded without x-ms-blob-content-type.
const defaultBlobContentType = "application/octet-stream"

func (e *Emulator) blobPropsPath(container, blob string) string {
	return filepath.Join(e.cfg.DataDir, "blobprops", container, url.PathEscape(blob)+".json")
}

// writeBlobLocked stores a blob's content and its properties: the content type of the
// request (x-ms-blob-content-type), a new ETag, the creation time kept from an earlier version.
func (e *Emulator) writeBlobLocked(r *http.Request, container, blob string, data []byte) error {
	now := time.Now().UTC()
	props := blobProps{ContentType: r.Header.Get("x-ms-blob-content-type"), Created: now, Modified: now}
	if old, err := e.readBlobProps(container, blob); err == nil {
		props.Created = old.Created
	}
	if props.ContentType == "" {
		props.ContentType = defaultBlobContentType
	}
	sum := sha256.Sum256(fmt.Appendf(data, "%d", now.UnixNano()))
	props.ETag = `"0x` + hex.EncodeToString(sum[:8]) + `"`
	if err := writeFileAtomic(e.blobPath(container, blob), data); err != nil {
		return err
	}
	raw, _ := json.Marshal(props) // plain fields; cannot fail
	return writeFileAtomic(e.blobPropsPath(container, blob), raw)
}

// readBlobProps reads a blob's properties; a blob stored before they were kept gets its file's
// times and the default content type.
func (e *Emulator) readBlobProps(container, blob string) (blobProps, error) {
	var p blobProps
	raw, err := os.ReadFile(e.blobPropsPath(container, blob))
	if err == nil {
		err = json.Unmarshal(raw, &p)
		return p, err
	}
	info, serr := os.Stat(e.blobPath(container, blob))
	if serr != nil {
		return p, serr
	}
	mod := info.ModTime().UTC()
	return blobProps{ContentType: defaultBlobContentType, ETag: fmt.Sprintf(`"0x%X"`, mod.UnixNano()), Created: mod, Modified: mod}, nil
}

func setBlobHeaders(h http.Header, p blobProps) {
	h.Set("x-ms-blob-type", "BlockBlob")
	h.Set("Content-Type", p.ContentType)
	h.Set("ETag", p.ETag)
	h.Set("Last-Modified", p.Modified.Format(http.TimeFormat))
	h.Set("x-ms-creation-time", p.Created.Format(http.TimeFormat))
	h.Set("x-ms-version", sasVersion)
	h.Set("Accept-Ranges", "bytes")
}
