package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/portal"
)

var algs = []string{"SM2", "RSA"}

// gatewayVerify asks POST /v1/verify through the portal client and wants
// a valid signature by the credential's certificate.
func (w *world) gatewayVerify(t *testing.T, req portal.VerifyRequest, cred string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	v, err := w.pc.Verify(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid || v.Signer == nil || v.Signer.Serial != w.creds[cred].Serial {
		t.Fatalf("POST /v1/verify: %+v (signer %+v), want valid by %s", v, v.Signer, w.creds[cred].Serial)
	}
	// The same request with one bit of the signature flipped is refused.
	bad := req
	if len(req.Signature) > 0 {
		bad.Signature = flip(req.Signature)
	} else {
		bad.CMS = flip(req.CMS)
	}
	v, err = w.pc.Verify(ctx, bad)
	if err == nil && v.Valid {
		t.Fatal("POST /v1/verify accepts a flipped bit")
	}
}

// flip returns b with one bit of its last part changed.
func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-5] ^= 0x10
	return c
}

// checkRaw verifies a raw signature over msg independently: tjfoc and
// openssl for SM2, openssl for RSA.
func (w *world) checkRaw(t *testing.T, alg, certPEM string, msg, sig []byte) {
	t.Helper()
	if alg == "SM2" {
		if !tjfocVerify(t, certPEM, msg, sig) {
			t.Fatal("tjfoc does not verify the SM2 signature")
		}
		if tjfocVerify(t, certPEM, append(bytes.Clone(msg), '!'), sig) {
			t.Fatal("tjfoc verifies the signature over other data")
		}
	}
	if testkit.HaveOpenSSL(t) {
		if !opensslVerifyRaw(t, alg, certPEM, msg, sig) {
			t.Fatalf("openssl does not verify the %s signature", alg)
		}
		if opensslVerifyRaw(t, alg, certPEM, msg, flip(sig)) {
			t.Fatalf("openssl verifies a flipped %s signature", alg)
		}
	}
}

// checkCMS verifies a CMS SignedData independently: the ASN.1 walk with
// tjfoc for SM2, openssl cms -verify for RSA.
func (w *world) checkCMS(t *testing.T, alg, certPEM string, der, content, digest []byte, attached bool) {
	t.Helper()
	if alg == "SM2" {
		checkSM2CMS(t, der, content, digest, certPEM, attached)
		return
	}
	testkit.OpenSSL(t)
	detached := content
	if attached {
		detached = nil
	}
	got := opensslVerifyCMS(t, der, detached, w.issuerPEM[alg])
	if got == nil || !bytes.Equal(got, content) {
		t.Fatalf("openssl cms -verify: content %q, want %q", got, content)
	}
	if opensslVerifyCMS(t, der, append(bytes.Clone(content), '!'), w.issuerPEM[alg]) != nil && !attached {
		t.Fatal("openssl verifies the CMS over other content")
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			cred := alg + "-sign"
			s, final := w.flow(t, portal.SessionRequest{Kind: portal.KindLogin, Issuer: issuerOf[alg], Alg: alg}, cred)
			res, err := final.Login()
			if err != nil {
				t.Fatal(err)
			}
			if res.User != w.userID || res.Credential != w.creds[cred].ID {
				t.Fatalf("login by %s with %s, want %s with %s", res.User, res.Credential, w.userID, w.creds[cred].ID)
			}
			// The portal's own check, with the issuers as roots.
			roots, err := gmcrypto.ParseCertificatesPEM([]byte(w.issuerPEM["SM2"] + w.issuerPEM["RSA"]))
			if err != nil {
				t.Fatal(err)
			}
			v, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: w.appID, Origin: testOrigin, Roots: roots})
			if err != nil {
				t.Fatal(err)
			}
			if v.Challenge.Nonce == "" || time.Since(v.Challenge.Time) > time.Minute {
				t.Fatalf("challenge %+v", v.Challenge)
			}
			if _, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: w.appID, Origin: "https://evil.example"}); err == nil {
				t.Fatal("a login for another origin verifies")
			}
			w.gatewayVerify(t, portal.VerifyRequest{Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM}, cred)
			w.checkRaw(t, alg, res.CertificatePEM, res.Challenge, res.Signature)
			// GET /v1/sessions/{id} has the same result.
			got, err := w.pc.GetSession(context.Background(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			again, err := got.Login()
			if err != nil || !bytes.Equal(again.Signature, res.Signature) || !bytes.Equal(again.Challenge, res.Challenge) {
				t.Fatalf("GET result %+v, %v", again, err)
			}
		})
	}
}

// doc is a document of a sign test: its data, and whether the portal
// sends only its digest.
type doc struct {
	name       string
	data       []byte
	digestOnly bool
}

func TestSign(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	one := []doc{{"bid.pdf", []byte("投标文件：总价 ¥1,234,567.00"), false}}
	oneDigest := []doc{{"bid.pdf", []byte("投标文件：总价 ¥7,654,321.00"), true}}
	several := []doc{
		{"bid.pdf", []byte("商务标"), false},
		{"tech.pdf", bytes.Repeat([]byte("技术标 "), 3000), false},
		{"price.xlsx", []byte("报价 digest only"), true},
	}
	attachedSeveral := []doc{{"a.txt", []byte("first"), false}, {"b.txt", []byte("second"), false}}
	cases := []struct {
		name   string
		format string
		docs   []doc
	}{
		{"raw data", portal.FormatRaw, one},
		{"raw digest", portal.FormatRaw, oneDigest},
		{"cms-detached data", portal.FormatCMSDetached, one},
		{"cms-detached digest", portal.FormatCMSDetached, oneDigest},
		{"cms-attached", portal.FormatCMSAttached, one},
		{"raw, several documents", portal.FormatRaw, several},
		{"cms-detached, several documents", portal.FormatCMSDetached, several},
		{"cms-attached, several documents", portal.FormatCMSAttached, attachedSeveral},
	}
	for _, alg := range algs {
		cred := alg + "-sign"
		certPEM := w.creds[cred].CertificatePEM
		for _, tc := range cases {
			t.Run(alg+" "+tc.name, func(t *testing.T) {
				req := portal.SessionRequest{Kind: portal.KindSign, Issuer: issuerOf[alg], Alg: alg, Format: tc.format}
				for _, d := range tc.docs {
					pd := portal.Document{Name: d.name}
					switch {
					case !d.digestOnly:
						pd.Data = d.data
					case tc.format == portal.FormatRaw && alg == "SM2":
						pd.Digest = tjfocDigest(t, certPEM, d.data) // e = SM3(Z || M), by tjfoc
					case tc.format == portal.FormatRaw:
						h := sha256.Sum256(d.data)
						pd.Digest = h[:]
					case alg == "SM2":
						pd.Digest = tjsm3.Sm3Sum(d.data) // CMS: the content digest
					default:
						h := sha256.Sum256(d.data)
						pd.Digest = h[:]
					}
					req.Documents = append(req.Documents, pd)
				}
				_, final := w.flow(t, req, cred)
				res, err := final.Sign()
				if err != nil {
					t.Fatal(err)
				}
				if firstCertPEM(t, res.CertificatePEM) != firstCertPEM(t, certPEM) {
					t.Fatal("signed with another certificate")
				}
				if len(res.Documents) != len(tc.docs) {
					t.Fatalf("%d results for %d documents", len(res.Documents), len(tc.docs))
				}
				for i, d := range tc.docs {
					r := res.Documents[i]
					if r.Name != d.name {
						t.Fatalf("result %d is %q, want %q", i, r.Name, d.name)
					}
					sent := req.Documents[i]
					if tc.format == portal.FormatRaw {
						if len(r.Signature) == 0 || len(r.CMS) != 0 {
							t.Fatalf("%s: raw result %+v", d.name, r)
						}
						w.gatewayVerify(t, portal.VerifyRequest{Data: sent.Data, Digest: sent.Digest, Signature: r.Signature, CertificatePEM: res.CertificatePEM}, cred)
						w.checkRaw(t, alg, certPEM, d.data, r.Signature)
						continue
					}
					if len(r.CMS) == 0 || len(r.Signature) != 0 {
						t.Fatalf("%s: CMS result %+v", d.name, r)
					}
					attached := tc.format == portal.FormatCMSAttached
					vreq := portal.VerifyRequest{CMS: r.CMS, Data: sent.Data, Digest: sent.Digest}
					if attached {
						vreq.Data = nil
					}
					w.gatewayVerify(t, vreq, cred)
					var digest []byte
					if d.digestOnly {
						digest = sent.Digest
					}
					w.checkCMS(t, alg, certPEM, r.CMS, d.data, digest, attached)
				}
			})
		}
	}
}

// ciphertext is a decrypt test's input, made by another implementation.
type ciphertext struct {
	name, alg, format string
	make              func(t *testing.T, w *world, pt []byte) []byte
	returnKey         bool
	needsOpenSSL      bool
}

func TestDecrypt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	pt := []byte("开标：投标报价 ¥1,234,567.00 — bid-opening secret")
	tjfocEnc := func(mode int) func(*testing.T, *world, []byte) []byte {
		return func(t *testing.T, w *world, pt []byte) []byte {
			ct, err := tjsm2.Encrypt(tjfocPub(t, w.creds["SM2-encrypt"].CertificatePEM), pt, nil, mode)
			if err != nil {
				t.Fatal(err)
			}
			return ct
		}
	}
	pkeyutl := func(opts ...string) func(*testing.T, *world, []byte) []byte {
		return func(t *testing.T, w *world, pt []byte) []byte {
			alg := "SM2"
			if len(opts) > 0 {
				alg = "RSA"
			}
			dir := files(t, map[string][]byte{"cert.pem": []byte(firstCertPEM(t, w.creds[alg+"-encrypt"].CertificatePEM)), "pt": pt})
			testkit.RunOpenSSL(t, dir, "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem")
			args := []string{"pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct"}
			for _, o := range opts {
				args = append(args, "-pkeyopt", o)
			}
			testkit.RunOpenSSL(t, dir, args...)
			return readFile(t, dir, "ct")
		}
	}
	gatewayEnvelope := func(alg string) func(*testing.T, *world, []byte) []byte {
		return func(t *testing.T, w *world, pt []byte) []byte {
			der, err := w.pc.Encrypt(context.Background(), w.userID, issuerOf[alg], pt)
			if err != nil {
				t.Fatal(err)
			}
			return der
		}
	}
	opensslEnvelope := func(opts ...string) func(*testing.T, *world, []byte) []byte {
		return func(t *testing.T, w *world, pt []byte) []byte {
			dir := files(t, map[string][]byte{"cert.pem": []byte(firstCertPEM(t, w.creds["RSA-encrypt"].CertificatePEM)), "pt": pt})
			args := []string{"cms", "-encrypt", "-binary", "-aes256", "-in", "pt", "-outform", "DER", "-out", "env.der", "-recip", "cert.pem"}
			for _, o := range opts {
				args = append(args, "-keyopt", o)
			}
			testkit.RunOpenSSL(t, dir, args...)
			return readFile(t, dir, "env.der")
		}
	}
	oaep := []string{"rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"}
	cases := []ciphertext{
		{"SM2 c1c3c2 by tjfoc", "SM2", portal.CipherC1C3C2, tjfocEnc(tjsm2.C1C3C2), false, false},
		{"SM2 c1c2c3 by tjfoc", "SM2", portal.CipherC1C2C3, tjfocEnc(tjsm2.C1C2C3), false, false},
		{"SM2 asn1 by tjfoc", "SM2", portal.CipherASN1, func(t *testing.T, w *world, pt []byte) []byte {
			ct, err := tjfocPub(t, w.creds["SM2-encrypt"].CertificatePEM).EncryptAsn1(pt, nil)
			if err != nil {
				t.Fatal(err)
			}
			return ct
		}, false, false},
		{"SM2 asn1 by openssl", "SM2", portal.CipherASN1, pkeyutl(), false, true},
		{"SM2 cms by POST /v1/encrypt", "SM2", portal.CipherCMS, gatewayEnvelope("SM2"), false, false},
		{"SM2 cms by POST /v1/encrypt, return_key", "SM2", portal.CipherCMS, gatewayEnvelope("SM2"), true, false},
		{"RSA rsa-oaep by openssl", "RSA", portal.CipherRSAOAEP, pkeyutl(oaep...), false, true},
		{"RSA rsa-pkcs1 by openssl", "RSA", portal.CipherRSAPKCS1, pkeyutl("rsa_padding_mode:pkcs1"), false, true},
		{"RSA cms by POST /v1/encrypt", "RSA", portal.CipherCMS, gatewayEnvelope("RSA"), false, false},
		{"RSA cms by openssl (PKCS#1 v1.5 key transport)", "RSA", portal.CipherCMS, opensslEnvelope(), false, true},
		{"RSA cms by openssl (OAEP key transport)", "RSA", portal.CipherCMS, opensslEnvelope(oaep...), false, true},
		{"RSA cms by openssl, return_key", "RSA", portal.CipherCMS, opensslEnvelope(), true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsOpenSSL {
				testkit.OpenSSL(t)
			}
			ct := tc.make(t, w, pt)
			cred := tc.alg + "-encrypt"
			_, final := w.flow(t, portal.SessionRequest{Kind: portal.KindDecrypt, Issuer: issuerOf[tc.alg], Alg: tc.alg,
				Ciphertext: ct, CiphertextFormat: tc.format, ReturnKey: tc.returnKey}, cred)
			res, err := final.Decrypt()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.returnKey {
				if !bytes.Equal(res.Plaintext, pt) {
					t.Fatalf("plaintext %q, want %q", res.Plaintext, pt)
				}
				return
			}
			if len(res.Plaintext) != 0 || len(res.ContentKey) == 0 {
				t.Fatalf("return_key result: plaintext %d bytes, key %d bytes", len(res.Plaintext), len(res.ContentKey))
			}
			got, oid := openWithKey(t, ct, res.ContentKey)
			if !bytes.Equal(got, pt) || oid != res.ContentAlg {
				t.Fatalf("the returned key opens %q (%s), want %q (%s)", got, oid, pt, res.ContentAlg)
			}
		})
	}
}
