package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"
	tjx509 "github.com/tjfoc/gmsm/x509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// TestIssuedCertificates issues signing and encryption certificates from a
// generated root and from an intermediate under it, for SM2 and RSA, and
// has openssl verify every chain; it also checks the X.509 content the
// issue asks for.
func TestIssuedCertificates(t *testing.T) {
	testkit.OpenSSL(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t)
			root := f.generated(t, "root-"+strings.ToLower(string(alg)), alg, &Profile{SubjectFields: []string{SubjectIDNumber, SubjectPhone}})
			inter, err := f.svc.AddIssuer(f.ctx, IssuerRequest{
				ID: "sub-" + strings.ToLower(string(alg)), Name: "Sub", Mode: ModeInternal, Alg: alg, Generate: true,
				Subject: Subject{CommonName: "Test Sub CA"}, Parent: root.ID,
			})
			if err != nil {
				t.Fatalf("AddIssuer intermediate: %v", err)
			}
			if len(inter.Chain) != 2 || !inter.Chain[1].Equal(root.Certificate) {
				t.Fatalf("intermediate chain should be [sub, root], got %d certificates", len(inter.Chain))
			}
			if !inter.Certificate.MaxPathLenZero || inter.Certificate.MaxPathLen != 0 {
				t.Errorf("intermediate path length: got %d (zero=%v), want 0", inter.Certificate.MaxPathLen, inter.Certificate.MaxPathLenZero)
			}
			uid := f.enrolled(t, UserRequest{Name: "张三", IDNumber: "11010519491231002X", Phone: "+86 138 0013 8000", Organization: "Acme Bidding Co"})

			dir := t.TempDir()
			writeFile(t, dir, "root.pem", []byte(root.CertificatePEM))
			writeFile(t, dir, "sub.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Certificate.Raw}))
			opensslVerify(t, dir, alg, "sub.pem", "root.pem")

			for _, tc := range []struct {
				issuer  *Issuer
				purpose Purpose
				wantKU  smx509.KeyUsage
			}{
				{root, PurposeSign, smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment},
				{root, PurposeEncrypt, keyUsageFor(PurposeEncrypt, alg)},
				{inter, PurposeSign, smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment},
			} {
				c := f.credential(t, uid, tc.issuer.ID, alg, tc.purpose)
				if c.State != StateActive {
					t.Fatalf("state %s, want active", c.State)
				}
				cert := c.Certificate
				name := tc.issuer.ID + "-" + string(tc.purpose) + ".pem"
				writeFile(t, dir, name, []byte(c.CertificatePEM))
				if tc.issuer == inter {
					opensslVerify(t, dir, alg, name, "sub.pem", "root.pem")
				} else {
					opensslVerify(t, dir, alg, name, "root.pem")
				}

				if cert.Version != 3 {
					t.Errorf("version %d, want 3", cert.Version)
				}
				if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 {
					t.Errorf("serial %x: want positive with at least 64 bits", cert.SerialNumber)
				}
				if cert.KeyUsage != tc.wantKU {
					t.Errorf("key usage %#x, want %#x", cert.KeyUsage, tc.wantKU)
				}
				if cert.IsCA {
					t.Error("end-entity certificate marked CA")
				}
				if len(cert.SubjectKeyId) == 0 || string(cert.AuthorityKeyId) != string(tc.issuer.Certificate.SubjectKeyId) {
					t.Errorf("SKI %x / AKI %x, issuer SKI %x", cert.SubjectKeyId, cert.AuthorityKeyId, tc.issuer.Certificate.SubjectKeyId)
				}
				wantDP := "https://gw.example.test/v1/issuers/" + tc.issuer.ID + "/crl"
				if len(cert.CRLDistributionPoints) != 1 || cert.CRLDistributionPoints[0] != wantDP {
					t.Errorf("CRL DP %v, want %s", cert.CRLDistributionPoints, wantDP)
				}
				wantSig := smx509.SM2WithSM3
				if alg == gmcrypto.AlgRSA {
					wantSig = smx509.SHA256WithRSA
				}
				if cert.SignatureAlgorithm != wantSig {
					t.Errorf("signature algorithm %v, want %v", cert.SignatureAlgorithm, wantSig)
				}
				if cert.Subject.CommonName != "张三" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "Acme Bidding Co" {
					t.Errorf("subject %s", cert.Subject)
				}
				if tc.issuer == root {
					if cert.Subject.SerialNumber != "11010519491231002X" || !hasAttr(cert.Subject, oidTelephoneNumber, "+86 138 0013 8000") {
						t.Errorf("root profile asks for the ID number and phone; subject %s", cert.Subject)
					}
				} else if cert.Subject.SerialNumber != "" || hasAttr(cert.Subject, oidTelephoneNumber, "+86 138 0013 8000") {
					t.Errorf("sub profile asks for no subject fields; subject %s", cert.Subject)
				}
				if !cert.NotAfter.After(cert.NotBefore) || cert.NotAfter.After(tc.issuer.Certificate.NotAfter) {
					t.Errorf("validity %s..%s beyond the issuer's %s", cert.NotBefore, cert.NotAfter, tc.issuer.Certificate.NotAfter)
				}
				f.signAndVerify(t, uid, c.ID)
				if alg == gmcrypto.AlgSM2 {
					checkWithTjfoc(t, cert, tc.issuer.Certificate)
				}
			}
			// A second credential for the same slot is refused.
			_, err = f.svc.CreateCredential(f.ctx, CredentialRequest{UserID: uid, IssuerID: root.ID, Alg: alg, Purpose: PurposeSign, PIN: testPIN})
			wantErr(t, "second signing credential", err, ErrCredentialExists)
		})
	}
}

func hasAttr(n pkix.Name, oid asn1.ObjectIdentifier, v string) bool {
	for _, a := range n.Names {
		if a.Type.Equal(oid) && a.Value == v {
			return true
		}
	}
	return false
}

// checkWithTjfoc parses an SM2 certificate and its issuer with tjfoc/gmsm,
// the independent implementation many portals use, and verifies the
// signature there.
func checkWithTjfoc(t *testing.T, cert, issuer *smx509.Certificate) {
	t.Helper()
	tc, err := tjx509.ParseCertificate(cert.Raw)
	if err != nil {
		t.Fatalf("tjfoc cannot parse our SM2 certificate: %v", err)
	}
	ti, err := tjx509.ParseCertificate(issuer.Raw)
	if err != nil {
		t.Fatalf("tjfoc cannot parse our SM2 CA certificate: %v", err)
	}
	if err := tc.CheckSignatureFrom(ti); err != nil {
		t.Fatalf("tjfoc does not verify our SM2 certificate: %v", err)
	}
	if tc.SerialNumber.Cmp(cert.SerialNumber) != 0 || tc.Subject.CommonName != cert.Subject.CommonName {
		t.Errorf("tjfoc reads serial %x CN %q, we wrote %x %q", tc.SerialNumber, tc.Subject.CommonName, cert.SerialNumber, cert.Subject.CommonName)
	}
}

// TestImportIssuer imports CA keys made by openssl in every encoding the
// issue names, and refuses bad combinations without changing anything.
func TestImportIssuer(t *testing.T) {
	testkit.OpenSSL(t)
	dir := t.TempDir()
	// SM2 CA: PKCS#8 from genpkey, SEC1 from `ec`.
	testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", "sm2.key")
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-new", "-key", "sm2.key", "-sm3", "-sigopt", "distid:1234567812345678",
		"-subj", "/CN=Imported SM2 CA", "-days", "30", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "sm2.pem")
	testkit.RunOpenSSL(t, dir, "ec", "-in", "sm2.key", "-out", "sm2-sec1.key")
	// The same CA cannot be registered twice (ErrIssuerDuplicate), so each
	// key form is imported with its own certificate (same key, own name).
	for _, cn := range []string{"sec1", "ext", "ext2"} {
		testkit.RunOpenSSL(t, dir, "req", "-x509", "-new", "-key", "sm2.key", "-sm3", "-sigopt", "distid:1234567812345678",
			"-subj", "/CN=Imported SM2 CA "+cn, "-days", "30", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "sm2-"+cn+".pem")
	}
	// RSA CA: PKCS#8 and PKCS#1 (-traditional).
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key",
		"-subj", "/CN=Imported RSA CA", "-days", "30", "-out", "rsa.pem")
	testkit.RunOpenSSL(t, dir, "rsa", "-in", "rsa.key", "-traditional", "-out", "rsa-pkcs1.key")
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-new", "-key", "rsa.key", "-subj", "/CN=Imported RSA CA pkcs1", "-days", "30", "-out", "rsa-pkcs1.pem")
	// A leaf (not a CA) to refuse.
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-new", "-key", "sm2.key", "-sm3", "-sigopt", "distid:1234567812345678",
		"-subj", "/CN=Not a CA", "-days", "30", "-addext", "basicConstraints=critical,CA:FALSE", "-out", "leaf.pem")

	sm2Cert, rsaCert := readFile(t, dir, "sm2.pem"), readFile(t, dir, "rsa.pem")
	for _, name := range []string{"sm2.key", "sm2-sec1.key", "rsa-pkcs1.key"} {
		first := strings.SplitN(string(readFile(t, dir, name)), "\n", 2)[0]
		t.Logf("%s starts with %s", name, first)
	}
	if !strings.Contains(string(readFile(t, dir, "sm2-sec1.key")), "SM2 PRIVATE KEY") ||
		!strings.Contains(string(readFile(t, dir, "rsa-pkcs1.key")), "RSA PRIVATE KEY") {
		t.Fatal("openssl did not produce SEC1 / PKCS#1 keys")
	}

	f := newFixture(t)
	tests := []struct {
		name    string
		req     IssuerRequest
		want    error
		wantAlg gmcrypto.Alg
	}{
		{"sm2 pkcs8", IssuerRequest{ID: "sm2-p8", Mode: ModeInternal, CertPEM: sm2Cert, KeyPEM: readFile(t, dir, "sm2.key")}, nil, gmcrypto.AlgSM2},
		{"sm2 sec1", IssuerRequest{ID: "sm2-sec1", Mode: ModeInternal, CertPEM: readFile(t, dir, "sm2-sec1.pem"), KeyPEM: readFile(t, dir, "sm2-sec1.key")}, nil, gmcrypto.AlgSM2},
		{"rsa pkcs8", IssuerRequest{ID: "rsa-p8", Mode: ModeInternal, Alg: gmcrypto.AlgRSA, CertPEM: rsaCert, KeyPEM: readFile(t, dir, "rsa.key")}, nil, gmcrypto.AlgRSA},
		{"rsa pkcs1", IssuerRequest{ID: "rsa-p1", Mode: ModeInternal, CertPEM: readFile(t, dir, "rsa-pkcs1.pem"), KeyPEM: readFile(t, dir, "rsa-pkcs1.key")}, nil, gmcrypto.AlgRSA},
		{"external sm2", IssuerRequest{ID: "ext-sm2", Mode: ModeExternal, ChainPEM: readFile(t, dir, "sm2-ext.pem")}, nil, gmcrypto.AlgSM2},
		{"external sm2 given as cert_pem", IssuerRequest{ID: "ext-sm2-cert", Mode: ModeExternal, CertPEM: readFile(t, dir, "sm2-ext2.pem")}, nil, gmcrypto.AlgSM2},
		{"external with neither cert_pem nor chain_pem", IssuerRequest{ID: "bad0", Mode: ModeExternal}, ErrInvalidRequest, ""},
		{"same CA again, external", IssuerRequest{ID: "dup1", Mode: ModeExternal, ChainPEM: sm2Cert}, ErrIssuerDuplicate, ""},
		{"same CA again, internal", IssuerRequest{ID: "dup2", Mode: ModeInternal, CertPEM: rsaCert, KeyPEM: readFile(t, dir, "rsa-pkcs1.key")}, ErrIssuerDuplicate, ""},
		{"key of another cert", IssuerRequest{ID: "bad1", Mode: ModeInternal, CertPEM: sm2Cert, KeyPEM: readFile(t, dir, "rsa.key")}, ErrCertificateMismatch, ""},
		{"not a CA", IssuerRequest{ID: "bad2", Mode: ModeInternal, CertPEM: readFile(t, dir, "leaf.pem"), KeyPEM: readFile(t, dir, "sm2.key")}, ErrInvalidRequest, ""},
		{"garbage cert", IssuerRequest{ID: "bad3", Mode: ModeInternal, CertPEM: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), KeyPEM: readFile(t, dir, "sm2.key")}, ErrMalformedPEM, ""},
		{"garbage key", IssuerRequest{ID: "bad4", Mode: ModeInternal, CertPEM: sm2Cert, KeyPEM: []byte("not a key")}, ErrMalformedPEM, ""},
		{"alg disagrees", IssuerRequest{ID: "bad5", Mode: ModeInternal, Alg: gmcrypto.AlgRSA, CertPEM: sm2Cert, KeyPEM: readFile(t, dir, "sm2.key")}, ErrInvalidRequest, ""},
		{"external with key", IssuerRequest{ID: "bad6", Mode: ModeExternal, ChainPEM: sm2Cert, KeyPEM: readFile(t, dir, "sm2.key")}, ErrInvalidRequest, ""},
		{"bad id", IssuerRequest{ID: "Bad/ID", Mode: ModeExternal, ChainPEM: sm2Cert}, ErrInvalidRequest, ""},
		{"bad mode", IssuerRequest{ID: "bad7", Mode: "both", ChainPEM: sm2Cert}, ErrInvalidRequest, ""},
		{"unknown parent", IssuerRequest{ID: "bad8", Mode: ModeExternal, ChainPEM: sm2Cert, Parent: "nope"}, ErrIssuerNotFound, ""},
		{"wrong parent", IssuerRequest{ID: "bad9", Mode: ModeExternal, ChainPEM: rsaCert, Parent: "sm2-p8"}, ErrCertificateChain, ""},
		{"chain out of order", IssuerRequest{ID: "bad10", Mode: ModeExternal, ChainPEM: append(append([]byte{}, sm2Cert...), rsaCert...)}, ErrCertificateChain, ""},
		{"profile alg", IssuerRequest{ID: "bad11", Mode: ModeExternal, ChainPEM: sm2Cert, Profile: &Profile{Algs: []gmcrypto.Alg{"DSA"}}}, ErrInvalidRequest, ""},
		{"profile bits", IssuerRequest{ID: "bad12", Mode: ModeExternal, ChainPEM: sm2Cert, Profile: &Profile{Algs: []gmcrypto.Alg{"RSA"}, RSABits: []int{1024}}}, ErrInvalidRequest, ""},
		{"duplicate id", IssuerRequest{ID: "sm2-p8", Mode: ModeExternal, ChainPEM: sm2Cert}, ErrIssuerExists, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Name = "CA " + tc.name
			before := f.snapshot(t)
			iss, err := f.svc.AddIssuer(f.ctx, tc.req)
			wantErr(t, "AddIssuer", err, tc.want)
			if tc.want != nil {
				if after := f.snapshot(t); after != before {
					t.Fatal("a refused AddIssuer changed the store")
				}
				return
			}
			if iss.Alg != tc.wantAlg {
				t.Errorf("alg %s, want %s", iss.Alg, tc.wantAlg)
			}
			hasKey := strings.Contains(string(f.snapshotRaw(t, issuerKey(iss.ID))), `"wrapped_key"`)
			if hasKey != (iss.Mode == ModeInternal) {
				t.Errorf("mode %s but wrapped key stored: %v", iss.Mode, hasKey)
			}
		})
	}

	// An imported internal CA issues certificates openssl accepts against
	// the original openssl-made CA certificate, and CRLs too.
	uid := f.enrolled(t, UserRequest{Name: "Li Si"})
	for _, id := range []string{"sm2-sec1", "rsa-p1"} {
		alg := gmcrypto.AlgSM2
		ca := "sm2-sec1.pem"
		if strings.HasPrefix(id, "rsa") {
			alg, ca = gmcrypto.AlgRSA, "rsa-pkcs1.pem"
		}
		c := f.credential(t, uid, id, alg, PurposeSign)
		writeFile(t, dir, id+"-leaf.pem", []byte(c.CertificatePEM))
		opensslVerify(t, dir, alg, id+"-leaf.pem", ca)
		crl, err := f.svc.CRL(f.ctx, id)
		if err != nil {
			t.Fatalf("CRL of imported %s: %v", id, err)
		}
		writeFile(t, dir, id+".crl", crl)
		opensslCheckCRL(t, dir, alg, id+".crl", ca)
	}
	// Listing shows all the good ones.
	list, err := f.svc.Issuers(f.ctx)
	if err != nil || len(list) != 6 {
		t.Fatalf("Issuers: %d, %v; want 6", len(list), err)
	}
}

func (f *fixture) snapshotRaw(t *testing.T, key string) []byte {
	t.Helper()
	kv, err := f.store.Get(f.ctx, key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return kv.Value
}

// TestAddIssuerGenerateErrors covers refused generate requests.
func TestAddIssuerGenerateErrors(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", gmcrypto.AlgSM2, nil)
	// An external issuer, to test "parent must be internal".
	extCert, _ := handCert(t, "Ext CA", -1, nil, nil)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "ext", Name: "ext", Mode: ModeExternal, ChainPEM: gmcrypto.EncodeCertificatesPEM(extCert)}); err != nil {
		t.Fatal(err)
	}
	zero := 0
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "leafca", Name: "x", Mode: ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: Subject{CommonName: "Leaf CA"}, Parent: "root", PathLen: &zero}); err != nil {
		t.Fatal(err)
	}
	ten := 10
	tests := []struct {
		name string
		req  IssuerRequest
		want error
	}{
		{"no alg", IssuerRequest{Subject: Subject{CommonName: "x"}}, ErrInvalidRequest},
		{"no cn", IssuerRequest{Alg: gmcrypto.AlgSM2}, ErrInvalidRequest},
		{"bad country", IssuerRequest{Alg: gmcrypto.AlgSM2, Subject: Subject{CommonName: "x", Country: "China"}}, ErrInvalidRequest},
		{"bad rsa bits", IssuerRequest{Alg: gmcrypto.AlgRSA, RSABits: 1024, Subject: Subject{CommonName: "x"}}, ErrInvalidRequest},
		{"bad path len", IssuerRequest{Alg: gmcrypto.AlgSM2, PathLen: &ten, Subject: Subject{CommonName: "x"}}, ErrInvalidRequest},
		{"with key", IssuerRequest{Alg: gmcrypto.AlgSM2, Subject: Subject{CommonName: "x"}, KeyPEM: []byte("k")}, ErrInvalidRequest},
		{"external parent", IssuerRequest{Alg: gmcrypto.AlgSM2, Subject: Subject{CommonName: "x"}, Parent: "ext"}, ErrIssuerExternal},
		{"parent path len 0", IssuerRequest{Alg: gmcrypto.AlgSM2, Subject: Subject{CommonName: "x"}, Parent: "leafca"}, ErrInvalidRequest},
		{"control char", IssuerRequest{Alg: gmcrypto.AlgSM2, Subject: Subject{CommonName: "x\x00y"}}, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Name, tc.req.Mode, tc.req.Generate = "n", ModeInternal, true
			before := f.snapshot(t)
			_, err := f.svc.AddIssuer(f.ctx, tc.req)
			wantErr(t, tc.name, err, tc.want)
			var re *RequestError
			if errors.Is(tc.want, ErrInvalidRequest) && (!errors.As(err, &re) || re.Field == "") {
				t.Errorf("want a *RequestError naming the field, got %v", err)
			}
			if f.snapshot(t) != before {
				t.Fatal("store changed")
			}
		})
	}
	if _, err := f.svc.Issuer(f.ctx, "missing"); !errors.Is(err, ErrIssuerNotFound) {
		t.Fatalf("Issuer(missing): %v", err)
	}
	if _, err := f.svc.Issuer(f.ctx, "../root"); !errors.Is(err, ErrIssuerNotFound) {
		t.Fatalf("Issuer(../root): %v", err)
	}
	if _, err := f.svc.CRL(f.ctx, "ext"); !errors.Is(err, ErrIssuerExternal) {
		t.Fatalf("CRL(ext): %v", err)
	}
}
