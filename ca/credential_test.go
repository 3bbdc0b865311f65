package ca

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// opensslCA makes a CA with openssl in dir: <name>.key and <name>.pem.
func opensslCA(t *testing.T, dir, name string, alg gmcrypto.Alg) {
	t.Helper()
	ext := []string{"-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "basicConstraints=critical,CA:TRUE"}
	if alg == gmcrypto.AlgSM2 {
		testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", name+".key")
		testkit.RunOpenSSL(t, dir, append([]string{"req", "-x509", "-new", "-key", name + ".key", "-sm3", "-sigopt", sm2DistID,
			"-subj", "/C=CN/O=OpenSSL Test/CN=" + name, "-days", "30", "-out", name + ".pem"}, ext...)...)
		return
	}
	testkit.RunOpenSSL(t, dir, append([]string{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
		"-subj", "/C=CN/O=OpenSSL Test/CN=" + name, "-days", "30", "-out", name + ".pem"}, ext...)...)
}

// opensslSignCSR has the openssl CA <ca> sign csrFile into outFile, copying
// the key usage the CSR asks for.
func opensslSignCSR(t *testing.T, dir string, alg gmcrypto.Alg, ca, csrFile, outFile string) {
	t.Helper()
	writeFile(t, dir, "leaf.ext", []byte("basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"))
	args := []string{"x509", "-req", "-in", csrFile, "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
		"-days", "20", "-copy_extensions", "copy", "-extfile", "leaf.ext", "-out", outFile}
	if alg == gmcrypto.AlgSM2 {
		args = append(args, "-sm3", "-sigopt", sm2DistID, "-vfyopt", sm2DistID)
	}
	testkit.RunOpenSSL(t, dir, args...)
}

// TestExternalIssuer runs the whole external-CA flow against a CA run by
// openssl: CSR out, openssl signs it, certificate back in, then the
// credential signs and verifies like any other. Bad imports change
// nothing.
func TestExternalIssuer(t *testing.T) {
	testkit.OpenSSL(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t)
			dir := t.TempDir()
			opensslCA(t, dir, "extca", alg)
			opensslCA(t, dir, "otherca", alg)
			iss, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "External", Mode: ModeExternal, ChainPEM: readFile(t, dir, "extca.pem")})
			if err != nil {
				t.Fatalf("AddIssuer external: %v", err)
			}
			if iss.Alg != alg || iss.Mode != ModeExternal {
				t.Fatalf("issuer %s %s", iss.Alg, iss.Mode)
			}
			uid := f.enrolled(t, UserRequest{Name: "Wang Wu", Organization: "Bidder Ltd"})
			cred := f.credential(t, uid, "ext", alg, PurposeSign)
			if cred.State != StatePending || cred.CSRPEM == "" || cred.CertificatePEM != "" || cred.Certificate != nil {
				t.Fatalf("new external credential: state %s, csr %d bytes, cert %q", cred.State, len(cred.CSRPEM), cred.CertificatePEM)
			}
			if _, _, err := f.svc.UnlockKey(f.ctx, uid, cred.ID, testPIN); !errors.Is(err, ErrCredentialNotActive) {
				t.Fatalf("UnlockKey of a pending credential: %v", err)
			}
			pending, err := f.svc.Credentials(f.ctx, CredentialFilter{State: StatePending})
			if err != nil || len(pending) != 1 || pending[0].ID != cred.ID || pending[0].CSRPEM == "" {
				t.Fatalf("pending list: %v %v", pending, err)
			}

			writeFile(t, dir, "our.csr", []byte(cred.CSRPEM))
			reqArgs := []string{"req", "-in", "our.csr", "-verify", "-noout", "-text"}
			if alg == gmcrypto.AlgSM2 {
				reqArgs = append(reqArgs, "-vfyopt", sm2DistID)
			}
			out := testkit.RunOpenSSL(t, dir, reqArgs...)
			if !strings.Contains(out, "verify OK") || !strings.Contains(out, "CN = Wang Wu") || !strings.Contains(out, "Digital Signature, Non Repudiation") {
				t.Fatalf("openssl req on our CSR:\n%s", out)
			}
			opensslSignCSR(t, dir, alg, "extca", "our.csr", "our.pem")
			opensslSignCSR(t, dir, alg, "otherca", "our.csr", "other-ca.pem")
			// A certificate from the right CA for another key.
			k, err := gmcrypto.GenerateKey(alg, 2048)
			if err != nil {
				t.Fatal(err)
			}
			kp, _ := gmcrypto.MarshalPrivateKeyPEM(k)
			writeFile(t, dir, "stranger.key", kp)
			reqNew := []string{"req", "-new", "-key", "stranger.key", "-subj", "/CN=Stranger", "-out", "stranger.csr"}
			if alg == gmcrypto.AlgSM2 {
				reqNew = append(reqNew, "-sm3", "-sigopt", sm2DistID)
			}
			testkit.RunOpenSSL(t, dir, reqNew...)
			opensslSignCSR(t, dir, alg, "extca", "stranger.csr", "stranger.pem")

			for _, bad := range []struct {
				name string
				pem  []byte
				want error
			}{
				{"another key", readFile(t, dir, "stranger.pem"), ErrCertificateMismatch},
				{"another CA", readFile(t, dir, "other-ca.pem"), ErrCertificateChain},
				{"malformed", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), ErrMalformedPEM},
				{"no PEM", []byte("hello"), gmcrypto.ErrMalformed},
			} {
				before := f.snapshot(t)
				_, err := f.svc.ImportCertificate(f.ctx, cred.ID, bad.pem)
				wantErr(t, "import "+bad.name, err, bad.want)
				if f.snapshot(t) != before {
					t.Fatalf("import %s changed the store", bad.name)
				}
			}
			if c, _ := f.svc.Credential(f.ctx, cred.ID); c.State != StatePending {
				t.Fatalf("state after bad imports: %s", c.State)
			}

			got, err := f.svc.ImportCertificate(f.ctx, cred.ID, readFile(t, dir, "our.pem"))
			if err != nil {
				t.Fatalf("ImportCertificate: %v", err)
			}
			if got.State != StateActive || got.Serial == "" || got.CSRPEM == "" {
				t.Fatalf("after import: %+v", got)
			}
			_, err = f.svc.ImportCertificate(f.ctx, cred.ID, readFile(t, dir, "our.pem"))
			wantErr(t, "second import", err, ErrCredentialNotPending)

			used := f.signAndVerify(t, uid, cred.ID)
			v, err := f.svc.Verify(f.ctx, []*smx509.Certificate{used.Certificate}, UsageSign, time.Now())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.IssuerID != "ext" || v.CredentialID != cred.ID || v.UserID != uid || v.Serial != got.Serial {
				t.Fatalf("Verified %+v", v)
			}
			// The external CA's certificate has only a key usage for signing.
			_, err = f.svc.Verify(f.ctx, []*smx509.Certificate{used.Certificate}, UsageEncrypt, time.Now())
			wantErr(t, "verify for encryption", err, ErrKeyUsage)
			// Revoking an external credential is recorded and enforced by
			// Verify, though the CRL is the external CA's to publish.
			if _, err := f.svc.Revoke(f.ctx, cred.ID, "superseded"); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Verify(f.ctx, []*smx509.Certificate{used.Certificate}, UsageSign, time.Now())
			wantErr(t, "verify revoked", err, ErrCertificateRevoked)
		})
	}
}

// TestCreateCredentialErrors covers refused requests: each has its own
// error and leaves the store as it was.
func TestCreateCredentialErrors(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "sm2only", gmcrypto.AlgSM2, &Profile{Purposes: []Purpose{PurposeSign}, SubjectFields: []string{SubjectIDNumber}})
	uid := f.enrolled(t, UserRequest{Name: "No ID"})
	idUser := f.enrolled(t, UserRequest{Name: "Has ID", IDNumber: "110105194912310021"})
	unenrolled, _, err := f.svc.AddUser(f.ctx, UserRequest{Name: "Not yet"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  CredentialRequest
		want error
	}{
		{"unknown issuer", CredentialRequest{UserID: idUser, IssuerID: "nope", Alg: "SM2", Purpose: PurposeSign, PIN: testPIN}, ErrIssuerNotFound},
		{"alg not in profile", CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "RSA", Purpose: PurposeSign, PIN: testPIN}, ErrAlgNotAllowed},
		{"unknown alg", CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "ECDSA", Purpose: PurposeSign, PIN: testPIN}, ErrAlgNotAllowed},
		{"purpose not in profile", CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "SM2", Purpose: PurposeEncrypt, PIN: testPIN}, ErrPurposeNotAllowed},
		{"unknown purpose", CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "SM2", Purpose: "auth", PIN: testPIN}, ErrPurposeNotAllowed},
		{"unknown user", CredentialRequest{UserID: "usr_nobody", IssuerID: "sm2only", Alg: "SM2", Purpose: PurposeSign, PIN: testPIN}, ErrUserNotFound},
		{"not enrolled", CredentialRequest{UserID: unenrolled.ID, IssuerID: "sm2only", Alg: "SM2", Purpose: PurposeSign, PIN: testPIN}, ErrNotEnrolled},
		{"profile wants the ID number", CredentialRequest{UserID: uid, IssuerID: "sm2only", Alg: "SM2", Purpose: PurposeSign, PIN: testPIN}, ErrInvalidRequest},
		{"rsa bits for sm2", CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "SM2", RSABits: 2048, Purpose: PurposeSign, PIN: testPIN}, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.svc.CreateCredential(f.ctx, tc.req)
			wantErr(t, tc.name, err, tc.want)
			if f.snapshot(t) != before {
				t.Fatal("store changed")
			}
		})
	}
	// A wrong PIN is refused and counted (that is the one state change).
	_, err = f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: idUser, IssuerID: "sm2only", Alg: "SM2", Purpose: PurposeSign, PIN: "135792"})
	var pe *PINError
	if !errors.As(err, &pe) || !errors.Is(err, ErrWrongPIN) || pe.Remaining != 4 {
		t.Fatalf("wrong PIN: %v", err)
	}
	// The right one works and resets the counter.
	c := f.credential(t, idUser, "sm2only", gmcrypto.AlgSM2, PurposeSign)
	if c.Certificate.Subject.SerialNumber != "110105194912310021" {
		t.Errorf("subject %s lacks the ID number", c.Certificate.Subject)
	}
	list, err := f.svc.Credentials(f.ctx, CredentialFilter{UserID: idUser})
	if err != nil || len(list) != 1 {
		t.Fatalf("user's credentials: %v %v", list, err)
	}
	if _, err := f.svc.Credentials(f.ctx, CredentialFilter{State: "lost"}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad state filter: %v", err)
	}
	// Another user's credential looks like no credential at all.
	if _, _, err := f.svc.UnlockKey(f.ctx, uid, c.ID, testPIN); !errors.Is(err, ErrCredentialNotFound) {
		t.Fatalf("UnlockKey of another user's credential: %v", err)
	}
	// Revoking frees the slot; a new credential can then be made.
	if _, err := f.svc.Revoke(f.ctx, c.ID, "bogus"); !errors.Is(err, ErrInvalidReason) {
		t.Fatalf("bad reason: %v", err)
	}
	if _, err := f.svc.Revoke(f.ctx, c.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(f.ctx, c.ID, "keyCompromise"); !errors.Is(err, ErrAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, _, err := f.svc.UnlockKey(f.ctx, idUser, c.ID, testPIN); !errors.Is(err, ErrCredentialNotActive) {
		t.Fatalf("UnlockKey of a revoked credential: %v", err)
	}
	c2 := f.credential(t, idUser, "sm2only", gmcrypto.AlgSM2, PurposeSign)
	if c2.ID == c.ID {
		t.Fatal("same id")
	}
	// Once the certificate has expired, its slot is free too.
	f.clock.Advance(800 * 24 * time.Hour)
	if got, _ := f.svc.Credential(f.ctx, c2.ID); got.State != StateExpired {
		t.Fatalf("state after 800 days: %s", got.State)
	}
	if _, _, err := f.svc.UnlockKey(f.ctx, idUser, c2.ID, testPIN); !errors.Is(err, ErrCredentialNotActive) {
		t.Fatalf("UnlockKey of an expired credential: %v", err)
	}
	if c3 := f.credential(t, idUser, "sm2only", gmcrypto.AlgSM2, PurposeSign); c3.State != StateActive {
		t.Fatalf("credential replacing an expired one: %s", c3.State)
	}
}
