package portal_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

func TestVerifyPDFLocal(t *testing.T) {
	t.Parallel()
	pdf, err := os.ReadFile("../seal/testdata/sealed-SM2.pdf")
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := seal.Verify(pdf)
	if err != nil || len(sigs) != 1 {
		t.Fatal(err)
	}
	var issuer *smx509.Certificate
	for _, c := range sigs[0].Certificates {
		if c.IsCA {
			issuer = c
		}
	}
	// A stranger root: a fresh self-signed SM2 CA.
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: smx509.KeyUsageCertSign}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := smx509.ParseCertificate(der)

	for _, tc := range []struct {
		name  string
		roots []*smx509.Certificate
		valid bool
	}{
		{"no roots", nil, true},
		{"its issuer", []*smx509.Certificate{issuer}, true},
		{"a stranger", []*smx509.Certificate{stranger}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := portal.VerifyPDF(pdf, tc.roots)
			if err != nil || len(got) != 1 || got[0].Valid != tc.valid || !got[0].CoversWholeDocument || got[0].Modified {
				t.Fatalf("%v %+v", err, got)
			}
		})
	}
	if _, err := portal.VerifyPDF([]byte("not a pdf"), nil); !errors.Is(err, seal.ErrBadPDF) {
		t.Fatalf("not a PDF: %v", err)
	}
}
