package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbridge/kbridge/bridge/kafka"
)

// roundTrip produces one record with a client built from cfg and reads it back within limit.
func roundTrip(t *testing.T, cfg kafka.ClientConfig, limit time.Duration) error {
	t.Helper()
	opts, err := cfg.Options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequestRetries(1), kgo.RetryTimeout(2*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
		return err
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		return err
	}
	if n := fs.NumRecords(); n != 1 {
		t.Fatalf("read %d records back, want 1", n)
	}
	return nil
}

func TestClientSASL(t *testing.T) {
	t.Parallel()
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableSASL(), kfake.Superuser(mech, "kb", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			cfg := kafka.ClientConfig{Brokers: c.ListenAddrs(), SASL: kafka.SASLConfig{Mechanism: mech, Username: "kb", Password: "s3cret"}}
			if err := roundTrip(t, cfg, 30*time.Second); err != nil {
				t.Fatalf("with the right password: %v", err)
			}
			cfg.SASL.Password = "wrong"
			if err := roundTrip(t, cfg, 2*time.Second); err == nil {
				t.Fatal("a wrong password was accepted")
			}
		})
	}
}

func TestClientTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, caFile := selfSignedCert(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := kafka.ClientConfig{Brokers: c.ListenAddrs(), TLS: kafka.TLSConfig{Enabled: true, CAFile: caFile, ServerName: "localhost"}}
	if err := roundTrip(t, cfg, 30*time.Second); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	cfg.TLS.CAFile = ""
	if err := roundTrip(t, cfg, 2*time.Second); err == nil {
		t.Fatal("an unknown certificate was trusted")
	}
	cfg.TLS.CAFile = filepath.Join(dir, "missing.pem")
	if _, err := cfg.Options(); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}

// selfSignedCert makes a certificate for localhost and writes it as the CA file.
func selfSignedCert(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}
