package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/storage"
)

// Regression tests of the security review's confirmed findings 1, 2, 3 and
// 5 (verify paths, duplicate issuers, serial numbers, verify CPU bounds).

// TestVerifyRefusesNonCAIssuer (finding 1): a certificate that is not a CA
// never signs another in a path. The main case is the one OpenSSL 3.0
// produces by default: `openssl x509 -req` without an extfile issues a v1
// certificate, which carries no basicConstraints at all; its holder must
// not be able to mint certificates under the registered CA. openssl verify
// is the independent judge of the same chain.
func TestVerifyRefusesNonCAIssuer(t *testing.T) {
	testkit.OpenSSL(t)
	f := newFixture(t)
	dir := t.TempDir()
	opensslCA(t, dir, "extca", gmcrypto.AlgRSA)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal, ChainPEM: readFile(t, dir, "extca.pem")}); err != nil {
		t.Fatal(err)
	}
	// The registered CA issues an ordinary certificate without extensions.
	testkit.RunOpenSSL(t, dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "v1.key", "-subj", "/CN=Some Customer", "-out", "v1.csr")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "v1.csr", "-CA", "extca.pem", "-CAkey", "extca.key", "-set_serial", "5", "-days", "10", "-out", "v1.pem")
	// Its holder mints a certificate for somebody else.
	writeFile(t, dir, "sign.ext", []byte("keyUsage=critical,digitalSignature,nonRepudiation\n"))
	testkit.RunOpenSSL(t, dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "forged.key", "-subj", "/CN=Zhang San/O=Victim Corp", "-out", "forged.csr")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "forged.csr", "-CA", "v1.pem", "-CAkey", "v1.key", "-set_serial", "77", "-days", "5",
		"-extfile", "sign.ext", "-out", "forged.pem")
	// The same with a v3 end-entity certificate (CA:FALSE) as the "issuer".
	writeFile(t, dir, "ee.ext", []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n"))
	testkit.RunOpenSSL(t, dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ee.key", "-subj", "/CN=Other Customer", "-out", "ee.csr")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "ee.csr", "-CA", "extca.pem", "-CAkey", "extca.key", "-set_serial", "6", "-days", "10",
		"-extfile", "ee.ext", "-out", "ee.pem")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "forged.csr", "-CA", "ee.pem", "-CAkey", "ee.key", "-set_serial", "78", "-days", "5",
		"-extfile", "sign.ext", "-out", "forged-ee.pem")
	// A genuine intermediate CA, for the positive control.
	writeFile(t, dir, "ica.ext", []byte("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"))
	testkit.RunOpenSSL(t, dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ica.key", "-subj", "/CN=Good Intermediate", "-out", "ica.csr")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "ica.csr", "-CA", "extca.pem", "-CAkey", "extca.key", "-set_serial", "7", "-days", "10",
		"-extfile", "ica.ext", "-out", "ica.pem")
	testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "forged.csr", "-CA", "ica.pem", "-CAkey", "ica.key", "-set_serial", "79", "-days", "5",
		"-extfile", "sign.ext", "-out", "good.pem")

	cert := func(name string) *smx509.Certificate {
		return mustParsePEM(t, string(readFile(t, dir, name)))[0]
	}
	v1 := cert("v1.pem")
	if v1.Version != 1 || v1.BasicConstraintsValid {
		t.Logf("note: this openssl wrote version %d (basicConstraints %v) without an extfile", v1.Version, v1.BasicConstraintsValid)
	}
	tests := []struct {
		name, leaf, inter string
		want              error
	}{
		{"under a v1 end-entity certificate", "forged.pem", "v1.pem", ErrUntrusted},
		{"under a CA:FALSE certificate with keyCertSign", "forged-ee.pem", "ee.pem", ErrUntrusted},
		{"under a real intermediate CA", "good.pem", "ica.pem", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// openssl dates its certificates by the wall clock, after the
			// fixture's clock was read.
			v, err := f.svc.Verify(f.ctx, []*smx509.Certificate{cert(tc.leaf), cert(tc.inter)}, UsageSign, time.Now())
			wantErr(t, "Verify", err, tc.want)
			if tc.want == nil && (v.IssuerID != "ext" || len(v.Chain) != 3) {
				t.Fatalf("Verified %+v", v)
			}
			// openssl, the independent checker, agrees.
			writeFile(t, dir, "untrusted.pem", readFile(t, dir, tc.inter))
			out, oerr := testkit.TryOpenSSL(t, dir, "verify", "-CAfile", "extca.pem", "-untrusted", "untrusted.pem", tc.leaf)
			if ok := oerr == nil && strings.Contains(out, tc.leaf+": OK"); ok != (tc.want == nil) {
				t.Fatalf("openssl verify disagrees (ok=%v): %v\n%s", ok, oerr, out)
			}
		})
	}
}

// TestVerifyCAChecks (finding 1): the registered chain above an anchor
// counts for path length constraints, registration refuses chains whose
// upper certificates are not CAs or whose constraints are exceeded, and a
// CA certificate does not sign or encrypt as a user.
func TestVerifyCAChecks(t *testing.T) {
	f := newFixture(t)
	// root (pathLen 1) > mid (unconstrained) is registered as one issuer;
	// an outside intermediate below mid makes root's constraint exceeded.
	root, rootKey := handCert(t, "PL Root", 1, nil, nil)
	mid, midKey := handCert(t, "PL Mid", -1, root, rootKey)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "mid", Name: "Mid", Mode: ModeExternal,
		ChainPEM: gmcrypto.EncodeCertificatesPEM(mid, root)}); err != nil {
		t.Fatal(err)
	}
	direct, _ := handCert(t, "Direct Leaf", -2, mid, midKey)
	below, belowKey := handCert(t, "PL Below", -1, mid, midKey)
	deep, _ := handCert(t, "Deep Leaf", -2, below, belowKey)

	// root0 (pathLen 0) cannot have mid0 below it: refused at registration.
	root0, root0Key := handCert(t, "PL0 Root", 0, nil, nil)
	mid0, _ := handCert(t, "PL0 Mid", -1, root0, root0Key)
	// An end-entity certificate above a CA in a chain_pem.
	eeTop, eeTopKey := handCert(t, "EE Top", -2, nil, nil)
	caUnderEE := handCertSignedBy(t, "CA under EE", eeTop, eeTopKey)

	now := f.clock.Now()
	for _, tc := range []struct {
		name  string
		chain []*smx509.Certificate
		usage Usage
		want  error
	}{
		{"leaf under the registered issuer", []*smx509.Certificate{direct}, UsageSign, nil},
		{"outside intermediate exceeds the registered root's path length", []*smx509.Certificate{deep, below}, UsageSign, ErrUntrusted},
		{"a CA certificate to sign", []*smx509.Certificate{below}, UsageSign, ErrKeyUsage},
		{"a CA certificate to encrypt", []*smx509.Certificate{below}, UsageEncrypt, ErrKeyUsage},
		{"a CA certificate, any usage", []*smx509.Certificate{below}, UsageAny, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Verify(f.ctx, tc.chain, tc.usage, now)
			wantErr(t, "Verify", err, tc.want)
		})
	}
	for _, tc := range []struct {
		name  string
		chain []*smx509.Certificate
		want  error
	}{
		{"path length of the chain exceeded", []*smx509.Certificate{mid0, root0}, ErrCertificateChain},
		{"end entity above a CA", []*smx509.Certificate{caUnderEE, eeTop}, ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "bad", Name: "Bad", Mode: ModeExternal, ChainPEM: gmcrypto.EncodeCertificatesPEM(tc.chain...)})
			wantErr(t, "AddIssuer", err, tc.want)
			if f.snapshot(t) != before {
				t.Fatal("a refused AddIssuer changed the store")
			}
		})
	}
}

// handCertSignedBy makes an unconstrained CA certificate signed by parent,
// whatever parent is (smx509.CreateCertificate does not check it).
func handCertSignedBy(t testing.TB, cn string, parent *smx509.Certificate, parentKey crypto.Signer) *smx509.Certificate {
	t.Helper()
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: -1, KeyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDuplicateIssuer (finding 2): the same CA (subject and key) cannot be
// registered twice, even as a renewed certificate; and where two issuer
// records of one CA exist anyway (registered before this check), Verify
// still finds the credential and its revocation.
func TestDuplicateIssuer(t *testing.T) {
	f := newFixture(t)
	iss := f.generated(t, "zz-int", gmcrypto.AlgSM2, nil)

	// A renewed certificate of the same CA: same subject and key, new
	// serial and validity.
	key, err := f.svc.issuerKeyForTest(f.ctx, "zz-int")
	if err != nil {
		t.Fatal(err)
	}
	defer gmcrypto.ZeroKey(key)
	renewed := *iss.Certificate
	renewed.SerialNumber = big.NewInt(4242)
	renewed.NotAfter = iss.Certificate.NotAfter.Add(24 * time.Hour)
	renewedDER, err := smx509.CreateCertificate(rand.Reader, &renewed, &renewed, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	renewedCert, err := smx509.ParseCertificate(renewedDER)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := gmcrypto.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  IssuerRequest
	}{
		{"same certificate, external", IssuerRequest{ID: "aa-ext", Mode: ModeExternal, ChainPEM: []byte(iss.CertificatePEM)}},
		{"renewed certificate, external", IssuerRequest{ID: "aa-ren", Mode: ModeExternal, ChainPEM: gmcrypto.EncodeCertificatesPEM(renewedCert)}},
		{"renewed certificate, internal", IssuerRequest{ID: "aa-int", Mode: ModeInternal, CertPEM: gmcrypto.EncodeCertificatesPEM(renewedCert), KeyPEM: keyPEM}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Name = tc.name
			before := f.snapshot(t)
			_, err := f.svc.AddIssuer(f.ctx, tc.req)
			wantErr(t, "AddIssuer", err, ErrIssuerDuplicate)
			if f.snapshot(t) != before {
				t.Fatal("a refused AddIssuer changed the store")
			}
		})
	}

	// A duplicate record from before the check: copy zz-int's record to
	// aa-ext (sorted first, so it is the first anchor Verify finds).
	var rec issuerRecord
	if _, err := f.svc.getJSON(f.ctx, issuerKey("zz-int"), &rec); err != nil {
		t.Fatal(err)
	}
	rec.ID, rec.Mode, rec.KeySalt, rec.WrappedKey = "aa-ext", ModeExternal, nil, nil
	val, err := json.Marshal(&rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Txn(f.ctx, storage.Put(issuerKey("aa-ext"), val, 0)); err != nil {
		t.Fatal(err)
	}

	uid := f.enrolled(t, UserRequest{Name: "Zhang San"})
	cred := f.credential(t, uid, "zz-int", gmcrypto.AlgSM2, PurposeSign)
	v, err := f.svc.Verify(f.ctx, []*smx509.Certificate{cred.Certificate}, UsageSign, f.clock.Now())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.CredentialID != cred.ID || v.UserID != uid || v.IssuerID != "zz-int" {
		t.Fatalf("Verified credential %q user %q issuer %q; want %s %s zz-int", v.CredentialID, v.UserID, v.IssuerID, cred.ID, uid)
	}
	if _, err := f.svc.Revoke(f.ctx, cred.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Verify(f.ctx, []*smx509.Certificate{cred.Certificate}, UsageSign, f.clock.Now())
	wantErr(t, "Verify after revoke", err, ErrCertificateRevoked)
}

// issuerKeyForTest unwraps an internal issuer's key.
func (s *Service) issuerKeyForTest(ctx context.Context, id string) (crypto.Signer, error) {
	rec, _, err := s.loadIssuer(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.issuerSigner(rec)
}

// TestImportCertificateSerial (finding 3): a certificate whose serial is
// zero, negative or longer than 20 octets is refused on import (openssl
// issues all three on request) and changes nothing; a certified
// credential's revocation is always recorded, even for a record that lacks
// its serial, and Verify refuses it.
func TestImportCertificateSerial(t *testing.T) {
	testkit.OpenSSL(t)
	f := newFixture(t)
	dir := t.TempDir()
	opensslCA(t, dir, "extca", gmcrypto.AlgRSA)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal, ChainPEM: readFile(t, dir, "extca.pem")}); err != nil {
		t.Fatal(err)
	}
	uid := f.enrolled(t, UserRequest{Name: "Wang Wu"})
	cred := f.credential(t, uid, "ext", gmcrypto.AlgRSA, PurposeSign)
	writeFile(t, dir, "our.csr", []byte(cred.CSRPEM))
	writeFile(t, dir, "leaf.ext", []byte("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"))
	sign := func(serial, out string) []byte {
		testkit.RunOpenSSL(t, dir, "x509", "-req", "-in", "our.csr", "-CA", "extca.pem", "-CAkey", "extca.key", "-set_serial", serial,
			"-days", "10", "-extfile", "leaf.ext", "-out", out)
		return readFile(t, dir, out)
	}
	for _, tc := range []struct {
		name, serial string
		want         error
	}{
		{"zero", "0", ErrInvalidRequest},
		{"21 octets", "0x0102030405060708090a0b0c0d0e0f101112131415", ErrInvalidRequest},
		// Go's parser refuses negative serials outright.
		{"negative", "-5", ErrMalformedPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pemBytes := sign(tc.serial, "serial.pem")
			if tc.want == ErrInvalidRequest {
				if c := mustParsePEM(t, string(pemBytes))[0]; c.SerialNumber.Sign() > 0 && len(c.SerialNumber.Bytes()) <= 20 {
					t.Fatalf("openssl wrote serial %s for %s", c.SerialNumber, tc.serial)
				}
			}
			before := f.snapshot(t)
			_, err := f.svc.ImportCertificate(f.ctx, cred.ID, pemBytes)
			wantErr(t, "ImportCertificate", err, tc.want)
			var re *RequestError
			if tc.want == ErrInvalidRequest && (!errors.As(err, &re) || re.Field != "certificate_pem") {
				t.Fatalf("want a *RequestError on certificate_pem, got %v", err)
			}
			if f.snapshot(t) != before {
				t.Fatal("a refused import changed the store")
			}
		})
	}
	got, err := f.svc.ImportCertificate(f.ctx, cred.ID, sign("1", "one.pem"))
	if err != nil {
		t.Fatalf("import serial 1: %v", err)
	}
	if got.Serial != "01" || got.State != StateActive {
		t.Fatalf("imported serial %q state %s", got.Serial, got.State)
	}
}

// TestRevokeCertifiedWithoutSerial (finding 3): a certified credential
// whose record lacks the serial (as serial 0 was recorded before the
// import check) is still entered in the revocation records and the CRL
// when revoked, and Verify refuses it.
func TestRevokeCertifiedWithoutSerial(t *testing.T) {
	f := newFixture(t)
	uid := f.enrolled(t, UserRequest{Name: "Wang Wu"})
	internal := f.generated(t, "int", gmcrypto.AlgSM2, nil)
	c2 := f.credential(t, uid, internal.ID, gmcrypto.AlgSM2, PurposeSign)
	rec, rev, err := f.svc.loadCredential(f.ctx, c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Serial = ""
	val, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Txn(f.ctx, storage.IfRevision(credentialKey(c2.ID), rev), storage.Put(credentialKey(c2.ID), val, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(f.ctx, c2.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.revoked(f.ctx, internal.ID, serialHex(c2.Certificate.SerialNumber))
	if err != nil || r == nil || r.CredentialID != c2.ID {
		t.Fatalf("revocation record of %s: %+v, %v", c2.ID, r, err)
	}
	_, err = f.svc.Verify(f.ctx, []*smx509.Certificate{c2.Certificate}, UsageSign, f.clock.Now())
	wantErr(t, "Verify revoked", err, ErrCertificateRevoked)
	crl, err := f.svc.CRL(f.ctx, internal.ID)
	if err != nil {
		t.Fatalf("CRL: %v", err)
	}
	l, err := smx509.ParseRevocationList(crl)
	if err != nil || len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(c2.Certificate.SerialNumber) != 0 {
		t.Fatalf("CRL entries: %v", err)
	}
}

// TestSerialHex: serial numbers as records key them; zero is never the
// empty string (which would be a key prefix).
func TestSerialHex(t *testing.T) {
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{
		{big.NewInt(0), "00"},
		{nil, "00"},
		{big.NewInt(1), "01"},
		{big.NewInt(0x1234), "1234"},
		{new(big.Int).Lsh(big.NewInt(1), 64), "010000000000000000"},
	} {
		if got := serialHex(tc.n); got != tc.want {
			t.Errorf("serialHex(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestVerifyIntermediateLimits (finding 5): more than MaxIntermediates
// intermediates are refused before any path work; duplicates, copies of
// the leaf and certificates pointing at each other neither loop nor
// multiply the work.
func TestVerifyIntermediateLimits(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", gmcrypto.AlgSM2, nil)
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	name := pkix.Name{CommonName: "Evil CA"}
	caTmpl := func(sn int64) *smx509.Certificate {
		return &smx509.Certificate{SerialNumber: big.NewInt(sn), Subject: name, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			BasicConstraintsValid: true, IsCA: true, KeyUsage: smx509.KeyUsageCertSign}
	}
	mk := func(tmpl, parent *smx509.Certificate, pub crypto.PublicKey, key crypto.Signer) *smx509.Certificate {
		der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// x1 and x2: same name and key, each "signs" the other.
	x1 := mk(caTmpl(1), caTmpl(1), k.Public(), k)
	x2 := mk(caTmpl(2), caTmpl(2), k.Public(), k)
	leaf := mk(&smx509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)},
		x1, k.Public(), k)
	var decoys []*smx509.Certificate
	for i := range 300 {
		decoys = append(decoys, mk(caTmpl(int64(100+i)), caTmpl(int64(100+i)), other.Public(), other))
	}

	for _, tc := range []struct {
		name  string
		chain []*smx509.Certificate
		want  error
	}{
		{"300 decoys", append(append([]*smx509.Certificate{leaf}, decoys...), x1, x2), ErrTooManyCertificates},
		{"11 intermediates", append([]*smx509.Certificate{leaf}, decoys[:11]...), ErrTooManyCertificates},
		{"10 intermediates, a loop", append(append([]*smx509.Certificate{leaf}, decoys[:8]...), x1, x2), ErrUntrusted},
		{"duplicates and the leaf again", []*smx509.Certificate{leaf, x1, x1, leaf, x2, x2, nil, x1}, ErrUntrusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Verify(f.ctx, tc.chain, UsageSign, f.clock.Now())
			wantErr(t, "Verify", err, tc.want)
			if tc.want == ErrTooManyCertificates && errors.Is(err, ErrUntrusted) {
				t.Fatalf("%v matches ErrUntrusted too", err)
			}
		})
	}
}

// TestPathCandidates (finding 5): intermediates are tried in the order
// AKI=SKI match, unknown, mismatch; non-CAs, other names and used ones are
// never tried.
func TestPathCandidates(t *testing.T) {
	mk := func(cn string, ca bool, ski, aki []byte, issuer string) *smx509.Certificate {
		c := &smx509.Certificate{BasicConstraintsValid: true, IsCA: ca, Version: 3, SubjectKeyId: ski, AuthorityKeyId: aki,
			RawSubject: []byte(cn), RawIssuer: []byte(issuer)}
		return c
	}
	child := mk("child", false, nil, []byte{1}, "CA")
	inter := []*smx509.Certificate{
		mk("CA", true, []byte{2}, nil, "x"), // mismatch
		mk("CA", true, nil, nil, "x"),       // unknown
		mk("CA", true, []byte{1}, nil, "x"), // match
		mk("CA", false, []byte{1}, nil, "x"),
		mk("Other", true, []byte{1}, nil, "x"),
		mk("CA", true, []byte{1}, nil, "x"), // match but used
	}
	used := []bool{false, false, false, false, false, true}
	got := candidates(child, inter, used)
	want := []int{2, 1, 0}
	if len(got) != len(want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("candidates %v, want %v", got, want)
		}
	}
}
