package seal

// Independent check of the SM2 (GM/T 0010) CMS inside a sealed PDF, which
// neither OpenSSL 3.0 nor poppler can verify: the ASN.1 is walked here with
// encoding/asn1 and test-local types, the digest and the signature are
// checked with github.com/tjfoc/gmsm.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"
	tjx509 "github.com/tjfoc/gmsm/x509"
)

var (
	gmtSignedData   = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	gmtData         = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	gmtSM3          = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	gmtSM2Sign      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	attrContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	attrDigest      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	attrSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	attrSigningCert = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

type tContentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"explicit,tag:0"`
}

type tSignerInfo struct {
	Version int
	Signer  struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	DigestAlg pkix.AlgorithmIdentifier
	Attrs     asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg    pkix.AlgorithmIdentifier
	Signature []byte
}

type tSignedData struct {
	Version    int
	DigestAlgs []pkix.AlgorithmIdentifier `asn1:"set"`
	Encap      struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	Certs   asn1.RawValue `asn1:"optional,tag:0"`
	Signers []tSignerInfo `asn1:"set"`
}

type tAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type tESSCertIDv2 struct {
	HashAlg  pkix.AlgorithmIdentifier
	CertHash []byte
	Rest     asn1.RawValue `asn1:"optional"`
}

func mustUnmarshal(t *testing.T, der []byte, v any) {
	t.Helper()
	rest, err := asn1.Unmarshal(der, v)
	if err != nil || len(rest) != 0 {
		t.Fatalf("asn1 %T: %v (%d bytes left)", v, err, len(rest))
	}
}

func tjfocPublic(t *testing.T, certDER []byte) *tjsm2.PublicKey {
	t.Helper()
	c, err := tjx509.ParseCertificate(certDER)
	if err != nil {
		t.Fatalf("tjfoc cannot parse the certificate: %v", err)
	}
	p, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("tjfoc public key is %T", c.PublicKey)
	}
	return &tjsm2.PublicKey{Curve: p.Curve, X: p.X, Y: p.Y}
}

// sm2CMSVerifies walks the CMS and tells whether tjfoc accepts it over
// signed; structural surprises fail the test.
func sm2CMSVerifies(t *testing.T, cms, signed []byte, p *testPKI) bool {
	t.Helper()
	var ci tContentInfo
	mustUnmarshal(t, cms, &ci)
	if !ci.Type.Equal(gmtSignedData) {
		t.Fatalf("content type %v, want GM/T 0010 signedData", ci.Type)
	}
	var sd tSignedData
	mustUnmarshal(t, ci.Content.Bytes, &sd)
	if len(sd.DigestAlgs) != 1 || !sd.DigestAlgs[0].Algorithm.Equal(gmtSM3) || !sd.Encap.Type.Equal(gmtData) || len(sd.Encap.Content.FullBytes) != 0 {
		t.Fatalf("SignedData: digest %v, eContentType %v, content %d bytes (want SM3, GM/T data, detached)", sd.DigestAlgs, sd.Encap.Type, len(sd.Encap.Content.FullBytes))
	}
	if len(sd.Signers) != 1 {
		t.Fatalf("%d signers", len(sd.Signers))
	}
	si := sd.Signers[0]
	if !bytes.Equal(si.Signer.Issuer.FullBytes, p.cert.RawIssuer) || si.Signer.Serial.Cmp(p.cert.SerialNumber) != 0 {
		t.Fatal("signer identifier is not the signer certificate's issuer and serial")
	}
	if !si.DigestAlg.Algorithm.Equal(gmtSM3) || !si.SigAlg.Algorithm.Equal(gmtSM2Sign) {
		t.Fatalf("signer algorithms %v / %v", si.DigestAlg.Algorithm, si.SigAlg.Algorithm)
	}
	var digestOK, typeOK, certOK bool
	for b := si.Attrs.Bytes; len(b) > 0; {
		var a tAttribute
		var err error
		if b, err = asn1.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
		switch {
		case a.Type.Equal(attrContentType):
			var ct asn1.ObjectIdentifier
			mustUnmarshal(t, a.Values.Bytes, &ct)
			typeOK = ct.Equal(gmtData)
		case a.Type.Equal(attrDigest):
			var md []byte
			mustUnmarshal(t, a.Values.Bytes, &md)
			digestOK = bytes.Equal(md, tjsm3.Sm3Sum(signed))
		case a.Type.Equal(attrSigningCert):
			var sc struct{ Certs []tESSCertIDv2 }
			mustUnmarshal(t, a.Values.Bytes, &sc)
			certOK = len(sc.Certs) == 1 && sc.Certs[0].HashAlg.Algorithm.Equal(gmtSM3) && bytes.Equal(sc.Certs[0].CertHash, tjsm3.Sm3Sum(p.cert.Raw))
		case a.Type.Equal(attrSigningTime):
			t.Fatal("PAdES baseline forbids the signing-time attribute")
		}
	}
	if !typeOK || !certOK {
		t.Fatalf("content type attribute ok=%v, signing-certificate-v2 ok=%v", typeOK, certOK)
	}
	set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: si.Attrs.Bytes})
	if err != nil {
		t.Fatal(err)
	}
	return digestOK && tjfocPublic(t, p.cert.Raw).Verify(set, si.Signature)
}

func checkSM2CMSWithTjfoc(t *testing.T, cms, signed []byte, p *testPKI) {
	t.Helper()
	if !sm2CMSVerifies(t, cms, signed, p) {
		t.Fatal("tjfoc does not verify the SM2 CMS over the signed byte ranges")
	}
}
