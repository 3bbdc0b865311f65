package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for 127.0.0.1 with serial
// and its key; it returns the certificate PEM.
func writePair(t *testing.T, certFile, keyFile string, serial int64) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certPEM
}

func serialOf(t *testing.T, c *tls.Certificate) int64 {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// TestCertReloader: a renewed pair is served after the next check; a
// half-written renewal keeps the previous certificate.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	writePair(t, certFile, keyFile, 1)
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Now()}
	r.now = clk.now
	get := func() int64 {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return serialOf(t, c)
	}
	if got := get(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	writePair(t, certFile, keyFile, 2)
	// Make sure the modification time moves even on a coarse clock.
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(certFile, later, later)
	if got := get(); got != 1 {
		t.Fatalf("reloaded before the check interval: serial %d", got)
	}
	clk.advance(certCheckInterval)
	if got := get(); got != 2 {
		t.Fatalf("after renewal: serial %d, want 2", got)
	}
	// A renewal caught half-written (certificate without its key).
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.advance(certCheckInterval)
	if got := get(); got != 2 {
		t.Fatalf("half-written renewal: serial %d, want the previous 2", got)
	}
	writePair(t, certFile, keyFile, 3)
	evenLater := later.Add(time.Minute)
	_ = os.Chtimes(certFile, evenLater, evenLater)
	_ = os.Chtimes(keyFile, evenLater, evenLater)
	clk.advance(certCheckInterval)
	if got := get(); got != 3 {
		t.Fatalf("completed renewal: serial %d, want 3", got)
	}
}

// TestServeTLSRenewalAndMinVersion: the real server serves a renewed
// certificate without a restart and refuses TLS 1.1.
func TestServeTLSRenewalAndMinVersion(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "tls.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "tls.key")
	writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, 10)
	s := newServer(t, cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	addr := ln.Addr().String()
	handshake := func(cfg *tls.Config) (int64, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: guard}, "tcp", addr, cfg)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
	}
	_, err = handshake(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("a TLS 1.1 client: %v; want the server's protocol version alert", err)
	}
	if serial, err := handshake(&tls.Config{InsecureSkipVerify: true}); err != nil || serial != 10 {
		t.Fatalf("first handshake: serial %d, %v", serial, err)
	}
	writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, 11)
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(cfg.TLS.CertFile, later, later)
	deadline := time.Now().Add(guard)
	for {
		serial, err := handshake(&tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if serial == 11 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
