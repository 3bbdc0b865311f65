package ca

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// testClock is a settable clock for Config.Now. It starts at the real time
// so that openssl, which checks validity against the wall clock, agrees.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	store storage.Store
	clock *testClock
	ctx   context.Context
}

func testMasterKey() []byte {
	return bytes.Repeat([]byte{0x5a}, 32)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := storagetest.MustOpen(t)
	clk := newClock()
	svc := newServiceOver(t, st, clk.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &fixture{svc: svc, store: st, clock: clk, ctx: ctx}
}

// newServiceOver is a Service of the tests' master key and public URL over
// st, on clock now (a fixture's, or a store wrapper's that fails or holds
// some writes over the fixture's store).
func newServiceOver(t testing.TB, st storage.Store, now func() time.Time) *Service {
	t.Helper()
	cfg := DefaultConfig()
	cfg.PublicURL = "https://gw.example.test"
	cfg.Now = now
	svc, err := New(st, testMasterKey(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return svc
}

// generated registers a generated internal root.
func (f *fixture) generated(t testing.TB, id string, alg gmcrypto.Alg, prof *Profile) *Issuer {
	t.Helper()
	iss, err := f.svc.AddIssuer(f.ctx, IssuerRequest{
		ID: id, Name: "Test " + id, Mode: ModeInternal, Alg: alg, Generate: true,
		Subject: Subject{CommonName: "Test " + id + " Root", Organization: "ukeygate tests", Country: "CN"},
		Profile: prof,
	})
	if err != nil {
		t.Fatalf("AddIssuer %s: %v", id, err)
	}
	return iss
}

const testPIN = "246810"

// enrolled creates and enrolls a user, returning the user id.
func (f *fixture) enrolled(t testing.TB, req UserRequest) string {
	t.Helper()
	u, code, err := f.svc.AddUser(f.ctx, req)
	if err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if _, _, err := f.svc.Enroll(f.ctx, code, devicePEM(t), "test phone", testPIN); err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return u.ID
}

func (f *fixture) credential(t testing.TB, userID, issuerID string, alg gmcrypto.Alg, p Purpose) *Credential {
	t.Helper()
	c, err := f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: userID, IssuerID: issuerID, Alg: alg, Purpose: p, PIN: testPIN})
	if err != nil {
		t.Fatalf("CreateCredential %s %s %s: %v", issuerID, alg, p, err)
	}
	return c
}

// snapshot returns every key and value of the store, to prove that a
// refused call changed nothing.
func (f *fixture) snapshot(t testing.TB) string {
	t.Helper()
	kvs, _, err := f.store.List(f.ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var sb strings.Builder
	for _, kv := range kvs {
		sb.WriteString(kv.Key)
		sb.WriteByte('=')
		sb.Write(kv.Value)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func devicePEM(t testing.TB) []byte {
	t.Helper()
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gmcrypto.MarshalPublicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustParsePEM(t testing.TB, s string) []*smx509.Certificate {
	t.Helper()
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(s))
	if err != nil {
		t.Fatalf("parse PEM: %v", err)
	}
	return certs
}

// wantErr fails unless err matches want (nil meaning success).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signAndVerify unlocks a credential, signs with it and checks the
// signature with the certificate's key; it returns the credential.
func (f *fixture) signAndVerify(t testing.TB, userID, credID string) *Credential {
	t.Helper()
	key, cred, err := f.svc.UnlockKey(f.ctx, userID, credID, testPIN)
	if err != nil {
		t.Fatalf("UnlockKey: %v", err)
	}
	defer gmcrypto.ZeroKey(key)
	msg := []byte("bid #42: 1,000,000 CNY")
	sig, err := gmcrypto.Sign(key, msg, nil)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if err := gmcrypto.Verify(cred.Certificate.PublicKey, msg, sig, nil); err != nil {
		t.Fatalf("signature does not verify under the certificate key: %v", err)
	}
	return cred
}

// sm2DistID is the SM2 signer id OpenSSL must be told: OpenSSL 3.0
// applies -vfyopt only to the certificate named on the command line, not to
// the intermediates, so an SM2 chain is verified one link at a time
// (-partial_chain lets a non-root be the anchor of one link).
const sm2DistID = "distid:1234567812345678"

// opensslVerify has openssl verify the certificate in file leaf against
// issuers (files, the direct issuer first, the root last) and fails the
// test unless openssl says OK.
func opensslVerify(t testing.TB, dir string, alg gmcrypto.Alg, leaf string, issuers ...string) {
	t.Helper()
	check := func(args ...string) {
		t.Helper()
		target := args[len(args)-1]
		out := testkit.RunOpenSSL(t, dir, append([]string{"verify"}, args...)...)
		if !strings.Contains(out, target+": OK") {
			t.Fatalf("openssl verify %v: %s", args, out)
		}
	}
	root := issuers[len(issuers)-1]
	if alg == gmcrypto.AlgRSA {
		args := []string{"-CAfile", root}
		if len(issuers) > 1 {
			var inter []byte
			for _, f := range issuers[:len(issuers)-1] {
				inter = append(inter, readFile(t, dir, f)...)
			}
			writeFile(t, dir, leaf+".untrusted.pem", inter)
			args = append(args, "-untrusted", leaf+".untrusted.pem")
		}
		check(append(args, leaf)...)
		return
	}
	chain := append([]string{leaf}, issuers...)
	for i := 0; i+1 < len(chain); i++ {
		args := []string{"-vfyopt", sm2DistID, "-CAfile", chain[i+1]}
		if i+1 < len(chain)-1 {
			args = append(args, "-partial_chain")
		}
		check(append(args, chain[i])...)
	}
}

// opensslCheckCRL has openssl verify the signature of a DER CRL against the
// CA certificate in caFile. RSA: `openssl crl -CAfile` must say "verify
// OK". SM2: OpenSSL 3.0's crl command cannot be given the SM2 signer id
// (it verifies SM2-curve keys without the GM/T Z value), so the CRL is
// split into TBSCertList and signature and the signature is checked with
// `openssl pkeyutl -verify -digest sm3 -pkeyopt distid:…` against the CA's
// public key; a corrupted copy must fail the same check.
func opensslCheckCRL(t testing.TB, dir string, alg gmcrypto.Alg, crlFile, caFile string) {
	t.Helper()
	if alg == gmcrypto.AlgRSA {
		out := testkit.RunOpenSSL(t, dir, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", caFile, "-noout")
		if !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl crl %s: %s", crlFile, out)
		}
		return
	}
	var crl struct {
		TBS   asn1.RawValue
		AlgID asn1.RawValue
		Sig   asn1.BitString
	}
	if rest, err := asn1.Unmarshal(readFile(t, dir, crlFile), &crl); err != nil || len(rest) != 0 {
		t.Fatalf("split CRL: %v", err)
	}
	pub := testkit.RunOpenSSL(t, dir, "x509", "-in", caFile, "-pubkey", "-noout")
	writeFile(t, dir, crlFile+".pub", []byte(pub))
	writeFile(t, dir, crlFile+".tbs", crl.TBS.FullBytes)
	writeFile(t, dir, crlFile+".sig", crl.Sig.Bytes)
	args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", crlFile + ".pub", "-rawin", "-in", crlFile + ".tbs",
		"-sigfile", crlFile + ".sig", "-digest", "sm3", "-pkeyopt", sm2DistID}
	out := testkit.RunOpenSSL(t, dir, args...)
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl on CRL %s: %s", crlFile, out)
	}
	bad := append([]byte(nil), crl.TBS.FullBytes...)
	bad[len(bad)-1] ^= 1
	writeFile(t, dir, crlFile+".tbs", bad)
	if out, err := testkit.TryOpenSSL(t, dir, args...); err == nil || strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl accepted a corrupted CRL: %s", out)
	}
}
