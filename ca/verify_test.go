package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// handCert makes a certificate for tests without the Service: CA when
// pathLen >= -1 (-1 = unconstrained), end entity with signing usage when
// pathLen < -1.
func handCert(t testing.TB, cn string, pathLen int, parent *smx509.Certificate, parentKey crypto.Signer) (*smx509.Certificate, crypto.Signer) {
	t.Helper()
	return handCertUntil(t, cn, pathLen, parent, parentKey, time.Now().Add(24*time.Hour))
}

func handCertUntil(t testing.TB, cn string, pathLen int, parent *smx509.Certificate, parentKey crypto.Signer, notAfter time.Time) (*smx509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	tmpl := &smx509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		BasicConstraintsValid: true, KeyUsage: smx509.KeyUsageDigitalSignature,
	}
	if pathLen >= -1 {
		tmpl.IsCA, tmpl.MaxPathLen, tmpl.MaxPathLenZero = true, pathLen, pathLen == 0
		tmpl.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	root := f.generated(t, "root", gmcrypto.AlgSM2, nil)
	sub, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "sub", Name: "Sub", Mode: ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: Subject{CommonName: "Sub CA"}, Parent: "root"})
	if err != nil {
		t.Fatal(err)
	}
	uid := f.enrolled(t, UserRequest{Name: "Signer"})
	sign := f.credential(t, uid, "root", gmcrypto.AlgSM2, PurposeSign)
	enc := f.credential(t, uid, "root", gmcrypto.AlgSM2, PurposeEncrypt)
	subSign := f.credential(t, uid, "sub", gmcrypto.AlgSM2, PurposeSign)
	revoked := f.credential(t, uid, "sub", gmcrypto.AlgSM2, PurposeEncrypt)
	if _, err := f.svc.Revoke(f.ctx, revoked.ID, "cessationOfOperation"); err != nil {
		t.Fatal(err)
	}

	// Another gateway's CA: unknown here.
	other := newFixture(t)
	other.generated(t, "root", gmcrypto.AlgSM2, nil)
	ouid := other.enrolled(t, UserRequest{Name: "Stranger"})
	foreign := other.credential(t, ouid, "root", gmcrypto.AlgSM2, PurposeSign)

	// A hand-made external hierarchy: only its root is registered; the
	// intermediates travel with the certificate.
	extRoot, extRootKey := handCert(t, "Ext Root", 1, nil, nil)
	if _, err := f.svc.AddIssuer(f.ctx, IssuerRequest{ID: "extroot", Name: "Ext", Mode: ModeExternal,
		ChainPEM: gmcrypto.EncodeCertificatesPEM(extRoot)}); err != nil {
		t.Fatal(err)
	}
	i1, i1Key := handCert(t, "Ext I1", 0, extRoot, extRootKey)
	leaf1, _ := handCert(t, "Ext Leaf", -2, i1, i1Key)
	i2, i2Key := handCert(t, "Ext I2", -1, i1, i1Key) // violates i1's path length 0
	leaf2, _ := handCert(t, "Ext Leaf 2", -2, i2, i2Key)
	// An intermediate that expires long before the certificate it signed.
	i3, i3Key := handCertUntil(t, "Ext I3", 0, extRoot, extRootKey, time.Now().Add(time.Hour))
	leaf3, _ := handCert(t, "Ext Leaf 3", -2, i3, i3Key)

	tampered := *sign.Certificate
	tampered.Raw = append([]byte(nil), sign.Certificate.Raw...)
	tampered.Raw[len(tampered.Raw)-3] ^= 0x40
	tc, err := smx509.ParseCertificate(tampered.Raw)
	if err != nil {
		t.Fatal(err)
	}

	now := f.clock.Now()
	tests := []struct {
		name      string
		chain     []*smx509.Certificate
		usage     Usage
		at        time.Time
		want      error
		wantIss   string
		wantCred  string
		wantChain int
	}{
		{"sign cert", []*smx509.Certificate{sign.Certificate}, UsageSign, now, nil, "root", sign.ID, 2},
		{"encrypt cert", []*smx509.Certificate{enc.Certificate}, UsageEncrypt, now, nil, "root", enc.ID, 2},
		{"any usage", []*smx509.Certificate{enc.Certificate}, UsageAny, now, nil, "root", enc.ID, 2},
		{"via registered intermediate", []*smx509.Certificate{subSign.Certificate}, UsageSign, now, nil, "sub", subSign.ID, 3},
		{"via given intermediate", []*smx509.Certificate{leaf1, i1}, UsageSign, now, nil, "extroot", "", 3},
		{"missing intermediate", []*smx509.Certificate{leaf1}, UsageSign, now, ErrUntrusted, "", "", 0},
		{"path length exceeded", []*smx509.Certificate{leaf2, i2, i1}, UsageSign, now, ErrUntrusted, "", "", 0},
		{"unknown issuer", []*smx509.Certificate{foreign.Certificate}, UsageSign, now, ErrUntrusted, "", "", 0},
		{"tampered", []*smx509.Certificate{tc}, UsageSign, now, ErrUntrusted, "", "", 0},
		{"empty", nil, UsageSign, now, ErrUntrusted, "", "", 0},
		{"expired", []*smx509.Certificate{sign.Certificate}, UsageSign, sign.NotAfter.Add(time.Second), ErrCertificateExpired, "", "", 0},
		{"not yet valid", []*smx509.Certificate{sign.Certificate}, UsageSign, sign.NotBefore.Add(-time.Second), ErrCertificateExpired, "", "", 0},
		{"issuer expired", []*smx509.Certificate{leaf3, i3}, UsageSign, now.Add(2 * time.Hour), ErrCertificateExpired, "", "", 0},
		{"issuer not expired yet", []*smx509.Certificate{leaf3, i3}, UsageSign, now, nil, "extroot", "", 3},
		{"sign cert to encrypt", []*smx509.Certificate{sign.Certificate}, UsageEncrypt, now, ErrKeyUsage, "", "", 0},
		{"encrypt cert to sign", []*smx509.Certificate{enc.Certificate}, UsageSign, now, ErrKeyUsage, "", "", 0},
		{"revoked", []*smx509.Certificate{revoked.Certificate}, UsageEncrypt, now, ErrCertificateRevoked, "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.svc.Verify(f.ctx, tc.chain, tc.usage, tc.at)
			wantErr(t, tc.name, err, tc.want)
			if tc.want != nil {
				for _, other := range []error{ErrUntrusted, ErrCertificateExpired, ErrKeyUsage, ErrCertificateRevoked} {
					if other != tc.want && errors.Is(err, other) {
						t.Fatalf("error %v matches both %v and %v", err, tc.want, other)
					}
				}
				return
			}
			if v.IssuerID != tc.wantIss || v.CredentialID != tc.wantCred || len(v.Chain) != tc.wantChain {
				t.Fatalf("Verified issuer %s credential %s chain %d; want %s %s %d", v.IssuerID, v.CredentialID, len(v.Chain), tc.wantIss, tc.wantCred, tc.wantChain)
			}
			if tc.wantCred != "" && v.UserID != uid {
				t.Fatalf("user %s, want %s", v.UserID, uid)
			}
			if v.Serial != serialHex(tc.chain[0].SerialNumber) || v.Subject != tc.chain[0].Subject.String() {
				t.Fatalf("Verified %+v", v)
			}
		})
	}
	_, err = f.svc.Verify(f.ctx, []*smx509.Certificate{leaf3, i3}, UsageSign, now.Add(2*time.Hour))
	if err == nil || !strings.Contains(err.Error(), "issuer certificate") {
		t.Fatalf("expired intermediate: the error should name the issuer certificate: %v", err)
	}
	if root.ID != "root" || sub.Parent != "root" {
		t.Fatalf("issuers %s / %s", root.ID, sub.Parent)
	}
}
