package session_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// opKey makes a key of alg with a self-signed certificate (issuer chain
// empty): enough for Perform, which checks no chain.
func opKey(t *testing.T, alg gmcrypto.Alg) session.OpKey {
	t.Helper()
	key, err := gmcrypto.GenerateKey(alg, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "perform test " + string(alg)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     smx509.KeyUsageDigitalSignature | smx509.KeyUsageKeyEncipherment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return session.OpKey{CredentialID: "cred_1", UserID: "usr_1", Key: key, Certificate: cert}
}

func opSession(kind session.Kind, r session.Request) *session.Session {
	return &session.Session{ID: "AAAAAAAAAAAAAAAA", Kind: kind, AppID: "app_x", Origin: "https://bid.example.cn", Request: r}
}

func TestPerformLogin(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			k := opKey(t, alg)
			s := opSession(session.KindLogin, session.Request{})
			out, err := session.Perform(s, k, now)
			if err != nil {
				t.Fatal(err)
			}
			var res protocol.LoginResult
			if err := json.Unmarshal(out.Result, &res); err != nil {
				t.Fatal(err)
			}
			ch, err := qrlogin.ParseChallenge(res.Challenge)
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Check(s.ID, s.AppID, s.Origin, now, time.Minute); err != nil {
				t.Fatal(err)
			}
			if res.User != "usr_1" || res.Credential != "cred_1" || !bytes.Equal(out.Digest, gmcrypto.SM3(res.Challenge)) {
				t.Fatalf("result %+v digest %x", res, out.Digest)
			}
			certs, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
			if err != nil || len(certs) != 1 || !bytes.Equal(certs[0].Raw, k.Certificate.Raw) {
				t.Fatalf("certificate_pem: %v", err)
			}
			// Verified through the libraries directly.
			switch pub := k.Certificate.PublicKey.(type) {
			case *rsa.PublicKey:
				h := sha256.Sum256(res.Challenge)
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], res.Signature); err != nil {
					t.Fatal(err)
				}
			case *ecdsa.PublicKey:
				if !sm2.VerifyASN1WithSM2(pub, nil, res.Challenge, res.Signature) {
					t.Fatal("SM2 signature does not verify")
				}
			default:
				t.Fatalf("key %T", pub)
			}
		})
	}
}

func TestPerformSign(t *testing.T) {
	data := []byte("投标文件")
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		k := opKey(t, alg)
		pub := k.Certificate.PublicKey
		rawDigest, err := gmcrypto.Digest(pub, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		contentDigest := gmcrypto.SM3(data)
		if alg == gmcrypto.AlgRSA {
			h := sha256.Sum256(data)
			contentDigest = h[:]
		}
		for _, tc := range []struct {
			format string
			docs   []session.Document
			check  func(d protocol.SignedDocument) error
		}{
			{session.FormatRaw, []session.Document{{Name: "data", Data: data}, {Name: "digest", Digest: rawDigest}},
				func(d protocol.SignedDocument) error { return gmcrypto.Verify(pub, data, d.Signature, nil) }},
			{session.FormatCMSDetached, []session.Document{{Name: "data", Data: data}, {Name: "digest", Digest: contentDigest}},
				func(d protocol.SignedDocument) error { _, err := gmcrypto.VerifyCMS(d.CMS, data); return err }},
			{session.FormatCMSAttached, []session.Document{{Name: "data", Data: data}},
				func(d protocol.SignedDocument) error {
					s, err := gmcrypto.VerifyCMS(d.CMS, nil)
					if err == nil && !bytes.Equal(s.Content, data) {
						err = errors.New("attached content differs")
					}
					return err
				}},
		} {
			t.Run(string(alg)+"/"+tc.format, func(t *testing.T) {
				s := opSession(session.KindSign, session.Request{Format: tc.format, Documents: tc.docs})
				out, err := session.Perform(s, k, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				var res protocol.SignResult
				if err := json.Unmarshal(out.Result, &res); err != nil {
					t.Fatal(err)
				}
				if len(res.Documents) != len(tc.docs) {
					t.Fatalf("%d documents", len(res.Documents))
				}
				for i, d := range res.Documents {
					if d.Name != tc.docs[i].Name {
						t.Fatalf("document %d is %q", i, d.Name)
					}
					if err := tc.check(d); err != nil {
						t.Fatalf("%s: %v", d.Name, err)
					}
				}
				if !bytes.Equal(out.Digest, session.RequestDigest(s)) {
					t.Fatal("output digest is not the request digest")
				}
			})
		}
	}
}

func TestPerformDecrypt(t *testing.T) {
	plain := []byte("开标 plaintext")
	for _, tc := range []struct {
		alg     gmcrypto.Alg
		formats []string
	}{
		{gmcrypto.AlgSM2, []string{"c1c3c2", "c1c2c3", "asn1", "cms"}},
		{gmcrypto.AlgRSA, []string{"rsa-oaep", "rsa-pkcs1", "cms"}},
	} {
		k := opKey(t, tc.alg)
		for _, f := range tc.formats {
			t.Run(string(tc.alg)+"/"+f, func(t *testing.T) {
				var ct []byte
				var err error
				if f == "cms" {
					ct, err = gmcrypto.EnvelopeCMS(plain, k.Certificate)
				} else {
					ct, err = gmcrypto.Encrypt(k.Certificate.PublicKey, plain, gmcrypto.CipherFormat(f))
				}
				if err != nil {
					t.Fatal(err)
				}
				s := opSession(session.KindDecrypt, session.Request{Ciphertext: ct, CiphertextFormat: f})
				out, err := session.Perform(s, k, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if want := `{"plaintext":"` + b64(plain) + `"}`; string(out.Result) != want {
					t.Fatalf("result %s, want %s", out.Result, want)
				}
				if !bytes.Equal(out.Digest, gmcrypto.SM3(ct)) {
					t.Fatal("digest")
				}
				if f == "cms" {
					s.Request.ReturnKey = true
					out, err := session.Perform(s, k, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					var res protocol.DecryptResult
					if err := json.Unmarshal(out.Result, &res); err != nil {
						t.Fatal(err)
					}
					if res.Plaintext != nil || len(res.ContentKey) == 0 || !strings.HasPrefix(res.ContentAlg, "1.2.156.10197.1.104") && !strings.HasPrefix(res.ContentAlg, "2.16.840.1.101.3.4.1") {
						t.Fatalf("return_key result %s", out.Result)
					}
				}
				// A flipped bit: a final failure that tells nothing. A CMS
				// envelope's content is CBC without a MAC (a flipped content
				// bit yields valid padding about once in 256), so there the bit
				// is flipped in the wrapped content key, which SM2's C3 and
				// RSA-OAEP do check.
				bad := bytes.Clone(ct)
				if f == "cms" {
					bad[wrappedKeyOffset(t, ct)] ^= 1
				} else {
					bad[len(bad)-1] ^= 1
				}
				s = opSession(session.KindDecrypt, session.Request{Ciphertext: bad, CiphertextFormat: f})
				_, err = session.Perform(s, k, time.Now())
				var oe *session.OpError
				if !errors.As(err, &oe) || oe.Reason != session.ReasonDecryptionFailed || !errors.Is(err, session.ErrOperationFailed) ||
					!errors.Is(err, gmcrypto.ErrDecryption) || err.Error() != "session: operation failed: decryption_failed: crypto: decryption failed" {
					t.Fatalf("got %v", err)
				}
			})
		}
	}
}

// wrappedKeyOffset is the offset in a CMS EnvelopedData of the middle byte
// of its first recipient's encrypted key.
func wrappedKeyOffset(t *testing.T, der []byte) int {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	var env struct {
		Version    int
		Recipients []asn1.RawValue `asn1:"set"`
		Rest       asn1.RawValue
	}
	var ktri struct {
		Version      int
		RID          asn1.RawValue
		Alg          asn1.RawValue
		EncryptedKey []byte
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &env); err != nil || len(env.Recipients) == 0 {
		t.Fatalf("enveloped data: %v", err)
	}
	if _, err := asn1.Unmarshal(env.Recipients[0].FullBytes, &ktri); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(der, ktri.EncryptedKey)
	if i < 0 || len(ktri.EncryptedKey) < 32 {
		t.Fatalf("encrypted key of %d bytes not found", len(ktri.EncryptedKey))
	}
	return i + len(ktri.EncryptedKey)/2
}

func b64(b []byte) string {
	j, _ := json.Marshal(b)
	return strings.Trim(string(j), `"`)
}

func TestPerformRefusals(t *testing.T) {
	sm2Key, rsaKey := opKey(t, gmcrypto.AlgSM2), opKey(t, gmcrypto.AlgRSA)
	ct, err := gmcrypto.Encrypt(sm2Key.Certificate.PublicKey, []byte("x"), gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		s      *session.Session
		k      session.OpKey
		reason string // "" means ErrInvalidArgument
	}{
		{"nil session", nil, sm2Key, ""},
		{"no key", opSession(session.KindLogin, session.Request{}), session.OpKey{Certificate: sm2Key.Certificate}, ""},
		{"RSA key for an SM2 request", opSession(session.KindLogin, session.Request{Alg: "SM2"}), rsaKey, session.ReasonKeyMismatch},
		{"RSA key for an SM2 ciphertext", opSession(session.KindDecrypt, session.Request{Ciphertext: ct, CiphertextFormat: "c1c3c2"}), rsaKey, session.ReasonKeyMismatch},
		{"certificate of another key", opSession(session.KindSign, session.Request{Format: session.FormatCMSDetached,
			Documents: []session.Document{{Name: "a", Data: []byte("x")}}}), session.OpKey{Key: sm2Key.Key, Certificate: opKey(t, gmcrypto.AlgSM2).Certificate}, session.ReasonKeyMismatch},
		{"attached digest", opSession(session.KindSign, session.Request{Format: session.FormatCMSAttached,
			Documents: []session.Document{{Name: "a", Digest: make([]byte, 32)}}}), sm2Key, session.ReasonInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := session.Perform(tc.s, tc.k, time.Now())
			var oe *session.OpError
			switch {
			case tc.reason == "" && !errors.Is(err, session.ErrInvalidArgument):
				t.Fatalf("got %v, want ErrInvalidArgument", err)
			case tc.reason != "" && (!errors.As(err, &oe) || oe.Reason != tc.reason):
				t.Fatalf("got %v, want reason %s", err, tc.reason)
			}
		})
	}
}

func TestCredentialFits(t *testing.T) {
	sign := func(r session.Request) *session.Session { return opSession(session.KindSign, r) }
	dec := func(f string) *session.Session {
		return opSession(session.KindDecrypt, session.Request{CiphertextFormat: f})
	}
	for _, tc := range []struct {
		s                    *session.Session
		issuer, alg, purpose string
		want                 bool
	}{
		{sign(session.Request{}), "sm2", "SM2", "sign", true},
		{sign(session.Request{}), "rsa", "RSA", "sign", true},
		{sign(session.Request{}), "sm2", "SM2", "encrypt", false},
		{sign(session.Request{Issuer: "sm2"}), "other", "SM2", "sign", false},
		{sign(session.Request{Alg: "RSA"}), "sm2", "SM2", "sign", false},
		{opSession(session.KindLogin, session.Request{}), "x", "RSA", "sign", true},
		{dec("c1c3c2"), "x", "SM2", "encrypt", true},
		{dec("asn1"), "x", "RSA", "encrypt", false},
		{dec("rsa-oaep"), "x", "RSA", "encrypt", true},
		{dec("rsa-pkcs1"), "x", "SM2", "encrypt", false},
		{dec("cms"), "x", "SM2", "encrypt", true},
		{dec("cms"), "x", "RSA", "encrypt", true},
		{dec("cms"), "x", "RSA", "sign", false},
	} {
		if got := session.CredentialFits(tc.s, tc.issuer, tc.alg, tc.purpose); got != tc.want {
			t.Errorf("%s %+v with %s/%s/%s: %v, want %v", tc.s.Kind, tc.s.Request, tc.issuer, tc.alg, tc.purpose, got, tc.want)
		}
	}
}

func TestRequestDigest(t *testing.T) {
	a, b := []byte("a"), bytes.Repeat([]byte{7}, 32)
	one := opSession(session.KindSign, session.Request{Documents: []session.Document{{Name: "a", Data: a}}})
	given := opSession(session.KindSign, session.Request{Documents: []session.Document{{Name: "b", Digest: b}}})
	two := opSession(session.KindSign, session.Request{Documents: []session.Document{{Name: "a", Data: a}, {Name: "b", Digest: b}}})
	dec := opSession(session.KindDecrypt, session.Request{Ciphertext: a, CiphertextFormat: "asn1"})
	for _, tc := range []struct {
		s    *session.Session
		want []byte
	}{
		{one, gmcrypto.SM3(a)},
		{given, b},
		{two, gmcrypto.SM3(append(gmcrypto.SM3(a), b...))},
		{dec, gmcrypto.SM3(a)},
		{opSession(session.KindLogin, session.Request{}), nil},
	} {
		if got := session.RequestDigest(tc.s); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, want %x", tc.s.Kind, got, tc.want)
		}
	}
	if err := session.CheckAlg(&session.Request{Alg: "RSA", CiphertextFormat: "c1c2c3"}); !errors.Is(err, session.ErrInvalidRequest) {
		t.Fatalf("CheckAlg: %v", err)
	}
	if err := session.CheckAlg(&session.Request{Alg: "RSA", CiphertextFormat: "cms"}); err != nil {
		t.Fatalf("CheckAlg: %v", err)
	}
}
