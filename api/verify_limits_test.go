package api_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/api"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestVerifyCertificateLimits (security review finding 5): POST /v1/verify
// refuses a request carrying more certificates or CMS signers than it
// takes with 400 too_many_certificates, before any signature work: 100
// decoy intermediates in certificate_pem (with a signature that would not
// even verify), 300 in a CMS certificate set, and a CMS with 9 signers. At
// the limit the request is answered normally. The body limit here is the
// server's default (1 MiB), so the refusal is the count's, not the size's.
func TestVerifyCertificateLimits(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	var app struct {
		APIKey string `json:"api_key"`
	}
	e.must(e.admin("POST", "/v1/admin/apps", map[string]any{"name": "Portal", "origins": []string{"https://p.example.cn"}}), http.StatusCreated).decode(t, &app)

	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	decoyKey, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := limitsCert(t, 1, "Signer", false, key)
	var decoys []*smx509.Certificate
	for i := range 300 {
		decoys = append(decoys, limitsCert(t, int64(100+i), "Evil CA", true, decoyKey))
	}
	data := []byte("bid #7")
	sig, err := gmcrypto.Sign(key, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	cms := func(chain []*smx509.Certificate) []byte {
		der, err := gmcrypto.SignCMS(key, leaf, chain, data, true)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pemOf := func(cs ...*smx509.Certificate) string { return string(gmcrypto.EncodeCertificatesPEM(cs...)) }

	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		// certificate_pem is bounded to 64 KiB: about 120 such certificates.
		{"raw, 100 decoys", map[string]any{"data": data, "signature": []byte("not a signature"), "certificate_pem": pemOf(append([]*smx509.Certificate{leaf}, decoys[:100]...)...)},
			400, "too_many_certificates", "certificate_pem"},
		{"raw, 11 intermediates", map[string]any{"data": data, "signature": sig, "certificate_pem": pemOf(append([]*smx509.Certificate{leaf}, decoys[:11]...)...)},
			400, "too_many_certificates", "certificate_pem"},
		{"raw, 10 intermediates", map[string]any{"data": data, "signature": sig, "certificate_pem": pemOf(append([]*smx509.Certificate{leaf}, decoys[:10]...)...)},
			200, "", ""},
		{"cms, 300 decoys", map[string]any{"data": data, "cms": cms(decoys)}, 400, "too_many_certificates", "cms"},
		{"cms, 8 decoys and 3 more in certificate_pem", map[string]any{"data": data, "cms": cms(decoys[:8]), "certificate_pem": pemOf(decoys[8:11]...)},
			400, "too_many_certificates", "cms"},
		{"cms, 10 decoys", map[string]any{"data": data, "cms": cms(decoys[:10])}, 200, "", ""},
		{"cms, 9 signers", map[string]any{"data": data, "cms": repeatSigners(t, cms(nil), 9)}, 400, "too_many_certificates", "cms"},
		{"cms, 8 signers", map[string]any{"data": data, "cms": repeatSigners(t, cms(nil), 8)}, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/verify", tc.body, map[string]string{"Authorization": "Bearer " + app.APIKey})
			if r.status != tc.status || r.code != tc.code || r.field != tc.field {
				t.Fatalf("%d %s field %q, want %d %s field %q: %s", r.status, r.code, r.field, tc.status, tc.code, tc.field, r.body)
			}
			if r.status == http.StatusOK {
				var v protocol.VerifyResponse
				r.decode(t, &v)
				// Nobody registered the signer's CA: a verdict, not an error.
				if v.Valid || v.Reason != protocol.ReasonUntrusted {
					t.Fatalf("verdict %+v, want untrusted", v)
				}
			}
		})
	}
}

// newLimitsEnv serves an API with the server's default body limit.
func newLimitsEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, envOpts{adminToken: testAdminToken, maxBody: api.DefaultMaxBodyBytes})
}

// limitsCert is a self-signed SM2 certificate: a CA, or a signing end
// entity.
func limitsCert(t *testing.T, serial int64, cn string, isCA bool, key crypto.Signer) *smx509.Certificate {
	t.Helper()
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: isCA, KeyUsage: smx509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage = smx509.KeyUsageCertSign
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// repeatSigners rewrites a one-signer SignedData so that its signerInfos
// SET holds n copies of the signer (each one verifies).
func repeatSigners(t *testing.T, der []byte, n int) []byte {
	t.Helper()
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 {
		t.Fatalf("ContentInfo: %v", err)
	}
	var sd asn1.RawValue
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		t.Fatalf("SignedData: %v", err)
	}
	var fields []asn1.RawValue
	for b := sd.Bytes; len(b) > 0; {
		var f asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &f); err != nil {
			t.Fatalf("SignedData field: %v", err)
		}
		fields = append(fields, f)
	}
	last := fields[len(fields)-1] // signerInfos SET
	if last.Tag != asn1.TagSet {
		t.Fatalf("last SignedData field has tag %d, want SET", last.Tag)
	}
	set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Repeat(last.Bytes, n)})
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, f := range fields[:len(fields)-1] {
		body = append(body, f.FullBytes...)
	}
	body = append(body, set...)
	newSD, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	oid, err := asn1.Marshal(ci.ContentType)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: newSD})
	if err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: append(oid, wrapped...)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
