package crypto

// Independent checks of the SM2 (GM/T 0010) CMS, which OpenSSL 3.0 cannot
// read: the ASN.1 is walked here with encoding/asn1 and test-local types,
// digests, signatures and ciphertexts are checked with github.com/tjfoc/gmsm,
// and structures built here with tjfoc must be accepted by cms.go.

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"
	tjsm4 "github.com/tjfoc/gmsm/sm4"
	tjx509 "github.com/tjfoc/gmsm/x509"
)

// OIDs as written in GM/T 0006 / GM/T 0010, spelt out here rather than taken
// from cms.go.
var (
	gmtOIDData          = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	gmtOIDSignedData    = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
	gmtOIDEnvelopedData = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3}
	gmtOIDSM3           = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
	gmtOIDSM2Sign       = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1}
	gmtOIDSM2Encrypt    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 3}
	gmtOIDSM4CBC        = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}
	gmtOIDContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	gmtOIDMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	gmtOIDSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

type gmtContentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"explicit,tag:0"`
}

type gmtIssuerSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type gmtSignerInfo struct {
	Version   int
	Signer    gmtIssuerSerial
	DigestAlg pkix.AlgorithmIdentifier
	Attrs     asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg    pkix.AlgorithmIdentifier
	Signature []byte
}

type gmtSignedData struct {
	Version    int
	DigestAlgs []pkix.AlgorithmIdentifier `asn1:"set"`
	Encap      struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	Certs   asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs    asn1.RawValue   `asn1:"optional,tag:1"`
	Signers []gmtSignerInfo `asn1:"set"`
}

type gmtAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type gmtRecipientInfo struct {
	Version      int
	Recipient    gmtIssuerSerial
	KeyAlg       pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

type gmtEnvelopedData struct {
	Version    int
	Recipients []gmtRecipientInfo `asn1:"set"`
	Encrypted  struct {
		Type    asn1.ObjectIdentifier
		Alg     pkix.AlgorithmIdentifier
		Content asn1.RawValue `asn1:"optional,tag:0"`
	}
}

// gmtSM2Ciphertext is the ASN.1 SM2 ciphertext of GM/T 0009: C1 as x and y,
// C3 the SM3 hash, C2 the ciphertext.
type gmtSM2Ciphertext struct {
	X, Y       *big.Int
	Hash       []byte
	Ciphertext []byte
}

func gmtUnmarshal(t *testing.T, der []byte, v any) {
	t.Helper()
	rest, err := asn1.Unmarshal(der, v)
	if err != nil || len(rest) != 0 {
		t.Fatalf("asn1 %T: %v (%d bytes left)", v, err, len(rest))
	}
}

// gmtKeys reads p's leaf certificate and private key with tjfoc.
func gmtKeys(t *testing.T, p *cmsTestPKI) (*tjsm2.PublicKey, *tjsm2.PrivateKey) {
	t.Helper()
	c, err := tjx509.ParseCertificate(p.leaf.Raw)
	if err != nil {
		t.Fatalf("tjfoc cannot parse the certificate: %v", err)
	}
	ecp, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("tjfoc public key is %T", c.PublicKey)
	}
	block, _ := pem.Decode(p.leafKeyPEM)
	priv, err := tjx509.ParsePKCS8UnecryptedPrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("tjfoc cannot parse the private key: %v", err)
	}
	return &tjsm2.PublicKey{Curve: ecp.Curve, X: ecp.X, Y: ecp.Y}, priv
}

func TestCMSSM2SignedDataIndependent(t *testing.T) {
	p := cmsPKI(t, true)
	pub, _ := gmtKeys(t, p)
	content := []byte("SM2 签名的投标文件")
	for _, mode := range []cmsSignMode{cmsAttached, cmsDetached, cmsDigestOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			der := cmsSignWith(t, p, mode, content)
			var ci gmtContentInfo
			gmtUnmarshal(t, der, &ci)
			if !ci.Type.Equal(gmtOIDSignedData) {
				t.Fatalf("content type %v, want GM/T 0010 signedData", ci.Type)
			}
			var sd gmtSignedData
			gmtUnmarshal(t, ci.Content.Bytes, &sd)
			if len(sd.DigestAlgs) != 1 || !sd.DigestAlgs[0].Algorithm.Equal(gmtOIDSM3) {
				t.Errorf("digest algorithms %v, want SM3", sd.DigestAlgs)
			}
			if !sd.Encap.Type.Equal(gmtOIDData) {
				t.Errorf("eContentType %v, want GM/T 0010 data", sd.Encap.Type)
			}
			if mode == cmsAttached {
				var carried []byte
				gmtUnmarshal(t, sd.Encap.Content.Bytes, &carried)
				if !bytes.Equal(carried, content) {
					t.Errorf("attached content %q", carried)
				}
			} else if len(sd.Encap.Content.FullBytes) != 0 {
				t.Errorf("detached SignedData carries content")
			}

			// Certificates, read by tjfoc: leaf, intermediate, root.
			var certs [][]byte
			for b := sd.Certs.Bytes; len(b) > 0; {
				var rv asn1.RawValue
				var err error
				if b, err = asn1.Unmarshal(b, &rv); err != nil {
					t.Fatal(err)
				}
				if _, err := tjx509.ParseCertificate(rv.FullBytes); err != nil {
					t.Errorf("tjfoc cannot parse a carried certificate: %v", err)
				}
				certs = append(certs, rv.FullBytes)
			}
			if len(certs) != 3 || !bytes.Equal(certs[0], p.leaf.Raw) || !bytes.Equal(certs[1], p.inter.Raw) || !bytes.Equal(certs[2], p.root.Raw) {
				t.Errorf("%d certificates carried, want leaf, intermediate, root", len(certs))
			}

			if len(sd.Signers) != 1 {
				t.Fatalf("%d signers", len(sd.Signers))
			}
			si := sd.Signers[0]
			if !bytes.Equal(si.Signer.Issuer.FullBytes, p.leaf.RawIssuer) || si.Signer.Serial.Cmp(p.leaf.SerialNumber) != 0 {
				t.Error("signer identifier is not the leaf's issuer and serial number")
			}
			if !si.DigestAlg.Algorithm.Equal(gmtOIDSM3) || !si.SigAlg.Algorithm.Equal(gmtOIDSM2Sign) {
				t.Errorf("signer algorithms %v / %v, want SM3 / SM2-1", si.DigestAlg.Algorithm, si.SigAlg.Algorithm)
			}

			// Signed attributes: content type, message digest = SM3(content)
			// computed by tjfoc, signing time.
			found := map[string]bool{}
			for b := si.Attrs.Bytes; len(b) > 0; {
				var a gmtAttribute
				var err error
				if b, err = asn1.Unmarshal(b, &a); err != nil {
					t.Fatal(err)
				}
				switch {
				case a.Type.Equal(gmtOIDContentType):
					var ct asn1.ObjectIdentifier
					gmtUnmarshal(t, a.Values.Bytes, &ct)
					found["contentType"] = ct.Equal(gmtOIDData)
				case a.Type.Equal(gmtOIDMessageDigest):
					var md []byte
					gmtUnmarshal(t, a.Values.Bytes, &md)
					found["messageDigest"] = bytes.Equal(md, tjsm3.Sm3Sum(content))
				case a.Type.Equal(gmtOIDSigningTime):
					var st time.Time
					gmtUnmarshal(t, a.Values.Bytes, &st)
					found["signingTime"] = time.Since(st) < time.Hour && time.Until(st) < time.Minute
				}
			}
			for _, name := range []string{"contentType", "messageDigest", "signingTime"} {
				if !found[name] {
					t.Errorf("signed attribute %s missing or wrong", name)
				}
			}

			// The signature covers the DER SET OF the signed attributes and
			// verifies with tjfoc (SM3 with Z, default user id).
			set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: si.Attrs.Bytes})
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Verify(set, si.Signature) {
				t.Fatal("tjfoc rejects the SM2 signature over the signed attributes")
			}
			if pub.Verify(cmsFlip(set, len(set)-1), si.Signature) {
				t.Fatal("tjfoc accepts the signature over changed attributes: the check is void")
			}
		})
	}
}

// gmtBuildSignedData assembles a GM/T 0010 SignedData signed by tjfoc, with
// or without content and with or without signed attributes.
func gmtBuildSignedData(t *testing.T, p *cmsTestPKI, priv *tjsm2.PrivateKey, content []byte, attached, withAttrs bool, ctAttr asn1.ObjectIdentifier) []byte {
	t.Helper()
	var attrs asn1.RawValue
	signed := content
	if withAttrs {
		var enc []byte
		for _, a := range []struct {
			oid asn1.ObjectIdentifier
			val any
		}{
			{gmtOIDContentType, ctAttr},
			{gmtOIDSigningTime, time.Now().UTC().Truncate(time.Second)},
			{gmtOIDMessageDigest, tjsm3.Sm3Sum(content)},
		} {
			v, err := asn1.Marshal(a.val)
			if err != nil {
				t.Fatal(err)
			}
			b, err := asn1.Marshal(gmtAttribute{Type: a.oid, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: v}})
			if err != nil {
				t.Fatal(err)
			}
			enc = append(enc, b...)
		}
		attrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: enc}
		set, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: enc})
		if err != nil {
			t.Fatal(err)
		}
		signed = set
	}
	sig, err := priv.Sign(rand.Reader, signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sd gmtSignedData
	sd.Version = 1
	sd.DigestAlgs = []pkix.AlgorithmIdentifier{{Algorithm: gmtOIDSM3}}
	sd.Encap.Type = gmtOIDData
	if attached {
		oct, _ := asn1.Marshal(content)
		sd.Encap.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}
	}
	sd.Certs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(bytes.Clone(p.leaf.Raw), p.inter.Raw...)}
	sd.Signers = []gmtSignerInfo{{
		Version:   1,
		Signer:    gmtIssuerSerial{Issuer: asn1.RawValue{FullBytes: p.leaf.RawIssuer}, Serial: p.leaf.SerialNumber},
		DigestAlg: pkix.AlgorithmIdentifier{Algorithm: gmtOIDSM3},
		Attrs:     attrs,
		SigAlg:    pkix.AlgorithmIdentifier{Algorithm: gmtOIDSM2Sign},
		Signature: sig,
	}}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(gmtContentInfo{Type: gmtOIDSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCMSVerifyTjfocSignedData(t *testing.T) {
	p := cmsPKI(t, true)
	_, priv := gmtKeys(t, p)
	content := []byte("signed by tjfoc/gmsm")
	for _, tc := range []struct {
		name               string
		attached, withAttr bool
	}{
		{"attached with attributes", true, true},
		{"detached with attributes", false, true},
		{"attached without attributes", true, false},
		{"detached without attributes", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := gmtBuildSignedData(t, p, priv, content, tc.attached, tc.withAttr, gmtOIDData)
			var dc []byte
			if !tc.attached {
				dc = content
			}
			res, err := VerifyCMS(der, dc)
			if err != nil {
				t.Fatalf("VerifyCMS: %v", err)
			}
			if !bytes.Equal(res.Content, content) || len(res.Signers) != 1 || !res.Signers[0].Equal(p.leaf) {
				t.Fatalf("content %q, signers %v", res.Content, res.Signers)
			}
			if _, err := VerifyCMS(der, []byte("other content")); !errors.Is(err, ErrVerification) {
				t.Fatalf("other content: %v, want ErrVerification", err)
			}
			_, err = VerifyCMSDigest(der, tjsm3.Sm3Sum(content))
			if tc.withAttr && err != nil {
				t.Fatalf("VerifyCMSDigest: %v", err)
			}
			if !tc.withAttr && !tc.attached && !errors.Is(err, ErrVerification) {
				// SM2 signs SM3(Z || content): the digest alone cannot verify.
				t.Fatalf("VerifyCMSDigest without attributes: %v, want ErrVerification", err)
			}
		})
	}
}

func TestCMSSM2EnvelopeIndependent(t *testing.T) {
	p := cmsPKI(t, true)
	_, priv := gmtKeys(t, p)
	for _, content := range [][]byte{{}, []byte("SM2 sealed bid: 1,234,567.89"), bytes.Repeat([]byte{7}, 4096)} {
		env, err := EnvelopeCMS(content, p.leaf)
		if err != nil {
			t.Fatal(err)
		}
		var ci gmtContentInfo
		gmtUnmarshal(t, env, &ci)
		if !ci.Type.Equal(gmtOIDEnvelopedData) {
			t.Fatalf("content type %v, want GM/T 0010 envelopedData", ci.Type)
		}
		var ed gmtEnvelopedData
		gmtUnmarshal(t, ci.Content.Bytes, &ed)
		if ed.Version != 1 || len(ed.Recipients) != 1 {
			t.Fatalf("version %d, %d recipients", ed.Version, len(ed.Recipients))
		}
		ri := ed.Recipients[0]
		if ri.Version != 1 || !bytes.Equal(ri.Recipient.Issuer.FullBytes, p.leaf.RawIssuer) || ri.Recipient.Serial.Cmp(p.leaf.SerialNumber) != 0 {
			t.Error("recipient is not the leaf's issuer and serial number (version 1)")
		}
		if !ri.KeyAlg.Algorithm.Equal(gmtOIDSM2Encrypt) {
			t.Errorf("key encryption %v, want SM2-3", ri.KeyAlg.Algorithm)
		}
		// The encrypted key is GM/T 0009's ASN.1 SM2 ciphertext: x, y, a
		// 32-byte SM3 hash (C3), then the 16-byte SM4 key (C2).
		var sc gmtSM2Ciphertext
		gmtUnmarshal(t, ri.EncryptedKey, &sc)
		if len(sc.Hash) != 32 || len(sc.Ciphertext) != 16 {
			t.Errorf("SM2 ciphertext C3 %d bytes, C2 %d bytes; want 32, 16", len(sc.Hash), len(sc.Ciphertext))
		}
		cek, err := tjsm2.DecryptAsn1(priv, ri.EncryptedKey)
		if err != nil || len(cek) != 16 {
			t.Fatalf("tjfoc cannot decrypt the content key: %v", err)
		}
		ours, alg, err := OpenCMSKey(env, p.leaf, p.leafKey)
		if err != nil || !bytes.Equal(ours, cek) || !alg.Equal(gmtOIDSM4CBC) {
			t.Fatalf("OpenCMSKey = %x, %v, %v; tjfoc found %x", ours, alg, err, cek)
		}

		if !ed.Encrypted.Type.Equal(gmtOIDData) || !ed.Encrypted.Alg.Algorithm.Equal(gmtOIDSM4CBC) {
			t.Errorf("encrypted content %v / %v, want GM/T 0010 data / SM4-CBC", ed.Encrypted.Type, ed.Encrypted.Alg.Algorithm)
		}
		var iv []byte
		gmtUnmarshal(t, ed.Encrypted.Alg.Parameters.FullBytes, &iv)
		block, err := tjsm4.NewCipher(cek)
		if err != nil {
			t.Fatal(err)
		}
		ct := ed.Encrypted.Content.Bytes
		if len(iv) != 16 || len(ct) == 0 || len(ct)%16 != 0 {
			t.Fatalf("IV %d bytes, ciphertext %d bytes", len(iv), len(ct))
		}
		pt := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
		pad := int(pt[len(pt)-1])
		if pad < 1 || pad > 16 || !bytes.Equal(pt[len(pt)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
			t.Fatalf("bad PKCS#7 padding %x", pt[len(pt)-16:])
		}
		if !bytes.Equal(pt[:len(pt)-pad], content) {
			t.Fatalf("tjfoc SM4-CBC gives %q, want %q", pt[:len(pt)-pad], content)
		}
	}
}

// gmtBuildEnvelope seals content to p's leaf with tjfoc alone, the SM2 key
// ciphertext made by encryptKey.
func gmtBuildEnvelope(t *testing.T, p *cmsTestPKI, pub *tjsm2.PublicKey, content []byte, encryptKey func(*tjsm2.PublicKey, []byte) ([]byte, error)) []byte {
	t.Helper()
	cek := make([]byte, 16)
	iv := make([]byte, 16)
	rand.Read(cek)
	rand.Read(iv)
	block, err := tjsm4.NewCipher(cek)
	if err != nil {
		t.Fatal(err)
	}
	pad := 16 - len(content)%16
	pt := append(bytes.Clone(content), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	ek, err := encryptKey(pub, cek)
	if err != nil {
		t.Fatal(err)
	}
	ivDER, _ := asn1.Marshal(iv)
	var ed gmtEnvelopedData
	ed.Version = 1
	ed.Recipients = []gmtRecipientInfo{{
		Version:      1,
		Recipient:    gmtIssuerSerial{Issuer: asn1.RawValue{FullBytes: p.leaf.RawIssuer}, Serial: p.leaf.SerialNumber},
		KeyAlg:       pkix.AlgorithmIdentifier{Algorithm: gmtOIDSM2Encrypt, Parameters: asn1.NullRawValue},
		EncryptedKey: ek,
	}}
	ed.Encrypted.Type = gmtOIDData
	ed.Encrypted.Alg = pkix.AlgorithmIdentifier{Algorithm: gmtOIDSM4CBC, Parameters: asn1.RawValue{FullBytes: ivDER}}
	ed.Encrypted.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct}
	inner, err := asn1.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(gmtContentInfo{Type: gmtOIDEnvelopedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCMSOpenTjfocEnvelope(t *testing.T) {
	p := cmsPKI(t, true)
	pub, _ := gmtKeys(t, p)
	content := []byte("sealed by tjfoc/gmsm, more than one SM4 block long")
	for _, tc := range []struct {
		name    string
		encrypt func(*tjsm2.PublicKey, []byte) ([]byte, error)
	}{
		{"ASN.1 (GM/T 0009)", func(k *tjsm2.PublicKey, m []byte) ([]byte, error) { return tjsm2.EncryptAsn1(k, m, rand.Reader) }},
		{"C1C3C2", func(k *tjsm2.PublicKey, m []byte) ([]byte, error) {
			return tjsm2.Encrypt(k, m, rand.Reader, tjsm2.C1C3C2)
		}},
		{"C1C2C3", func(k *tjsm2.PublicKey, m []byte) ([]byte, error) {
			return tjsm2.Encrypt(k, m, rand.Reader, tjsm2.C1C2C3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := gmtBuildEnvelope(t, p, pub, content, tc.encrypt)
			got, err := OpenCMS(env, p.leaf, p.leafKey)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("OpenCMS = %q, %v", got, err)
			}
			if _, err := OpenCMS(env, p.other, p.otherKey); !errors.Is(err, ErrDecryption) {
				t.Fatalf("other recipient: %v, want ErrDecryption", err)
			}
		})
	}
}

// A content-type attribute that is not the encapsulated content's type
// (RFC 5652 5.3) fails, even with a good signature and digest.
func TestCMSContentTypeAttributeMismatch(t *testing.T) {
	p := cmsPKI(t, true)
	_, priv := gmtKeys(t, p)
	content := []byte("typed content")
	pkcs7Data := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	der := gmtBuildSignedData(t, p, priv, content, true, true, pkcs7Data)
	if _, err := VerifyCMS(der, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("got %v, want ErrVerification", err)
	}
	der = gmtBuildSignedData(t, p, priv, content, true, true, gmtOIDData)
	if _, err := VerifyCMS(der, nil); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// tjfoc-made certificates (tjfoc's own SM2 certificate encoding) must be
// usable as signer and recipient certificates here.
func TestCMSWithTjfocCertificate(t *testing.T) {
	priv, err := tjsm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &tjx509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "tjfoc leaf"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     tjx509.KeyUsageDigitalSignature | tjx509.KeyUsageKeyEncipherment,
	}
	der, err := tjx509.CreateCertificate(tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smx509 cannot parse the tjfoc certificate: %v", err)
	}
	keyDER, err := tjx509.MarshalSm2UnecryptedPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	key, err := smx509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		t.Fatal(err)
	}
	sk, ok := key.(crypto.Signer)
	if !ok {
		t.Fatalf("key %T is not a crypto.Signer", key)
	}
	sig, err := SignCMS(sk, cert, nil, []byte("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := VerifyCMS(sig, nil); err != nil || !res.Signers[0].Equal(cert) {
		t.Fatalf("VerifyCMS: %v", err)
	}
	env, err := EnvelopeCMS([]byte("y"), cert)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenCMS(env, cert, sk); err != nil || string(got) != "y" {
		t.Fatalf("OpenCMS = %q, %v", got, err)
	}
}
