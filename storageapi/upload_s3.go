package storageapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// s3Backend uploads with PutObject signed by AWS Signature Version 4 using the STS
// credentials from uploadParams, with the object ACL and server-side encryption it names.
type s3Backend struct {
	c      *Client
	p      *S3UploadParams
	region string
}

var s3Signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

func (s *s3Backend) name() string             { return "s3" }
func (s *s3Backend) prefix() string           { return s.p.Key }
func (s *s3Backend) url(object string) string { return "s3://" + s.p.Bucket + "/" + object }

func (s *s3Backend) objectURL(object string) string {
	if ep := s.c.cfg.S3Endpoint; ep != "" {
		return strings.TrimRight(ep, "/") + "/" + s.p.Bucket + "/" + awsEscapePath(object)
	}
	return "https://" + s.p.Bucket + ".s3." + s.regionOrDefault() + ".amazonaws.com/" + awsEscapePath(object)
}

// awsEscapePath is SigV4's URI encoding of an object key: every byte except unreserved
// characters and "/" is percent-encoded. The signer is told not to escape again.
func awsEscapePath(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func (s *s3Backend) regionOrDefault() string {
	if s.region == "" {
		return "us-east-1"
	}
	return s.region
}

func (s *s3Backend) put(ctx context.Context, object string, body io.Reader, size int64, contentType string) error {
	op := "s3 put object " + object
	// SigV4 covers the payload hash, so the body is read twice: once here, once when sent.
	seeker, ok := body.(io.ReadSeeker)
	if !ok {
		return &Error{Op: op, Message: "body is not seekable"}
	}
	h := sha256.New()
	if _, err := io.Copy(h, seeker); err != nil {
		return err
	}
	if _, err := seeker.Seek(0, io.SeekStart); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.objectURL(object), seeker)
	if err != nil {
		return &Error{Op: op, Message: err.Error()}
	}
	req.ContentLength = size
	payloadHash := hex.EncodeToString(h.Sum(nil))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if s.p.ACL != "" {
		req.Header.Set("X-Amz-Acl", s.p.ACL)
	}
	if s.p.ServerSideEncryption != "" {
		req.Header.Set("X-Amz-Server-Side-Encryption", s.p.ServerSideEncryption)
	}
	creds := aws.Credentials{AccessKeyID: s.p.Credentials.AccessKeyID, SecretAccessKey: s.p.Credentials.SecretAccessKey, SessionToken: s.p.Credentials.SessionToken}
	if err := s3Signer.SignHTTP(ctx, creds, req, payloadHash, "s3", s.regionOrDefault(), s.c.now()); err != nil {
		return &Error{Op: op, Message: "sign: " + err.Error()}
	}
	resp, data, err := s.c.send(req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var body2 struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	_ = xml.Unmarshal(data, &body2) // the status and headers suffice when the body is not XML
	e := &Error{Op: op, StatusCode: resp.StatusCode, Code: body2.Code, Message: body2.Message,
		RequestID: resp.Header.Get("X-Amz-Request-Id"), RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if e.RequestID == "" {
		e.RequestID = body2.RequestID
	}
	return e
}
