package ca

import (
	"errors"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// knownError reports whether err is one of the stable errors a bad PEM
// input may produce.
func knownError(err error, allowed ...error) bool {
	for _, a := range allowed {
		if errors.Is(err, a) {
			return true
		}
	}
	return false
}

// FuzzImportCertificatePEM feeds arbitrary bytes as the certificate of a
// pending credential: never a panic, always a stable error, never a change
// to the store (no input can carry the pending key signed by the issuer).
func FuzzImportCertificatePEM(f *testing.F) {
	fx := newFixture(f)
	root, _ := handCert(f, "Fuzz Ext Root", 0, nil, nil)
	if _, err := fx.svc.AddIssuer(fx.ctx, IssuerRequest{ID: "ext", Name: "ext", Mode: ModeExternal, ChainPEM: gmcrypto.EncodeCertificatesPEM(root)}); err != nil {
		f.Fatal(err)
	}
	uid := fx.enrolled(f, UserRequest{Name: "Fuzz"})
	cred := fx.credential(f, uid, "ext", gmcrypto.AlgSM2, PurposeSign)
	f.Add([]byte(cred.CSRPEM))
	before := fx.snapshot(f)
	f.Fuzz(func(t *testing.T, pemBytes []byte) {
		c, err := fx.svc.ImportCertificate(fx.ctx, cred.ID, pemBytes)
		if err == nil {
			t.Fatalf("a fuzzed certificate was accepted: %+v", c)
		}
		if !knownError(err, ErrMalformedPEM, gmcrypto.ErrMalformed, ErrCertificateMismatch, ErrCertificateChain, ErrInvalidRequest) {
			t.Fatalf("unexpected error %v", err)
		}
		if fx.snapshot(t) != before {
			t.Fatal("a refused import changed the store")
		}
	})
}

// FuzzAddIssuerPEM registers arbitrary PEM as an external chain and as an
// internal certificate plus key: never a panic, a stable error or a
// well-formed issuer, and nothing stored on error.
func FuzzAddIssuerPEM(f *testing.F) {
	fx := newFixture(f)
	allowed := []error{ErrInvalidRequest, ErrMalformedPEM, ErrCertificateMismatch, ErrCertificateChain, ErrAlgNotAllowed, ErrIssuerExists}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		for _, req := range []IssuerRequest{
			{ID: "fz-ext", Name: "fuzz", Mode: ModeExternal, ChainPEM: certPEM},
			{ID: "fz-int", Name: "fuzz", Mode: ModeInternal, CertPEM: certPEM, KeyPEM: keyPEM},
		} {
			before := fx.snapshot(t)
			iss, err := fx.svc.AddIssuer(fx.ctx, req)
			if err != nil {
				if !knownError(err, allowed...) {
					t.Fatalf("%s: unexpected error %v", req.Mode, err)
				}
				if fx.snapshot(t) != before {
					t.Fatalf("%s: a refused AddIssuer changed the store", req.Mode)
				}
				continue
			}
			got, err := fx.svc.Issuer(fx.ctx, iss.ID)
			if err != nil || !got.Certificate.IsCA || got.CertificatePEM == "" {
				t.Fatalf("stored issuer unreadable: %v", err)
			}
			// Make room for the next input.
			if _, err := storagetest.DeleteKey(fx.ctx, fx.store, issuerKey(iss.ID)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzNormalizeCode: any typed string either fails or yields 20 characters
// of the code alphabet, and normalizing that again changes nothing.
func FuzzNormalizeCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeCode(s)
		if !ok {
			return
		}
		if len(n) != codeLen || strings.Trim(n, codeAlphabet) != "" {
			t.Fatalf("normalizeCode(%q) = %q", s, n)
		}
		if n2, ok := normalizeCode(n); !ok || n2 != n {
			t.Fatalf("not idempotent: %q -> %q", n, n2)
		}
	})
}
