package crypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"
)

// GmSSL 3 cannot be installed on the project's machines (no Debian
// package), so these tests build its CMS by hand, following the structure
// GmSSL documents and writes (see crypto/cms.go and NOTES of the team):
// GM/T 0010 content types, SignerInfo without signed attributes, signature
// algorithm SM2-with-SM3 1.2.156.10197.1.501 over SM3(content) without Z;
// EnvelopedData with SM2 key transport named 1.2.156.10197.1.301.2 (or
// …301.3), the ASN.1 SM2 ciphertext of the key, SM4-CBC content.

var (
	gmsslOIDData        = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	gmsslOIDSigned      = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	gmsslOIDEnveloped   = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3}
	gmsslOIDSM3         = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	gmsslOIDSM2WithSM3  = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}
	gmsslOIDSM2Exchange = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 2}
	gmsslOIDSM2Encrypt  = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 3}
	gmsslOIDSM2Sign     = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	gmsslOIDSM4CBC      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}
)

type gmsslContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

type gmsslIssuerSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type gmsslSignerInfo struct {
	Version   int
	SID       gmsslIssuerSerial
	DigestAlg pkix.AlgorithmIdentifier
	SigAlg    pkix.AlgorithmIdentifier
	Signature []byte
}

type gmsslEncap struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,optional,tag:0"`
}

type gmsslSignedData struct {
	Version     int
	DigestAlgs  []pkix.AlgorithmIdentifier `asn1:"set"`
	Encap       gmsslEncap
	Certs       asn1.RawValue     `asn1:"tag:0"`
	SignerInfos []gmsslSignerInfo `asn1:"set"`
}

type gmsslKeyTrans struct {
	Version      int
	RID          gmsslIssuerSerial
	KeyAlg       pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

type gmsslEncryptedContent struct {
	ContentType asn1.ObjectIdentifier
	Alg         pkix.AlgorithmIdentifier
	Encrypted   []byte `asn1:"tag:0"`
}

type gmsslEnveloped struct {
	Version    int
	Recipients []gmsslKeyTrans `asn1:"set"`
	Content    gmsslEncryptedContent
}

func gmsslWrap(t *testing.T, oid asn1.ObjectIdentifier, v any) []byte {
	t.Helper()
	inner, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(gmsslContentInfo{ContentType: oid, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// gmsslSign builds GmSSL 3's SignedData over content, signed by p.leaf
// without Z under sigAlg, attached or detached.
func gmsslSign(t *testing.T, p *cmsTestPKI, content []byte, attached bool, sigAlg asn1.ObjectIdentifier, withZ bool) []byte {
	t.Helper()
	key := p.leafKey.(*sm2.PrivateKey)
	var sig []byte
	var err error
	if withZ {
		sig, err = key.Sign(rand.Reader, content, sm2.DefaultSM2SignerOpts)
	} else {
		e := sm3.Sum(content)
		sig, err = sm2.SignASN1(rand.Reader, key, e[:], nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	encap := gmsslEncap{ContentType: gmsslOIDData}
	if attached {
		encap.Content = content
	}
	certs, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: p.leaf.Raw})
	return gmsslWrap(t, gmsslOIDSigned, gmsslSignedData{
		Version:    1,
		DigestAlgs: []pkix.AlgorithmIdentifier{{Algorithm: gmsslOIDSM3}},
		Encap:      encap,
		Certs:      asn1.RawValue{FullBytes: certs},
		SignerInfos: []gmsslSignerInfo{{
			Version:   1,
			SID:       gmsslIssuerSerial{Issuer: asn1.RawValue{FullBytes: p.leaf.RawIssuer}, Serial: p.leaf.SerialNumber},
			DigestAlg: pkix.AlgorithmIdentifier{Algorithm: gmsslOIDSM3},
			SigAlg:    pkix.AlgorithmIdentifier{Algorithm: sigAlg},
			Signature: sig,
		}},
	})
}

func TestCMSVerifyGmSSLShape(t *testing.T) {
	p := cmsPKI(t, true)
	content := []byte("GmSSL 3 投标文件 signed without signed attributes")
	e := sm3.Sum(content)
	for _, attached := range []bool{true, false} {
		der := gmsslSign(t, p, content, attached, gmsslOIDSM2WithSM3, false)
		var detached []byte
		if !attached {
			detached = content
		}
		res, err := VerifyCMS(der, detached)
		if err != nil {
			t.Fatalf("attached=%v: VerifyCMS: %v", attached, err)
		}
		if len(res.Signers) != 1 || !res.Signers[0].Equal(p.leaf) {
			t.Fatalf("attached=%v: signers %v", attached, res.Signers)
		}
		// Digest only: without signed attributes and without Z, SM3 of the
		// content is what was signed.
		if _, err := VerifyCMSDigest(der, e[:]); err != nil {
			t.Fatalf("attached=%v: VerifyCMSDigest: %v", attached, err)
		}
		// Negative: other content, other digest, altered signature.
		if _, err := VerifyCMS(der, []byte("another bid")); err == nil {
			t.Fatalf("attached=%v: other content verified", attached)
		}
		other := sm3.Sum([]byte("another bid"))
		if _, err := VerifyCMSDigest(der, other[:]); err == nil {
			t.Fatalf("attached=%v: other digest verified", attached)
		}
	}
	// Without Z is accepted only under GmSSL's OID: the same signature
	// named SM2-1 (…301.1, which means SM3 with Z) is refused.
	if _, err := VerifyCMS(gmsslSign(t, p, content, true, gmsslOIDSM2Sign, false), nil); err == nil {
		t.Fatal("a signature without Z verified under 1.2.156.10197.1.301.1")
	}
	// With Z under …501 verifies as before.
	if _, err := VerifyCMS(gmsslSign(t, p, content, true, gmsslOIDSM2WithSM3, true), nil); err != nil {
		t.Fatalf("with Z under 501: %v", err)
	}
}

// gmsslEnvelope builds GmSSL 3's EnvelopedData of content to cert with
// key transport keyAlg.
func gmsslEnvelope(t *testing.T, cert *smx509.Certificate, content []byte, keyAlg asn1.ObjectIdentifier) []byte {
	t.Helper()
	cek := make([]byte, 16)
	iv := make([]byte, 16)
	rand.Read(cek)
	rand.Read(iv)
	ek, err := Encrypt(cert.PublicKey, cek, FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := sm4.NewCipher(cek)
	n := 16 - len(content)%16
	padded := append(bytes.Clone(content), bytes.Repeat([]byte{byte(n)}, n)...)
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	ivDER, _ := asn1.Marshal(iv)
	return gmsslWrap(t, gmsslOIDEnveloped, gmsslEnveloped{
		Version: 0,
		Recipients: []gmsslKeyTrans{{
			Version:      0,
			RID:          gmsslIssuerSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			KeyAlg:       pkix.AlgorithmIdentifier{Algorithm: keyAlg},
			EncryptedKey: ek,
		}},
		Content: gmsslEncryptedContent{
			ContentType: gmsslOIDData,
			Alg:         pkix.AlgorithmIdentifier{Algorithm: gmsslOIDSM4CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
			Encrypted:   ct,
		},
	})
}

func TestCMSOpenGmSSLShape(t *testing.T) {
	p := cmsPKI(t, true)
	content := []byte("GmSSL 3 sealed bid: 总价 1,234,567.00 元")
	for _, alg := range []asn1.ObjectIdentifier{gmsslOIDSM2Exchange, gmsslOIDSM2Encrypt} {
		env := gmsslEnvelope(t, p.leaf, content, alg)
		if err := CheckEnvelope(env); err != nil {
			t.Fatalf("%s: CheckEnvelope: %v", alg, err)
		}
		pt, err := OpenCMS(env, p.leaf, p.leafKey)
		if err != nil || !bytes.Equal(pt, content) {
			t.Fatalf("%s: OpenCMS = %q, %v", alg, pt, err)
		}
		if _, err := OpenCMS(env, p.other, p.otherKey); err != ErrDecryption {
			t.Fatalf("%s: opened for another recipient (%v)", alg, err)
		}
	}
	// An unknown key-transport algorithm is refused by the shape check.
	env := gmsslEnvelope(t, p.leaf, content, asn1.ObjectIdentifier{1, 2, 3, 4})
	gmsslWantMalformed(t, CheckEnvelope(env))
	gmsslWantMalformed(t, CheckEnvelope([]byte("not a CMS")))
	signed := gmsslSign(t, p, content, true, gmsslOIDSM2WithSM3, false)
	gmsslWantMalformed(t, CheckEnvelope(signed))
}

func gmsslWantMalformed(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}
