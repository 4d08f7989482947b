package storageapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbridge/kbridge/storageapi"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// uploadSlices uploads each slice and rewrites the manifest after each, as the stream service does.
func uploadSlices(t *testing.T, c *storageapi.Client, f *storageapi.File, slices map[string][]byte, order []string) {
	t.Helper()
	ctx := testContext(t)
	var done []string
	for _, name := range order {
		data := slices[name]
		if err := c.UploadSlice(ctx, f, name, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatalf("upload slice %s: %v", name, err)
		}
		done = append(done, name)
		if err := c.UploadManifest(ctx, f, done); err != nil {
			t.Fatalf("upload manifest: %v", err)
		}
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))

	tags := []string{"stream.sourceID=src1", "stream.sinkID=sink1"}
	f, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "src1_sink1_20240501120000", Tags: tags, IsSliced: true})
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	p := f.ABSUploadParams
	if f.Provider != storageapi.ProviderAzure || p == nil || !f.IsSliced || !slices.Equal(f.Tags, tags) {
		t.Fatalf("prepared file = %+v", f)
	}
	endpoint, sas, err := storageapi.ParseSASConnectionString(p.Credentials.SASConnectionString)
	if err != nil || !strings.HasPrefix(endpoint, url+"/") || !strings.Contains(sas, "sig=") {
		t.Fatalf("connection string %q: endpoint %q sas %q err %v", p.Credentials.SASConnectionString, endpoint, sas, err)
	}
	if exp := f.CredentialsExpiration(); exp.Before(time.Now().Add(11 * time.Hour)) {
		t.Fatalf("credentials expire at %s, want about 12 h", exp)
	}
	if _, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "untagged"}); err != nil {
		t.Fatalf("prepare without tags (tags: null): %v", err)
	}

	uploadSlices(t, c, f, map[string][]byte{"s1.gz": gzipped(t, "1,a\n"), "s2": []byte("2,b\n")}, []string{"s1.gz", "s2"})

	manifest := downloadBlob(t, endpoint+"/"+p.Container+"/"+p.BlobName+"manifest?"+sas)
	var m struct{ Entries []struct{ URL string } }
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("manifest %s: %v", manifest, err)
	}
	prefix := "azure://" + p.AccountName + ".blob.core.windows.net/" + p.Container + "/" + p.BlobName
	if len(m.Entries) != 2 || m.Entries[0].URL != prefix+"s1.gz" || m.Entries[1].URL != prefix+"s2" {
		t.Fatalf("manifest = %s", manifest)
	}
	if got := downloadBlob(t, endpoint+"/"+p.Container+"/"+p.BlobName+"s2?"+sas); string(got) != "2,b\n" {
		t.Fatalf("slice s2 = %q", got)
	}

	got, err := c.GetFile(ctx, f.ID)
	if err != nil || got.ID != f.ID || got.Name != f.Name || got.ABSUploadParams != nil {
		t.Fatalf("get = %+v, %v", got, err)
	}
	listed, err := c.ListFiles(ctx, storageapi.ListFilesRequest{Tags: []string{"stream.sinkID=sink1"}})
	if err != nil || len(listed) != 1 || listed[0].ID != f.ID {
		t.Fatalf("list by tag = %+v, %v", listed, err)
	}
	if err := c.DeleteFile(ctx, f.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.GetFile(ctx, f.ID)
	assertAPIError(t, err, storageapi.ErrNotFound, http.StatusNotFound, "storage.files.notFound")
	if err := c.DeleteFile(ctx, f.ID); err != nil {
		t.Fatalf("deleting a missing file: %v", err)
	}
}

func downloadBlob(t *testing.T, u string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", u, resp.StatusCode, data, err)
	}
	return data
}

func TestUploadExpiredCredentials(t *testing.T) {
	t.Parallel()
	em, url := startEmulator(t)
	ctx := testContext(t)
	c := newClient(t, testConfig(url, masterToken))
	f, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "f", IsSliced: true})
	if err != nil {
		t.Fatal(err)
	}

	// Known expired before sending: refused locally, not retried.
	late := newClient(t, testConfig(url, masterToken), storageapi.WithClock(func() time.Time { return time.Now().Add(13 * time.Hour) }))
	err = late.UploadSlice(ctx, f, "s1", strings.NewReader("1\n"), 2)
	if !errors.Is(err, storageapi.ErrCredentialsExpired) {
		t.Fatalf("upload with expired credentials = %v, want ErrCredentialsExpired", err)
	}

	// Revoked by the backend: 403 AuthenticationFailed from the blob endpoint, not retried.
	em.ExpireCredentials()
	before := em.Calls("putBlob")
	err = c.UploadSlice(ctx, f, "s1", strings.NewReader("1\n"), 2)
	assertAPIError(t, err, storageapi.ErrForbidden, http.StatusForbidden, "AuthenticationFailed")
	if n := em.Calls("putBlob") - before; n != 1 {
		t.Fatalf("blob endpoint called %d times, want 1 (403 is not retried)", n)
	}
	fresh, err := c.PrepareFile(ctx, storageapi.PrepareFileRequest{Name: "g", IsSliced: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadSlice(ctx, fresh, "s1", strings.NewReader("1\n"), 2); err != nil {
		t.Fatalf("upload to a file prepared after the expiry: %v", err)
	}
}
