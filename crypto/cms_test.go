package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/pkcs"
	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// cmsTestPKI is a root CA, an intermediate CA and two end-entity
// certificates (leaf, other) of one algorithm family, made with gmsm
// directly so that these tests do not lean on the rest of the package.
type cmsTestPKI struct {
	sm2                     bool
	rootKey, interKey       crypto.Signer
	leafKey, otherKey       crypto.Signer
	root, inter, leaf       *smx509.Certificate
	other                   *smx509.Certificate
	rootPEM, interPEM       []byte
	leafPEM, leafKeyPEM     []byte
	otherPEM, otherKeyPEM   []byte
	chain                   []*smx509.Certificate // inter, root
	digest                  func([]byte) []byte   // SM3 or SHA-256
	signedType, contentType asn1.ObjectIdentifier
}

var (
	cmsPKIOnce [2]sync.Once
	cmsPKIs    [2]*cmsTestPKI
	cmsPKIErrs [2]error
)

// cmsPKI returns the shared test PKI of a family (made once per test binary:
// RSA key generation is slow on a shared machine).
func cmsPKI(t testing.TB, isSM2 bool) *cmsTestPKI {
	t.Helper()
	i := 0
	if isSM2 {
		i = 1
	}
	cmsPKIOnce[i].Do(func() { cmsPKIs[i], cmsPKIErrs[i] = cmsMakePKI(isSM2) })
	if cmsPKIErrs[i] != nil {
		t.Fatalf("test PKI: %v", cmsPKIErrs[i])
	}
	return cmsPKIs[i]
}

func cmsNewKey(isSM2 bool) (crypto.Signer, error) {
	if isSM2 {
		return sm2.GenerateKey(rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

func cmsIssue(tmpl, parent *smx509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*smx509.Certificate, error) {
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return smx509.ParseCertificate(der)
}

func cmsCertTemplate(cn string, ca bool) *smx509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &smx509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"ukeygate test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
	}
	if ca {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment |
			smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment
		tmpl.SubjectKeyId = serial.Bytes()
	}
	return tmpl
}

func cmsCertPEM(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func cmsKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func cmsMakePKI(isSM2 bool) (*cmsTestPKI, error) {
	p := &cmsTestPKI{sm2: isSM2}
	keys := make([]crypto.Signer, 4)
	for i := range keys {
		k, err := cmsNewKey(isSM2)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	p.rootKey, p.interKey, p.leafKey, p.otherKey = keys[0], keys[1], keys[2], keys[3]
	var err error
	rootTmpl := cmsCertTemplate("cms test root", true)
	if p.root, err = cmsIssue(rootTmpl, rootTmpl, p.rootKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	if p.inter, err = cmsIssue(cmsCertTemplate("cms test intermediate", true), p.root, p.interKey.Public(), p.rootKey); err != nil {
		return nil, err
	}
	if p.leaf, err = cmsIssue(cmsCertTemplate("cms test leaf", false), p.inter, p.leafKey.Public(), p.interKey); err != nil {
		return nil, err
	}
	if p.other, err = cmsIssue(cmsCertTemplate("cms test other", false), p.inter, p.otherKey.Public(), p.interKey); err != nil {
		return nil, err
	}
	p.chain = []*smx509.Certificate{p.inter, p.root}
	p.rootPEM, p.interPEM, p.leafPEM, p.otherPEM = cmsCertPEM(p.root), cmsCertPEM(p.inter), cmsCertPEM(p.leaf), cmsCertPEM(p.other)
	if p.leafKeyPEM, err = cmsKeyPEM(p.leafKey); err != nil {
		return nil, err
	}
	if p.otherKeyPEM, err = cmsKeyPEM(p.otherKey); err != nil {
		return nil, err
	}
	if isSM2 {
		p.digest = func(b []byte) []byte { d := sm3.Sum(b); return d[:] }
		p.signedType = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 2}
		p.contentType = asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1}
	} else {
		p.digest = func(b []byte) []byte { d := sha256.Sum256(b); return d[:] }
		p.signedType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
		p.contentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	}
	return p, nil
}

func cmsFamilyName(isSM2 bool) string {
	if isSM2 {
		return "SM2"
	}
	return "RSA"
}

type cmsSignMode int

const (
	cmsAttached cmsSignMode = iota
	cmsDetached
	cmsDigestOnly
)

func (m cmsSignMode) String() string {
	return [...]string{"attached", "detached", "digest"}[m]
}

func cmsSignWith(t testing.TB, p *cmsTestPKI, mode cmsSignMode, content []byte) []byte {
	t.Helper()
	var der []byte
	var err error
	switch mode {
	case cmsAttached:
		der, err = SignCMS(p.leafKey, p.leaf, p.chain, content, false)
	case cmsDetached:
		der, err = SignCMS(p.leafKey, p.leaf, p.chain, content, true)
	case cmsDigestOnly:
		der, err = SignCMSDigest(p.leafKey, p.leaf, p.chain, p.digest(content))
	}
	if err != nil {
		t.Fatalf("sign %v: %v", mode, err)
	}
	return der
}

// cmsOuterType reads the ContentInfo's content type independently of cms.go.
func cmsOuterType(t testing.TB, der []byte) asn1.ObjectIdentifier {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 {
		t.Fatalf("ContentInfo: %v (rest %d)", err, len(rest))
	}
	return ci.Type
}

func TestCMSSignVerifyRoundTrip(t *testing.T) {
	content := []byte("投标文件 bid document v1\x00\xff")
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		for _, mode := range []cmsSignMode{cmsAttached, cmsDetached, cmsDigestOnly} {
			t.Run(cmsFamilyName(isSM2)+"/"+mode.String(), func(t *testing.T) {
				before := time.Now().Add(-2 * time.Second)
				der := cmsSignWith(t, p, mode, content)
				after := time.Now().Add(2 * time.Second)
				if got := cmsOuterType(t, der); !got.Equal(p.signedType) {
					t.Fatalf("content type %v, want %v", got, p.signedType)
				}
				if kind, err := CMSKind(der); err != nil || kind != CMSKindSignedData {
					t.Fatalf("CMSKind = %q, %v", kind, err)
				}
				var detached []byte
				if mode != cmsAttached {
					detached = content
				}
				res, err := VerifyCMS(der, detached)
				if err != nil {
					t.Fatalf("VerifyCMS: %v", err)
				}
				if !bytes.Equal(res.Content, content) {
					t.Errorf("content %q, want %q", res.Content, content)
				}
				if len(res.Signers) != 1 || !res.Signers[0].Equal(p.leaf) {
					t.Errorf("signers %v, want the leaf", res.Signers)
				}
				if len(res.Certificates) != 3 || !res.Certificates[0].Equal(p.leaf) ||
					!res.Certificates[1].Equal(p.inter) || !res.Certificates[2].Equal(p.root) {
					t.Errorf("certificates carried: %d, want leaf, intermediate, root", len(res.Certificates))
				}
				if res.SigningTime.Before(before.Truncate(time.Second)) || res.SigningTime.After(after) {
					t.Errorf("signing time %v not in [%v, %v]", res.SigningTime, before, after)
				}
				// The digest alone verifies too, whatever the mode.
				res, err = VerifyCMSDigest(der, p.digest(content))
				if err != nil {
					t.Fatalf("VerifyCMSDigest: %v", err)
				}
				if len(res.Signers) != 1 || !res.Signers[0].Equal(p.leaf) {
					t.Errorf("VerifyCMSDigest signers %v", res.Signers)
				}
				if mode == cmsAttached && !bytes.Equal(res.Content, content) {
					t.Errorf("VerifyCMSDigest content %q", res.Content)
				}
				// PEM armour, both block types.
				for _, typ := range []string{"CMS", "PKCS7"} {
					armoured := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
					if _, err := VerifyCMS(armoured, detached); err != nil {
						t.Errorf("VerifyCMS(PEM %s): %v", typ, err)
					}
				}
				// BER (indefinite lengths, content split in chunks).
				if _, err := VerifyCMS(cmsToBER(t, der), detached); err != nil {
					t.Errorf("VerifyCMS(BER): %v", err)
				}
			})
		}
	}
}

func TestCMSSignEmptyAndLargeContent(t *testing.T) {
	large := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		for _, content := range [][]byte{{}, large} {
			for _, detached := range []bool{false, true} {
				der, err := SignCMS(p.leafKey, p.leaf, nil, content, detached)
				if err != nil {
					t.Fatalf("%s sign %d bytes: %v", cmsFamilyName(isSM2), len(content), err)
				}
				var dc []byte
				if detached {
					dc = content
				}
				res, err := VerifyCMS(der, dc)
				if err != nil {
					t.Fatalf("%s verify %d bytes detached=%v: %v", cmsFamilyName(isSM2), len(content), detached, err)
				}
				if !bytes.Equal(res.Content, content) || len(res.Certificates) != 1 {
					t.Errorf("%s %d bytes: content %d bytes, %d certificates", cmsFamilyName(isSM2), len(content), len(res.Content), len(res.Certificates))
				}
			}
		}
	}
}

// cmsFlip returns a copy of b with the byte at i changed.
func cmsFlip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestCMSVerifyFailures(t *testing.T) {
	content := []byte("the exact bid amount: 1,000,000.00 CNY")
	other := []byte("the exact bid amount: 9,000,000.00 CNY")
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		attached := cmsSignWith(t, p, cmsAttached, content)
		detached := cmsSignWith(t, p, cmsDetached, content)
		digestSig := cmsSignWith(t, p, cmsDigestOnly, content)
		at := bytes.Index(attached, content)
		md := bytes.Index(attached, p.digest(content))
		if at < 0 || md < 0 {
			t.Fatal("content or message digest not found in the SignedData")
		}
		env, err := EnvelopeCMS(content, p.leaf)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			der     []byte
			content []byte
			digest  []byte // VerifyCMSDigest when set
			want    error
		}{
			{"tampered attached content", cmsFlip(attached, at+3), nil, nil, ErrVerification},
			{"tampered message digest attribute", cmsFlip(attached, md+5), nil, nil, ErrVerification},
			{"tampered signature", cmsFlip(attached, len(attached)-1), nil, nil, ErrVerification},
			{"tampered detached signature", cmsFlip(detached, len(detached)-1), content, nil, ErrVerification},
			{"wrong detached content", detached, other, nil, ErrVerification},
			{"empty detached content", detached, []byte{}, nil, ErrVerification},
			{"detached without content", detached, nil, nil, ErrVerification},
			{"attached with different content", attached, other, nil, ErrVerification},
			{"digest-only signature, wrong content", digestSig, other, nil, ErrVerification},
			{"wrong digest", detached, nil, p.digest(other), ErrVerification},
			{"short digest", detached, nil, p.digest(content)[:31], ErrVerification},
			{"empty digest", digestSig, nil, []byte{}, ErrVerification},
			{"attached content, wrong digest", attached, nil, p.digest(other), ErrVerification},
			{"truncated by half", attached[:len(attached)/2], nil, nil, ErrMalformed},
			{"truncated by one", attached[:len(attached)-1], nil, nil, ErrMalformed},
			{"trailing garbage", append(bytes.Clone(attached), 0), nil, nil, ErrMalformed},
			{"empty", nil, nil, nil, ErrMalformed},
			{"garbage", []byte("not a cms at all"), nil, nil, ErrMalformed},
			{"enveloped data", env, nil, nil, ErrMalformed},
			{"certificate, not CMS", p.leaf.Raw, nil, nil, ErrMalformed},
			{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: attached}), nil, nil, ErrMalformed},
			{"broken PEM", []byte("-----BEGIN CMS-----\n!!!\n-----END CMS-----\n"), nil, nil, ErrMalformed},
		}
		for _, tc := range tests {
			t.Run(cmsFamilyName(isSM2)+"/"+tc.name, func(t *testing.T) {
				var res *SignedCMS
				var err error
				if tc.digest != nil {
					res, err = VerifyCMSDigest(tc.der, tc.digest)
				} else {
					res, err = VerifyCMS(tc.der, tc.content)
				}
				if !errors.Is(err, tc.want) || res != nil {
					t.Fatalf("got %v, %v; want %v", res, err, tc.want)
				}
			})
		}
	}
}

func TestCMSVerifySignerNotCarried(t *testing.T) {
	// A SignedData whose signer certificate is left out (gmsm's
	// SkipCertificates) cannot verify: VerifyCMS takes no outside
	// certificate.
	p := cmsPKI(t, true)
	sd, err := pkcs7.NewSMSignedData([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.AddSigner(p.leaf, p.leafKey, pkcs7.SignerInfoConfig{SkipCertificates: true}); err != nil {
		t.Fatal(err)
	}
	sd.AddCertificate(p.other)
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCMS(der, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("got %v, want ErrVerification", err)
	}
	// No signer at all: a certificates-only SignedData.
	degenerate, err := pkcs7.DegenerateCertificate(p.leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCMS(degenerate, nil); !errors.Is(err, ErrVerification) {
		t.Fatalf("degenerate: got %v, want ErrVerification", err)
	}
}

func TestCMSSignErrors(t *testing.T) {
	s := cmsPKI(t, true)
	r := cmsPKI(t, false)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sign func() ([]byte, error)
		want error
	}{
		{"SM2 key, RSA certificate", func() ([]byte, error) { return SignCMS(s.leafKey, r.leaf, nil, []byte("x"), false) }, ErrKeyMismatch},
		{"RSA key, other RSA certificate", func() ([]byte, error) { return SignCMS(r.leafKey, r.other, nil, []byte("x"), true) }, ErrKeyMismatch},
		{"SM2 digest, other certificate", func() ([]byte, error) { return SignCMSDigest(s.leafKey, s.other, nil, make([]byte, 32)) }, ErrKeyMismatch},
		{"P-256 key", func() ([]byte, error) { return SignCMS(p256, s.leaf, nil, []byte("x"), false) }, ErrUnsupported},
		{"nil certificate", func() ([]byte, error) { return SignCMS(s.leafKey, nil, nil, []byte("x"), false) }, ErrInvalidInput},
		{"nil key", func() ([]byte, error) { return SignCMS(nil, s.leaf, nil, []byte("x"), false) }, ErrInvalidInput},
		{"nil chain certificate", func() ([]byte, error) {
			return SignCMS(s.leafKey, s.leaf, []*smx509.Certificate{nil}, []byte("x"), false)
		}, ErrInvalidInput},
		{"31-byte digest", func() ([]byte, error) { return SignCMSDigest(s.leafKey, s.leaf, nil, make([]byte, 31)) }, ErrInvalidInput},
		{"48-byte digest", func() ([]byte, error) { return SignCMSDigest(r.leafKey, r.leaf, nil, make([]byte, 48)) }, ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der, err := tc.sign()
			if !errors.Is(err, tc.want) || der != nil {
				t.Fatalf("got %d bytes, %v; want %v", len(der), err, tc.want)
			}
		})
	}
}

func TestCMSChainDeduplicated(t *testing.T) {
	p := cmsPKI(t, true)
	der, err := SignCMS(p.leafKey, p.leaf, []*smx509.Certificate{p.leaf, p.inter, p.inter, p.root}, []byte("x"), false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyCMS(der, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Certificates) != 3 {
		t.Fatalf("%d certificates carried, want 3 (leaf, intermediate, root once each)", len(res.Certificates))
	}
}

func TestCMSEnvelopeRoundTrip(t *testing.T) {
	contents := map[string][]byte{
		"empty":       {},
		"one block":   []byte("0123456789abcdef"),
		"short":       []byte("bid price 42"),
		"256 KiB":     bytes.Repeat([]byte{0xa5, 0x00, 0x5a}, 256*1024/3),
		"binary zero": make([]byte, 1000),
	}
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		wantAlg, wantLen, wantType := OIDAES256CBC, 32, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
		if isSM2 {
			wantAlg, wantLen, wantType = OIDSM4CBC, 16, asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3}
		}
		for name, content := range contents {
			t.Run(cmsFamilyName(isSM2)+"/"+name, func(t *testing.T) {
				env, err := EnvelopeCMS(content, p.leaf, p.other)
				if err != nil {
					t.Fatal(err)
				}
				if got := cmsOuterType(t, env); !got.Equal(wantType) {
					t.Fatalf("content type %v, want %v", got, wantType)
				}
				if kind, err := CMSKind(env); err != nil || kind != CMSKindEnvelopedData {
					t.Fatalf("CMSKind = %q, %v", kind, err)
				}
				for _, r := range []struct {
					cert *smx509.Certificate
					key  crypto.Signer
				}{{p.leaf, p.leafKey}, {p.other, p.otherKey}} {
					got, err := OpenCMS(env, r.cert, r.key)
					if err != nil {
						t.Fatalf("OpenCMS(%s): %v", r.cert.Subject.CommonName, err)
					}
					if !bytes.Equal(got, content) {
						t.Fatalf("OpenCMS(%s) = %d bytes, want %d", r.cert.Subject.CommonName, len(got), len(content))
					}
					cek, alg, err := OpenCMSKey(env, r.cert, r.key)
					if err != nil || len(cek) != wantLen || !alg.Equal(wantAlg) {
						t.Fatalf("OpenCMSKey = %d bytes, %v, %v; want %d bytes, %v", len(cek), alg, err, wantLen, wantAlg)
					}
				}
				armoured := pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: env})
				if got, err := OpenCMS(armoured, p.leaf, p.leafKey); err != nil || !bytes.Equal(got, content) {
					t.Fatalf("OpenCMS(PEM): %v", err)
				}
				if got, err := OpenCMS(cmsToBER(t, env), p.leaf, p.leafKey); err != nil || !bytes.Equal(got, content) {
					t.Fatalf("OpenCMS(BER): %v", err)
				}
			})
		}
	}
}

func TestCMSEnvelopeTwiceDiffers(t *testing.T) {
	p := cmsPKI(t, true)
	a, err := EnvelopeCMS([]byte("same"), p.leaf)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EnvelopeCMS([]byte("same"), p.leaf)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two envelopes of the same content are identical: key or IV not random")
	}
	ka, _, err := OpenCMSKey(a, p.leaf, p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _, err := OpenCMSKey(b, p.leaf, p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ka, kb) {
		t.Fatal("two envelopes share a content-encryption key")
	}
}

// cmsEncryptedKeyOffset finds the first recipient's encrypted key inside env
// (walking the ASN.1 independently of cms.go).
func cmsEncryptedKeyOffset(t *testing.T, env []byte) int {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(env, &ci); err != nil {
		t.Fatal(err)
	}
	var ed struct {
		Version    int
		Recipients []struct {
			Version int
			RID     asn1.RawValue
			Alg     pkix.AlgorithmIdentifier
			Key     []byte
		} `asn1:"set"`
		Rest asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(env, ed.Recipients[0].Key)
	if i < 0 {
		t.Fatal("encrypted key not found")
	}
	return i
}

func TestCMSOpenFailures(t *testing.T) {
	content := []byte("sealed bid")
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		q := cmsPKI(t, !isSM2)
		env, err := EnvelopeCMS(content, p.leaf)
		if err != nil {
			t.Fatal(err)
		}
		signed := cmsSignWith(t, p, cmsAttached, content)
		ek := cmsEncryptedKeyOffset(t, env)
		tests := []struct {
			name string
			der  []byte
			cert *smx509.Certificate
			key  crypto.Signer
		}{
			{"wrong recipient key", env, p.leaf, p.otherKey},
			{"not a recipient", env, p.other, p.otherKey},
			{"other family", env, q.leaf, q.leafKey},
			{"tampered encrypted key", cmsFlip(env, ek+40), p.leaf, p.leafKey},
			{"tampered encrypted key start", cmsFlip(env, ek+10), p.leaf, p.leafKey},
			{"truncated by half", env[:len(env)/2], p.leaf, p.leafKey},
			{"truncated by one", env[:len(env)-1], p.leaf, p.leafKey},
			{"empty", nil, p.leaf, p.leafKey},
			{"garbage", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, p.leaf, p.leafKey},
			{"signed data", signed, p.leaf, p.leafKey},
			{"nil certificate", env, nil, p.leafKey},
			{"nil key", env, p.leaf, nil},
		}
		for _, tc := range tests {
			t.Run(cmsFamilyName(isSM2)+"/"+tc.name, func(t *testing.T) {
				got, err := OpenCMS(tc.der, tc.cert, tc.key)
				if !errors.Is(err, ErrDecryption) || got != nil {
					t.Fatalf("OpenCMS = %q, %v; want ErrDecryption", got, err)
				}
				cek, alg, err := OpenCMSKey(tc.der, tc.cert, tc.key)
				if !errors.Is(err, ErrDecryption) || cek != nil || alg != nil {
					t.Fatalf("OpenCMSKey = %x, %v, %v; want ErrDecryption", cek, alg, err)
				}
			})
		}
	}
}

func TestCMSEnvelopeErrors(t *testing.T) {
	s := cmsPKI(t, true)
	r := cmsPKI(t, false)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := cmsCertTemplate("p256", false)
	ecCert, err := cmsIssue(tmpl, tmpl, p256.Public(), p256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		recipients []*smx509.Certificate
		want       error
	}{
		{"SM2 then RSA", []*smx509.Certificate{s.leaf, r.leaf}, ErrUnsupported},
		{"RSA then SM2", []*smx509.Certificate{r.leaf, r.other, s.leaf}, ErrUnsupported},
		{"P-256", []*smx509.Certificate{ecCert}, ErrUnsupported},
		{"no recipient", nil, ErrInvalidInput},
		{"nil recipient", []*smx509.Certificate{s.leaf, nil}, ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := EnvelopeCMS([]byte("x"), tc.recipients...)
			if !errors.Is(err, tc.want) || env != nil {
				t.Fatalf("got %d bytes, %v; want %v", len(env), err, tc.want)
			}
		})
	}
}

// gmsm's pkcs7 is the library the GM/T 0010 layout was taken from: each side
// must open what the other seals, in every SM2 variant gmsm has.
func TestCMSEnvelopeGmsmInterop(t *testing.T) {
	content := []byte("interop with gmsm pkcs7")
	s := cmsPKI(t, true)
	r := cmsPKI(t, false)

	ours, err := EnvelopeCMS(content, s.leaf)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(ours)
	if err != nil {
		t.Fatalf("gmsm cannot parse our SM2 envelope: %v", err)
	}
	got, err := p7.Decrypt(s.leaf, s.leafKey)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("gmsm cannot open our SM2 envelope: %v", err)
	}

	producers := []struct {
		name string
		p    *cmsTestPKI
		seal func([]byte, []*smx509.Certificate) ([]byte, error)
	}{
		{"EncryptSM (GM/T 0010, ASN.1 SM2)", s, func(c []byte, to []*smx509.Certificate) ([]byte, error) {
			return pkcs7.EncryptSM(pkcs.SM4CBC, c, to)
		}},
		{"EncryptCFCA (C1C2C3 without 0x04)", s, func(c []byte, to []*smx509.Certificate) ([]byte, error) {
			return pkcs7.EncryptCFCA(pkcs.SM4CBC, c, to)
		}},
		{"EnvelopeMessageCFCA (subject key id)", s, func(c []byte, to []*smx509.Certificate) ([]byte, error) {
			return pkcs7.EnvelopeMessageCFCA(pkcs.SM4CBC, c, to)
		}},
		{"Encrypt RSA PKCS#1 v1.5, AES-128-CBC", r, func(c []byte, to []*smx509.Certificate) ([]byte, error) {
			return pkcs7.Encrypt(pkcs.AES128CBC, c, to)
		}},
	}
	for _, pr := range producers {
		t.Run(pr.name, func(t *testing.T) {
			env, err := pr.seal(content, []*smx509.Certificate{pr.p.leaf})
			if err != nil {
				t.Fatal(err)
			}
			got, err := OpenCMS(env, pr.p.leaf, pr.p.leafKey)
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("OpenCMS = %q, %v", got, err)
			}
		})
	}
}

// cmsToBER re-encodes DER as BER the way streaming encoders do: every
// constructed element with an indefinite length, every OCTET STRING longer
// than 8 bytes as a constructed string of 8-byte parts.
func cmsToBER(t testing.TB, der []byte) []byte {
	t.Helper()
	var conv func(b []byte) []byte
	conv = func(b []byte) []byte {
		var out []byte
		for len(b) > 0 {
			var rv asn1.RawValue
			rest, err := asn1.Unmarshal(b, &rv)
			if err != nil {
				t.Fatalf("cmsToBER: %v", err)
			}
			b = rest
			ident := rv.FullBytes[0]
			switch {
			case rv.IsCompound:
				out = append(out, ident, 0x80)
				out = append(out, conv(rv.Bytes)...)
				out = append(out, 0, 0)
			case rv.Class == asn1.ClassUniversal && rv.Tag == asn1.TagOctetString && len(rv.Bytes) > 8:
				out = append(out, 0x24, 0x80)
				for v := rv.Bytes; len(v) > 0; {
					n := min(8, len(v))
					part, _ := asn1.Marshal(v[:n])
					out = append(out, part...)
					v = v[n:]
				}
				out = append(out, 0, 0)
			default:
				out = append(out, rv.FullBytes...)
			}
		}
		return out
	}
	ber := conv(der)
	if bytes.Equal(ber, der) {
		t.Fatal("cmsToBER changed nothing")
	}
	return ber
}

func TestCMSBERToDER(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte // nil: an error
	}{
		{"DER unchanged", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{"indefinite sequence", []byte{0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{"constructed octet string", []byte{0x24, 0x80, 0x04, 0x01, 'a', 0x04, 0x02, 'b', 'c', 0x00, 0x00}, []byte{0x04, 0x03, 'a', 'b', 'c'}},
		{"nested constructed octet string", []byte{0x24, 0x09, 0x24, 0x80, 0x04, 0x01, 'a', 0x00, 0x00, 0x04, 0x00}, []byte{0x04, 0x01, 'a'}},
		{"empty constructed octet string", []byte{0x24, 0x00}, []byte{0x04, 0x00}},
		{"non-minimal length", []byte{0x04, 0x81, 0x01, 'z'}, []byte{0x04, 0x01, 'z'}},
		{"long form kept", append([]byte{0x04, 0x81, 0x80}, make([]byte, 128)...), append([]byte{0x04, 0x81, 0x80}, make([]byte, 128)...)},
		{"explicit tag indefinite", []byte{0xa0, 0x80, 0x24, 0x80, 0x04, 0x01, 'x', 0x00, 0x00, 0x00, 0x00}, []byte{0xa0, 0x03, 0x04, 0x01, 'x'}},
		{"high tag number", []byte{0xbf, 0x81, 0x00, 0x80, 0x05, 0x00, 0x00, 0x00}, []byte{0xbf, 0x81, 0x00, 0x02, 0x05, 0x00}},
		{"truncated", []byte{0x30, 0x05, 0x02, 0x01}, nil},
		{"missing end of contents", []byte{0x30, 0x80, 0x02, 0x01, 0x05}, nil},
		{"indefinite primitive", []byte{0x04, 0x80, 0x00, 0x00}, nil},
		{"trailing data", []byte{0x05, 0x00, 0x05, 0x00}, nil},
		{"octet string with a non-string part", []byte{0x24, 0x03, 0x02, 0x01, 0x01}, nil},
		{"five length bytes", []byte{0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00}, nil},
		{"huge length", []byte{0x04, 0x84, 0xff, 0xff, 0xff, 0xff}, nil},
		{"one byte", []byte{0x30}, nil},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cmsBERToDER(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("got %x, want an error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x, %v; want %x", got, err, tc.want)
			}
		})
	}
	// Deep nesting is refused, not followed until the stack runs out.
	deep := []byte{}
	for range 10000 {
		deep = append(deep, 0x30, 0x80)
	}
	if _, err := cmsBERToDER(deep); err == nil {
		t.Fatal("deep nesting accepted")
	}
}

// Keys as the rest of the package makes and stores them (GenerateKey, then
// a PEM round trip), and an SM2 key held as a bare *ecdsa.PrivateKey, must
// sign and open.
func TestCMSWithPackageKeys(t *testing.T) {
	for _, alg := range []Alg{AlgSM2, AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			gen, err := GenerateKey(alg, 0)
			if err != nil {
				t.Fatal(err)
			}
			pemKey, err := MarshalPrivateKeyPEM(gen)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ParsePrivateKeyPEM(pemKey)
			if err != nil {
				t.Fatal(err)
			}
			keys := []crypto.Signer{gen, parsed}
			if sk, ok := gen.(*sm2.PrivateKey); ok {
				keys = append(keys, &sk.PrivateKey)
			}
			tmpl := cmsCertTemplate("package key", false)
			cert, err := cmsIssue(tmpl, tmpl, gen.Public(), gen)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range keys {
				sig, err := SignCMS(key, cert, nil, []byte("doc"), true)
				if err != nil {
					t.Fatalf("SignCMS with %T: %v", key, err)
				}
				if res, err := VerifyCMS(sig, []byte("doc")); err != nil || !res.Signers[0].Equal(cert) {
					t.Fatalf("VerifyCMS after %T: %v", key, err)
				}
				env, err := EnvelopeCMS([]byte("secret"), cert)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := OpenCMS(env, cert, key); err != nil || string(got) != "secret" {
					t.Fatalf("OpenCMS with %T = %q, %v", key, got, err)
				}
			}
		})
	}
}

// TestCMSAddressedTo: an envelope names its recipients by issuer and
// serial (not another certificate), and a
// malformed input names no one.
func TestCMSAddressedTo(t *testing.T) {
	for _, isSM2 := range []bool{true, false} {
		p := cmsPKI(t, isSM2)
		env, err := EnvelopeCMS([]byte("bid"), p.leaf)
		if err != nil {
			t.Fatal(err)
		}
		if !CMSAddressedTo(env, p.leaf) || CMSAddressedTo(env, p.other) || CMSAddressedTo(env, nil) {
			t.Fatal("CMSAddressedTo misreads the recipients")
		}
		if CMSAddressedTo(env[:len(env)/2], p.leaf) || CMSAddressedTo([]byte("not cms"), p.leaf) {
			t.Fatal("a malformed envelope names a recipient")
		}
	}
}
