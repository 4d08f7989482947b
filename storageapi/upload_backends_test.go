package storageapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kbridge/kbridge/storageapi"
)

// received is one request seen by a fake backend.
type received struct {
	method, host, path string
	query              map[string][]string
	header             http.Header
	body               string
}

// fakeBackend records requests and answers each with the next scripted response.
type fakeBackend struct {
	mu       sync.Mutex
	requests []received
	script   []func(w http.ResponseWriter)
}

func (f *fakeBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, received{r.Method, r.Host, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), string(body)})
	respond := func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) }
	if len(f.script) > 0 {
		respond, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	respond(w)
}

func (f *fakeBackend) all() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.requests...)
}

func status(code int, headers map[string]string, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func TestUploadBackends(t *testing.T) {
	t.Parallel()
	expires := storageapi.Time{Time: time.Now().Add(time.Hour)}
	const slice = "2024-05-01T12:00:00.000Z_vol1.gz"
	const content = "1,a\n2,b\n"
	cases := map[string]struct {
		file         func(srvURL string) *storageapi.File
		config       func(cfg *storageapi.Config, srvURL string)
		busy, denied func(w http.ResponseWriter) // a retryable and a final error response
		ok           int
		deniedCode   string
		deniedReqID  string
		check        func(t *testing.T, r received)
		manifestURL  string
	}{
		"azure put blob with SAS": {
			file: func(u string) *storageapi.File {
				return &storageapi.File{ID: 1, Provider: "azure", ABSUploadParams: &storageapi.ABSUploadParams{
					BlobName: "1.name", AccountName: "acct", Container: "exp-15-files-1",
					Credentials: storageapi.ABSCredentials{SASConnectionString: "BlobEndpoint=" + u + "/acct;SharedAccessSignature=sv=2021-08-06&sr=c&sp=racwl&sig=c2lnbmF0dXJl", Expiration: expires},
				}}
			},
			busy:        status(503, map[string]string{"x-ms-error-code": "ServerBusy"}, `<?xml version="1.0"?><Error><Code>ServerBusy</Code><Message>busy</Message></Error>`),
			denied:      status(403, map[string]string{"x-ms-error-code": "AuthenticationFailed", "x-ms-request-id": "az-req-1"}, `<?xml version="1.0"?><Error><Code>AuthenticationFailed</Code><Message>Signature not valid in the specified time frame</Message></Error>`),
			ok:          201,
			deniedCode:  "AuthenticationFailed",
			deniedReqID: "az-req-1",
			check: func(t *testing.T, r received) {
				if r.method != "PUT" || r.path != "/acct/exp-15-files-1/1.name2024-05-01T12:00:00.000Z_vol1.gz" {
					t.Fatalf("azure request %s %s", r.method, r.path)
				}
				if r.query["sig"][0] != "c2lnbmF0dXJl" || r.query["sr"][0] != "c" || r.header.Get("x-ms-blob-type") != "BlockBlob" ||
					r.header.Get("x-ms-version") == "" || r.header.Get("x-ms-date") == "" || r.header.Get("Content-Length") != "8" {
					t.Fatalf("azure query %v headers %v", r.query, r.header)
				}
			},
			manifestURL: "azure://acct.blob.core.windows.net/exp-15-files-1/1.name",
		},
		"gcs media upload with bearer token": {
			file: func(string) *storageapi.File {
				return &storageapi.File{ID: 2, Provider: "gcp", Created: storageapi.Time{Time: time.Now()}, GCSUploadParams: &storageapi.GCSUploadParams{
					ProjectID: "p", Bucket: "kbc-files", Key: "exp-15/1/files/2.name", AccessToken: "ya29.token", ExpiresIn: 3599, TokenType: "Bearer"}}
			},
			config:      func(cfg *storageapi.Config, u string) { cfg.GCSEndpoint = u },
			busy:        status(500, nil, `{"error":{"code":500,"message":"backend","errors":[{"reason":"backendError"}]}}`),
			denied:      status(401, map[string]string{"X-GUploader-UploadID": "gcs-req-1"}, `{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}`),
			ok:          200,
			deniedCode:  "authError",
			deniedReqID: "gcs-req-1",
			check: func(t *testing.T, r received) {
				if r.method != "POST" || r.path != "/upload/storage/v1/b/kbc-files/o" || r.query["uploadType"][0] != "media" ||
					r.query["name"][0] != "exp-15/1/files/2.name"+slice {
					t.Fatalf("gcs request %s %s %v", r.method, r.path, r.query)
				}
				if r.header.Get("Authorization") != "Bearer ya29.token" || r.header.Get("Content-Length") != "8" {
					t.Fatalf("gcs headers %v", r.header)
				}
			},
			manifestURL: "gs://kbc-files/exp-15/1/files/2.name",
		},
		"s3 put object signed with SigV4": {
			file: func(string) *storageapi.File {
				return &storageapi.File{ID: 3, Provider: "aws", Region: "eu-central-1", S3UploadParams: &storageapi.S3UploadParams{
					Key: "exp-15/578/files/3.name", Bucket: "kbc-sapi-files", ACL: "private", ServerSideEncryption: "AES256",
					Credentials: storageapi.S3Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token", Expiration: expires}}}
			},
			config:      func(cfg *storageapi.Config, u string) { cfg.S3Endpoint = u },
			busy:        status(503, nil, `<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`),
			denied:      status(403, map[string]string{"x-amz-request-id": "s3-req-1"}, `<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>`),
			ok:          200,
			deniedCode:  "SignatureDoesNotMatch",
			deniedReqID: "s3-req-1",
			check: func(t *testing.T, r received) {
				if r.method != "PUT" || r.path != "/kbc-sapi-files/exp-15/578/files/3.name2024-05-01T12%3A00%3A00.000Z_vol1.gz" {
					t.Fatalf("s3 request %s %s", r.method, r.path)
				}
				sum := sha256.Sum256([]byte(content))
				auth := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/\d{8}/eu-central-1/s3/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-security-token[a-z0-9;-]*, Signature=[0-9a-f]{64}$`)
				if !auth.MatchString(r.header.Get("Authorization")) || r.header.Get("X-Amz-Security-Token") != "session-token" ||
					r.header.Get("X-Amz-Content-Sha256") != hex.EncodeToString(sum[:]) || r.header.Get("X-Amz-Date") == "" ||
					r.header.Get("X-Amz-Acl") != "private" || r.header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
					t.Fatalf("s3 headers %v", r.header)
				}
				if want := resign(t, r); r.header.Get("Authorization") != want {
					t.Fatalf("s3 signature %q, want %q as S3 would compute it", r.header.Get("Authorization"), want)
				}
			},
			manifestURL: "s3://kbc-sapi-files/exp-15/578/files/3.name",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backend := &fakeBackend{}
			srv := httptest.NewServer(backend)
			defer srv.Close()
			backend.script = []func(http.ResponseWriter){tc.busy, status(tc.ok, nil, ""), tc.denied}
			cfg := testConfig("http://storage.invalid", "token")
			if tc.config != nil {
				tc.config(&cfg, srv.URL)
			}
			c := newClient(t, cfg)
			f := tc.file(srv.URL)
			ctx := testContext(t)

			if err := c.UploadSlice(ctx, f, slice, strings.NewReader(content), int64(len(content))); err != nil {
				t.Fatalf("upload: %v", err)
			}
			reqs := backend.all()
			if len(reqs) != 2 || reqs[0].body != content || reqs[1].body != content {
				t.Fatalf("backend saw %d requests, want a retried upload of the whole body: %+v", len(reqs), reqs)
			}
			tc.check(t, reqs[1])

			err := c.UploadSlice(ctx, f, slice, strings.NewReader(content), int64(len(content)))
			var apiErr *storageapi.Error
			if !errors.As(err, &apiErr) || apiErr.Code != tc.deniedCode || apiErr.RequestID != tc.deniedReqID || apiErr.Message == "" || storageapi.IsRetryable(err) {
				t.Fatalf("denied upload = %#v", err)
			}
			if n := len(backend.all()); n != 3 {
				t.Fatalf("denied upload was retried: %d requests", n)
			}

			manifest, err := storageapi.Manifest(f, []string{"a", "b.gz"})
			want := `{"entries":[{"url":"` + tc.manifestURL + `a"},{"url":"` + tc.manifestURL + `b.gz"}]}`
			if err != nil || string(manifest) != want {
				t.Fatalf("manifest = %s, %v; want %s", manifest, err, want)
			}
		})
	}
}

func TestParseSASConnectionString(t *testing.T) {
	t.Parallel()
	endpoint, sas, err := storageapi.ParseSASConnectionString("BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2017-11-09&sr=c&sig=x%3D")
	if err != nil || endpoint != "https://a.blob.core.windows.net" || sas != "sv=2017-11-09&sr=c&sig=x%3D" {
		t.Fatalf("parse = %q %q %v", endpoint, sas, err)
	}
	if _, _, err := storageapi.ParseSASConnectionString("AccountName=a;AccountKey=b"); err == nil {
		t.Fatal("a connection string without SAS was accepted")
	}
}

// resign computes the SigV4 Authorization S3 would expect for the received request,
// from its canonical parts (escaped path, signed headers, payload hash, date).
func resign(t *testing.T, r received) string {
	t.Helper()
	decoded, err := url.PathUnescape(r.path)
	if err != nil {
		t.Fatal(err)
	}
	var canonical strings.Builder // S3 encodes every byte but unreserved ones and "/"
	for _, c := range []byte(decoded) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			canonical.WriteByte(c)
		} else {
			fmt.Fprintf(&canonical, "%%%02X", c)
		}
	}
	req, err := http.NewRequest(r.method, "http://"+r.host+canonical.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		if k != "Authorization" && k != "User-Agent" && k != "Accept-Encoding" {
			req.Header[k] = v
		}
	}
	req.ContentLength = int64(len(r.body))
	at, err := time.Parse("20060102T150405Z", r.header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session-token"}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, req, r.header.Get("X-Amz-Content-Sha256"), "s3", "eu-central-1", at); err != nil {
		t.Fatal(err)
	}
	return req.Header.Get("Authorization")
}
