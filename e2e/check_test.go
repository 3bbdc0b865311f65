package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"
	tjsm4 "github.com/tjfoc/gmsm/sm4"
	tjx509 "github.com/tjfoc/gmsm/x509"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// Independent checkers: tjfoc/gmsm, OpenSSL and plain encoding/asn1 —
// never our crypto package.

// tjfocCert parses a PEM certificate with tjfoc's x509.
func tjfocCert(t *testing.T, certPEM string) *tjx509.Certificate {
	t.Helper()
	c, err := tjx509.ReadCertificateFromPem([]byte(firstCertPEM(t, certPEM)))
	if err != nil {
		t.Fatalf("tjfoc cannot parse the certificate: %v", err)
	}
	return c
}

// tjfocPub is an SM2 certificate's key as tjfoc's SM2 public key (tjfoc's
// x509 returns an *ecdsa.PublicKey on its SM2 curve).
func tjfocPub(t *testing.T, certPEM string) *tjsm2.PublicKey {
	t.Helper()
	p, ok := tjfocCert(t, certPEM).PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatal("not an SM2 certificate")
	}
	return &tjsm2.PublicKey{Curve: p.Curve, X: p.X, Y: p.Y}
}

// tjfocVerify checks an SM2 signature (DER r, s; SM3 with Z of the
// default signer id) over msg with tjfoc.
func tjfocVerify(t *testing.T, certPEM string, msg, sig []byte) bool {
	t.Helper()
	return tjfocPub(t, certPEM).Verify(msg, sig)
}

// tjfocDigest is e = SM3(Z || msg) by tjfoc, 32 bytes.
func tjfocDigest(t *testing.T, certPEM string, msg []byte) []byte {
	t.Helper()
	e, err := tjfocPub(t, certPEM).Sm3Digest(msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return leftPad(e, 32)
}

func leftPad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(make([]byte, n-len(b)), b...)
}

// opensslVerifyRaw checks a raw signature over msg with the openssl CLI:
// SM2 with pkeyutl (SM3, distinguishing id 1234567812345678), RSA with
// dgst -sha256 (PKCS#1 v1.5). It reports whether openssl accepted it.
func opensslVerifyRaw(t *testing.T, alg, certPEM string, msg, sig []byte) bool {
	t.Helper()
	dir := files(t, map[string][]byte{"cert.pem": []byte(firstCertPEM(t, certPEM)), "msg": msg, "sig": sig})
	testkit.RunOpenSSL(t, dir, "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem")
	var args []string
	if alg == "SM2" {
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig",
			"-digest", "sm3", "-pkeyopt", "distid:1234567812345678"}
	} else {
		args = []string{"dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "msg"}
	}
	out, err := testkit.TryOpenSSL(t, dir, args...)
	ok := err == nil && (strings.Contains(out, "Signature Verified Successfully") || strings.Contains(out, "Verified OK"))
	if !ok {
		t.Logf("openssl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return ok
}

// opensslVerifyCMS checks an RSA CMS SignedData with `openssl cms
// -verify` against the issuer certificate; content is the detached
// content (nil for attached). It returns the verified content, or nil if
// openssl refused.
func opensslVerifyCMS(t *testing.T, der, content []byte, caPEM string) []byte {
	t.Helper()
	m := map[string][]byte{"s.p7s": der, "ca.pem": []byte(caPEM)}
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", "s.p7s", "-CAfile", "ca.pem", "-out", "out.bin"}
	if content != nil {
		m["content.bin"] = content
		args = append(args, "-content", "content.bin")
	}
	dir := files(t, m)
	out, err := testkit.TryOpenSSL(t, dir, args...)
	if err != nil || !strings.Contains(out, "Verification successful") {
		t.Logf("openssl cms -verify: %v: %s", err, out)
		return nil
	}
	return readFile(t, dir, "out.bin")
}

// The ASN.1 of a CMS SignedData, as far as the SM2 check needs it (RFC
// 5652; GM/T 0010 uses the same structure under its own OIDs).
type (
	asnContentInfo struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	asnSignedData struct {
		Version      int
		DigestAlgs   asn1.RawValue
		Encap        asnEncap
		Certificates asn1.RawValue   `asn1:"optional,tag:0"`
		CRLs         asn1.RawValue   `asn1:"optional,tag:1"`
		SignerInfos  []asnSignerInfo `asn1:"set"`
	}
	asnEncap struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	asnSignerInfo struct {
		Version     int
		SID         asnIssuerSerial
		DigestAlg   pkix.AlgorithmIdentifier
		SignedAttrs asn1.RawValue `asn1:"optional,tag:0"`
		SigAlg      pkix.AlgorithmIdentifier
		Signature   []byte
		Unsigned    asn1.RawValue `asn1:"optional,tag:1"`
	}
	asnIssuerSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	asnAttribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
)

var (
	oidGMSignedData = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	oidSM3          = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	oidMsgDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

// checkSM2CMS walks an SM2 SignedData with encoding/asn1 and checks it
// with tjfoc: one signer, the certificate's serial, SM3 as the digest
// algorithm, the messageDigest attribute = SM3(content) (or the given
// digest), and the SM2 signature over the DER SET of the signed
// attributes. attached content must equal content.
func checkSM2CMS(t *testing.T, der, content, digest []byte, certPEM string, attached bool) {
	t.Helper()
	var ci asnContentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 {
		t.Fatalf("ContentInfo: %v", err)
	}
	if !ci.Type.Equal(oidGMSignedData) {
		t.Fatalf("content type %v, want GM/T 0010 signedData", ci.Type)
	}
	var sd asnSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		t.Fatalf("SignedData: %v", err)
	}
	if hasContent := len(sd.Encap.Content.FullBytes) > 0; hasContent != attached {
		t.Fatalf("attached content: %v, want %v", hasContent, attached)
	}
	if attached {
		var inner []byte
		if _, err := asn1.Unmarshal(sd.Encap.Content.Bytes, &inner); err != nil || !bytes.Equal(inner, content) {
			t.Fatalf("attached content %q (%v), want %q", inner, err, content)
		}
	}
	if len(sd.SignerInfos) != 1 {
		t.Fatalf("%d signers", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	cert := tjfocCert(t, certPEM)
	if si.SID.Serial.Cmp(cert.SerialNumber) != 0 || !bytes.Equal(si.SID.Issuer.FullBytes, cert.RawIssuer) {
		t.Fatal("the signer info names another certificate")
	}
	if !si.DigestAlg.Algorithm.Equal(oidSM3) {
		t.Fatalf("digest algorithm %v", si.DigestAlg.Algorithm)
	}
	if len(si.SignedAttrs.FullBytes) == 0 {
		t.Fatal("no signed attributes")
	}
	want := digest
	if want == nil {
		want = tjsm3.Sm3Sum(content)
	}
	var md []byte
	for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
		var a asnAttribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			t.Fatalf("signed attribute: %v", err)
		}
		if a.Type.Equal(oidMsgDigest) {
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				t.Fatalf("messageDigest: %v", err)
			}
		}
	}
	if !bytes.Equal(md, want) {
		t.Fatalf("messageDigest %x, want SM3 %x", md, want)
	}
	// The signature covers the attributes' DER with the SET tag, not the
	// [0] IMPLICIT tag they travel under.
	set := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	if !tjfocVerify(t, certPEM, set, si.Signature) {
		t.Fatal("tjfoc does not verify the SM2 signature over the signed attributes")
	}
	// And the signature is bound to them: a changed attribute set fails.
	set[len(set)-1] ^= 1
	if tjfocVerify(t, certPEM, set, si.Signature) {
		t.Fatal("tjfoc verifies the signature over changed attributes")
	}
}

// The ASN.1 of a CMS EnvelopedData, as far as opening its content with a
// known content key needs it.
type (
	asnEnvelopedData struct {
		Version    int
		Originator asn1.RawValue `asn1:"optional,tag:0"`
		Recipients asn1.RawValue
		Encrypted  asnEncryptedContentInfo
		Unprot     asn1.RawValue `asn1:"optional,tag:1"`
	}
	asnEncryptedContentInfo struct {
		Type    asn1.ObjectIdentifier
		Alg     pkix.AlgorithmIdentifier
		Content asn1.RawValue `asn1:"optional,tag:0"`
	}
)

var (
	oidSM4CBC    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// openWithKey decrypts an EnvelopedData's content with a content key (as
// a decrypt session with return_key gives it), independently: SM4-CBC by
// tjfoc, AES-256-CBC by the standard library, PKCS#7 padding. It also
// returns the content algorithm's OID.
func openWithKey(t *testing.T, der, key []byte) ([]byte, string) {
	t.Helper()
	var ci asnContentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatalf("ContentInfo: %v", err)
	}
	var ed asnEnvelopedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
		t.Fatalf("EnvelopedData: %v", err)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(ed.Encrypted.Alg.Parameters.FullBytes, &iv); err != nil {
		t.Fatalf("content algorithm IV: %v", err)
	}
	ct := ed.Encrypted.Content.Bytes
	if ed.Encrypted.Content.IsCompound { // BER: constructed OCTET STRING
		var joined []byte
		for rest := ct; len(rest) > 0; {
			var part []byte
			var err error
			if rest, err = asn1.Unmarshal(rest, &part); err != nil {
				t.Fatalf("encrypted content: %v", err)
			}
			joined = append(joined, part...)
		}
		ct = joined
	}
	var block cipher.Block
	var err error
	switch alg := ed.Encrypted.Alg.Algorithm; {
	case alg.Equal(oidSM4CBC):
		block, err = tjsm4.NewCipher(key)
	case alg.Equal(oidAES256CBC):
		block, err = aes.NewCipher(key)
	default:
		t.Fatalf("content algorithm %v", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) == 0 || len(ct)%block.BlockSize() != 0 || len(iv) != block.BlockSize() {
		t.Fatalf("ciphertext of %d bytes, IV of %d", len(ct), len(iv))
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n < 1 || n > block.BlockSize() || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		t.Fatal("bad padding: the content key does not open the content")
	}
	return pt[:len(pt)-n], ed.Encrypted.Alg.Algorithm.String()
}
