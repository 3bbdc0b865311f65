package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// testCA is a CA certificate made in the test, with its key.
type testCA struct {
	cert *smx509.Certificate
	key  crypto.Signer
}

func loopCATemplate(cn string, serial int64) *smx509.Certificate {
	now := time.Now()
	return &smx509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// makeCA makes a CA certificate for key named cn, signed by parent (nil:
// self-signed; parentTmpl names the signer when parent's certificate is
// not made yet).
func makeCA(t *testing.T, cn string, serial int64, key crypto.Signer, parentTmpl *smx509.Certificate, parentKey crypto.Signer) *testCA {
	t.Helper()
	tmpl := loopCATemplate(cn, serial)
	if parentTmpl == nil {
		parentTmpl, parentKey = tmpl, key
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parentTmpl, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func pemOf(cas ...*testCA) []byte {
	var out []byte
	for _, c := range cas {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})...)
	}
	return out
}

func sm2Key(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestExternalChainLoopsAndTops: a chain that names a CA twice (C, D, C, D
// with C and D cross-signed) is refused, and so is one that ends neither
// at a self-signed root nor under a registered issuer; one that ends under
// a registered issuer is accepted without a parent.
func TestExternalChainLoopsAndTops(t *testing.T) {
	f := newFixture(t)
	kC, kD, kR, kI := sm2Key(t), sm2Key(t), sm2Key(t), sm2Key(t)
	// C is signed by D and D by C: a loop.
	c := makeCA(t, "Loop C", 1, kC, loopCATemplate("Loop D", 2), kD)
	d := makeCA(t, "Loop D", 2, kD, loopCATemplate("Loop C", 1), kC)
	root := makeCA(t, "Registered Root", 3, kR, nil, nil)
	inter := makeCA(t, "Intermediate under the registered root", 4, kI, root.cert, kR)
	unregistered := makeCA(t, "Intermediate under nobody known", 5, sm2Key(t), loopCATemplate("Unknown Root", 6), sm2Key(t))

	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "root", Name: "root", Mode: ModeExternal, CertPEM: pemOf(root)}); err != nil {
		t.Fatalf("self-signed root: %v", err)
	}
	tests := []struct {
		name string
		req  IssuerRequest
		want error
	}{
		{"loop C, D, C, D", IssuerRequest{ID: "loop", Name: "loop", Mode: ModeExternal, ChainPEM: pemOf(c, d, c, d)}, ErrCertificateChain},
		{"repeat C, D, C", IssuerRequest{ID: "repeat", Name: "repeat", Mode: ModeExternal, CertPEM: pemOf(c), ChainPEM: pemOf(d, c)}, ErrCertificateChain},
		{"repeat root, root", IssuerRequest{ID: "rr", Name: "rr", Mode: ModeExternal, ChainPEM: pemOf(inter, root, root)}, ErrCertificateChain},
		{"C, D ends at D, signed by C (not a root)", IssuerRequest{ID: "cd", Name: "cd", Mode: ModeExternal, ChainPEM: pemOf(c, d)}, ErrCertificateChain},
		{"intermediate alone, issuer unknown", IssuerRequest{ID: "lone", Name: "lone", Mode: ModeExternal, CertPEM: pemOf(unregistered)}, ErrCertificateChain},
		{"intermediate alone, under a registered issuer", IssuerRequest{ID: "inter", Name: "inter", Mode: ModeExternal, CertPEM: pemOf(inter)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, err := f.svc.AddIssuer(f.ctx, tc.req)
			wantErr(t, tc.name, err, tc.want)
			if tc.want != nil && f.snapshot(t) != before {
				t.Fatal("a refused chain changed the store")
			}
		})
	}
}
