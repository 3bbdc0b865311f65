package ca

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	tjx509 "github.com/tjfoc/gmsm/x509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// TestCRL: each internal issuer's CRL is signed with its own algorithm,
// verified by openssl (and tjfoc for SM2), re-signed with a higher number
// after a revocation or when half-stale, and lists the revoked serial with
// its reason.
func TestCRL(t *testing.T) {
	testkit.OpenSSL(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t)
			iss := f.generated(t, "ca", alg, nil)
			uid := f.enrolled(t, UserRequest{Name: "Revokee"})
			keep := f.credential(t, uid, "ca", alg, PurposeEncrypt)
			gone := f.credential(t, uid, "ca", alg, PurposeSign)
			dir := t.TempDir()
			writeFile(t, dir, "ca.pem", []byte(iss.CertificatePEM))
			writeFile(t, dir, "gone.pem", []byte(gone.CertificatePEM))

			crl1, err := f.svc.CRL(f.ctx, "ca")
			if err != nil {
				t.Fatalf("CRL: %v", err)
			}
			l1 := parseCRL(t, crl1, iss.Certificate, alg)
			if l1.Number.Int64() != 1 || len(l1.RevokedCertificateEntries) != 0 {
				t.Fatalf("first CRL: number %v, %d entries", l1.Number, len(l1.RevokedCertificateEntries))
			}
			if got := l1.NextUpdate.Sub(l1.ThisUpdate); got != 24*time.Hour {
				t.Errorf("nextUpdate - thisUpdate = %s, want 24h", got)
			}
			again, _ := f.svc.CRL(f.ctx, "ca")
			if string(again) != string(crl1) {
				t.Error("a fresh CRL was re-signed without reason")
			}

			if _, err := f.svc.Revoke(f.ctx, gone.ID, "keyCompromise"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			crl2, err := f.svc.CRL(f.ctx, "ca")
			if err != nil {
				t.Fatal(err)
			}
			l2 := parseCRL(t, crl2, iss.Certificate, alg)
			if l2.Number.Int64() != 2 || len(l2.RevokedCertificateEntries) != 1 {
				t.Fatalf("CRL after revoke: number %v, %d entries", l2.Number, len(l2.RevokedCertificateEntries))
			}
			e := l2.RevokedCertificateEntries[0]
			if e.SerialNumber.Cmp(gone.Certificate.SerialNumber) != 0 || e.ReasonCode != 1 {
				t.Fatalf("entry serial %x reason %d, want %x reason 1", e.SerialNumber, e.ReasonCode, gone.Certificate.SerialNumber)
			}
			writeFile(t, dir, "crl.der", crl2)
			opensslCheckCRL(t, dir, alg, "crl.der", "ca.pem")
			text := testkit.RunOpenSSL(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text")
			if !strings.Contains(strings.ToUpper(text), strings.ToUpper(gone.Serial)) || !strings.Contains(text, "Key Compromise") {
				t.Fatalf("openssl crl -text does not list serial %s (key compromise):\n%s", gone.Serial, text)
			}
			if strings.Contains(strings.ToUpper(text), strings.ToUpper(keep.Serial)) {
				t.Fatal("the CRL lists a credential that was not revoked")
			}
			if alg == gmcrypto.AlgRSA {
				// openssl's own revocation check agrees: revoked.
				testkit.RunOpenSSL(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
				out, err := testkit.TryOpenSSL(t, dir, "verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", "ca.pem", "gone.pem")
				if err == nil || !strings.Contains(out, "certificate revoked") {
					t.Fatalf("openssl verify -crl_check should say revoked: %v\n%s", err, out)
				}
				writeFile(t, dir, "keep.pem", []byte(keep.CertificatePEM))
				if out := testkit.RunOpenSSL(t, dir, "verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", "ca.pem", "keep.pem"); !strings.Contains(out, "keep.pem: OK") {
					t.Fatalf("openssl verify -crl_check of a good certificate: %s", out)
				}
			}

			// Half of nextUpdate later it is re-signed, number 3.
			f.clock.Advance(12*time.Hour + time.Second)
			crl3, err := f.svc.CRL(f.ctx, "ca")
			if err != nil {
				t.Fatal(err)
			}
			if l3 := parseCRL(t, crl3, iss.Certificate, alg); l3.Number.Int64() != 3 || len(l3.RevokedCertificateEntries) != 1 {
				t.Fatalf("stale CRL not re-signed: number %v", l3.Number)
			}
		})
	}
	f := newFixture(t)
	if _, err := f.svc.CRL(f.ctx, "nope"); !errors.Is(err, ErrIssuerNotFound) {
		t.Fatalf("CRL of an unknown issuer: %v", err)
	}
}

// parseCRL parses a CRL and checks its signature with gmsm and, for SM2,
// with tjfoc too.
func parseCRL(t *testing.T, der []byte, issuer *smx509.Certificate, alg gmcrypto.Alg) *smx509.RevocationList {
	t.Helper()
	l, err := smx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	if err := l.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	wantSig := smx509.SM2WithSM3
	if alg == gmcrypto.AlgRSA {
		wantSig = smx509.SHA256WithRSA
	}
	if l.SignatureAlgorithm != wantSig {
		t.Fatalf("CRL signed with %v, want %v", l.SignatureAlgorithm, wantSig)
	}
	if alg == gmcrypto.AlgSM2 {
		tc, err := tjx509.ParseCertificate(issuer.Raw)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := tjx509.ParseCRL(der)
		if err != nil {
			t.Fatalf("tjfoc cannot parse our CRL: %v", err)
		}
		if err := tc.CheckCRLSignature(tl); err != nil {
			t.Fatalf("tjfoc does not verify our CRL: %v", err)
		}
	}
	return l
}
