package portal_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	tjsm2 "github.com/tjfoc/gmsm/sm2"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// testNow is the verification time of the table tests.
var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type certOpts struct {
	notBefore, notAfter time.Time
	keyUsage            smx509.KeyUsage
	isCA                bool
	parent              *smx509.Certificate
	parentKey           crypto.Signer
	cn                  string
}

// makeCert issues a certificate for pub with smx509: self-signed by key
// unless opts.parent is set.
func makeCert(t *testing.T, key crypto.Signer, pub crypto.PublicKey, o certOpts) *smx509.Certificate {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = testNow.Add(-24 * time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.Add(365 * 24 * time.Hour)
	}
	if o.keyUsage == 0 {
		o.keyUsage = smx509.KeyUsageDigitalSignature
	}
	if o.cn == "" {
		o.cn = "张三"
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &smx509.Certificate{
		SerialNumber:          serial,
		Subject:               pkixName(o.cn),
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		KeyUsage:              o.keyUsage,
		BasicConstraintsValid: true,
		IsCA:                  o.isCA,
	}
	signer, parent := key, tmpl
	if o.parent != nil {
		signer, parent = o.parentKey, o.parent
	}
	alg, err := gmcrypto.KeyAlg(signer)
	if err != nil {
		t.Fatal(err)
	}
	if alg == gmcrypto.AlgSM2 {
		tmpl.SignatureAlgorithm = smx509.SM2WithSM3
	} else {
		tmpl.SignatureAlgorithm = smx509.SHA256WithRSA
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func genKey(t *testing.T, alg gmcrypto.Alg) crypto.Signer {
	t.Helper()
	k, err := gmcrypto.GenerateKey(alg, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// challenge builds challenge bytes as a gateway would: the members in
// the canonical order (session, app, origin, nonce, time), no white
// space; a member left out of fields is left out.
func challenge(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	var b []byte
	for _, k := range []string{"session", "app", "origin", "nonce", "time"} {
		v, ok := fields[k]
		if !ok {
			continue
		}
		kv, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), k...), '"', ':')
		b = append(b, kv...)
	}
	return append(b, '}')
}

func baseFields() map[string]any {
	return map[string]any{
		"session": "S1234567890abcde",
		"app":     "app-bids",
		"origin":  "https://bid.example.com",
		"nonce":   "n0nce-0123456789",
		"time":    testNow.Add(-10 * time.Second).Format(time.RFC3339Nano),
	}
}

func baseExpect() portal.LoginExpect {
	return portal.LoginExpect{
		Session: "S1234567890abcde",
		App:     "app-bids",
		Origin:  "https://bid.example.com",
		Now:     testNow,
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	c := make(map[string]any, len(m))
	for kk, vv := range m {
		c[kk] = vv
	}
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func pemOf(certs ...*smx509.Certificate) string {
	return string(gmcrypto.EncodeCertificatesPEM(certs...))
}

func TestVerifyLogin(t *testing.T) {
	t.Parallel()
	sm2Key := genKey(t, gmcrypto.AlgSM2)
	sm2Cert := makeCert(t, sm2Key, sm2Key.Public(), certOpts{})
	rsaKey := genKey(t, gmcrypto.AlgRSA)
	rsaCert := makeCert(t, rsaKey, rsaKey.Public(), certOpts{cn: "Li Si"})
	otherSM2 := genKey(t, gmcrypto.AlgSM2)

	// An independent SM2 signer: tjfoc/gmsm, whose Sign hashes
	// SM3(Z || msg) with the default id 1234567812345678 and encodes DER.
	tjKey, err := tjsm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tjPub := &ecdsa.PublicKey{Curve: sm2.P256(), X: tjKey.X, Y: tjKey.Y}
	tjCert := makeCert(t, sm2Key, tjPub, certOpts{parent: sm2Cert, parentKey: sm2Key, cn: "tjfoc user"})

	// A small chain: CA -> leaf, and an unrelated CA.
	caKey := genKey(t, gmcrypto.AlgSM2)
	caCert := makeCert(t, caKey, caKey.Public(), certOpts{isCA: true, keyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign, cn: "Test SM2 CA"})
	leafKey := genKey(t, gmcrypto.AlgSM2)
	leafCert := makeCert(t, leafKey, leafKey.Public(), certOpts{parent: caCert, parentKey: caKey, cn: "王五"})
	otherCAKey := genKey(t, gmcrypto.AlgSM2)
	otherCA := makeCert(t, otherCAKey, otherCAKey.Public(), certOpts{isCA: true, keyUsage: smx509.KeyUsageCertSign, cn: "Other CA"})

	expiredCert := makeCert(t, sm2Key, sm2Key.Public(), certOpts{notBefore: testNow.Add(-48 * time.Hour), notAfter: testNow.Add(-time.Hour)})
	encOnlyCert := makeCert(t, sm2Key, sm2Key.Public(), certOpts{keyUsage: smx509.KeyUsageKeyEncipherment})

	signGM := func(k crypto.Signer) func([]byte) []byte {
		return func(msg []byte) []byte {
			sig, err := gmcrypto.Sign(k, msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
	}
	signTjfoc := func(msg []byte) []byte {
		sig, err := tjKey.Sign(rand.Reader, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	signRSA := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey.(*rsa.PrivateKey), crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	signRSAPSS := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		sig, err := rsa.SignPSS(rand.Reader, rsaKey.(*rsa.PrivateKey), crypto.SHA256, h[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	signOtherUID := func(msg []byte) []byte {
		sig, err := gmcrypto.Sign(sm2Key, msg, &gmcrypto.SignOpts{UID: []byte("another-user-id")})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}

	tests := []struct {
		name    string
		certPEM string
		fields  map[string]any
		sign    func([]byte) []byte
		mutate  func(chal, sig []byte) ([]byte, []byte) // after signing
		expect  func(e *portal.LoginExpect)
		wantErr error // nil = valid
		wantCN  string
	}{
		{name: "SM2 gmcrypto signer", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key), wantCN: "张三"},
		{name: "SM2 tjfoc signer", certPEM: pemOf(tjCert, sm2Cert), sign: signTjfoc, wantCN: "tjfoc user"},
		{name: "RSA PKCS#1 v1.5 SHA-256", certPEM: pemOf(rsaCert), sign: signRSA, wantCN: "Li Si"},
		{name: "time as Unix seconds refused (not the canonical form)", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "time", testNow.Add(-time.Minute).Unix()), wantErr: portal.ErrLoginChallenge},
		{name: "app and origin not checked when not expected", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(with(baseFields(), "app", "x"), "origin", "https://evil.example"),
			expect: func(e *portal.LoginExpect) { e.App, e.Origin = "", "" }, wantCN: "张三"},
		{name: "chain to the given root", certPEM: pemOf(leafCert), sign: signGM(leafKey),
			expect: func(e *portal.LoginExpect) { e.Roots = []*smx509.Certificate{caCert} }, wantCN: "王五"},
		{name: "chain with the CA in certificate_pem", certPEM: pemOf(leafCert, caCert), sign: signGM(leafKey),
			expect: func(e *portal.LoginExpect) { e.Roots = []*smx509.Certificate{caCert} }, wantCN: "王五"},

		{name: "RSA-PSS signature refused", certPEM: pemOf(rsaCert), sign: signRSAPSS, wantErr: portal.ErrLoginSignature},
		{name: "SM2 with another signer id refused", certPEM: pemOf(sm2Cert), sign: signOtherUID, wantErr: portal.ErrLoginSignature},
		{name: "wrong key", certPEM: pemOf(sm2Cert), sign: signGM(otherSM2), wantErr: portal.ErrLoginSignature},
		{name: "tampered origin after signing", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			mutate: func(c, s []byte) ([]byte, []byte) {
				return []byte(strings.Replace(string(c), "bid.example.com", "bid.example.org", 1)), s
			}, wantErr: portal.ErrLoginSignature},
		{name: "re-serialised challenge is not the signed bytes", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			mutate:  func(c, s []byte) ([]byte, []byte) { return []byte(strings.Replace(string(c), ",", ", ", 1)), s },
			wantErr: portal.ErrLoginSignature},
		{name: "flipped signature bit", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			mutate: func(c, s []byte) ([]byte, []byte) {
				s = append([]byte(nil), s...)
				s[len(s)-1] ^= 1
				return c, s
			}, wantErr: portal.ErrLoginSignature},
		{name: "empty signature", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			mutate: func(c, s []byte) ([]byte, []byte) { return c, nil }, wantErr: portal.ErrLoginSignature},
		{name: "another session", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "session", "Sother0000000000"), wantErr: portal.ErrLoginChallenge},
		{name: "another app", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "app", "app-other"), wantErr: portal.ErrLoginChallenge},
		{name: "wrong origin", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "origin", "https://evil.example"), wantErr: portal.ErrLoginChallenge},
		{name: "missing nonce", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "nonce", nil), wantErr: portal.ErrLoginChallenge},
		{name: "challenge not JSON", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			mutate: func(c, s []byte) ([]byte, []byte) {
				c = []byte("session=S1234567890abcde")
				sig, _ := gmcrypto.Sign(sm2Key, c, nil)
				return c, sig
			}, wantErr: portal.ErrLoginChallenge},
		{name: "old challenge", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "time", testNow.Add(-6*time.Minute).Format(time.RFC3339)), wantErr: portal.ErrLoginExpired},
		{name: "old for a shorter MaxAge", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "time", testNow.Add(-2*time.Minute).Format(time.RFC3339)),
			expect: func(e *portal.LoginExpect) { e.MaxAge = time.Minute }, wantErr: portal.ErrLoginExpired},
		{name: "challenge from the future", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			fields: with(baseFields(), "time", testNow.Add(10*time.Minute).Format(time.RFC3339)), wantErr: portal.ErrLoginExpired},
		{name: "expired certificate", certPEM: pemOf(expiredCert), sign: signGM(sm2Key), wantErr: portal.ErrLoginCertificate},
		{name: "encryption-only certificate", certPEM: pemOf(encOnlyCert), sign: signGM(sm2Key), wantErr: portal.ErrLoginCertificate},
		{name: "chain to another root", certPEM: pemOf(leafCert), sign: signGM(leafKey),
			expect: func(e *portal.LoginExpect) { e.Roots = []*smx509.Certificate{otherCA} }, wantErr: portal.ErrLoginCertificate},
		{name: "no certificate", certPEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", sign: signGM(sm2Key),
			wantErr: portal.ErrLoginCertificate},
		{name: "no session expected", certPEM: pemOf(sm2Cert), sign: signGM(sm2Key),
			expect: func(e *portal.LoginExpect) { e.Session = "" }, wantErr: portal.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := tc.fields
			if fields == nil {
				fields = baseFields()
			}
			chal := challenge(t, fields)
			sig := tc.sign(chal)
			if tc.mutate != nil {
				chal, sig = tc.mutate(chal, sig)
			}
			res := &portal.LoginResult{
				User: "u-1", Credential: "c-1", CertificatePEM: tc.certPEM,
				Challenge: chal, Signature: sig,
			}
			exp := baseExpect()
			if tc.expect != nil {
				tc.expect(&exp)
			}
			v, err := portal.VerifyLogin(res, exp)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr != portal.ErrInvalidArgument && !errors.Is(err, portal.ErrLoginInvalid) {
					t.Fatalf("err = %v does not wrap ErrLoginInvalid", err)
				}
				if v != nil {
					t.Fatal("a result came back with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyLogin: %v", err)
			}
			if v.Certificate.Subject.CommonName != tc.wantCN {
				t.Errorf("CN = %q, want %q", v.Certificate.Subject.CommonName, tc.wantCN)
			}
			if v.Challenge.Session != exp.Session || v.User != "u-1" || v.Credential != "c-1" {
				t.Errorf("verified login = %+v", v)
			}
		})
	}
}

// TestLoginResultJSON decodes a login result in each form a gateway could
// use for the challenge bytes and checks that the signed bytes survive.
func TestLoginResultJSON(t *testing.T) {
	t.Parallel()
	key := genKey(t, gmcrypto.AlgSM2)
	cert := makeCert(t, key, key.Public(), certOpts{})
	chal := challenge(t, baseFields())
	sig, err := gmcrypto.Sign(key, chal, nil)
	if err != nil {
		t.Fatal(err)
	}
	b64, _ := json.Marshal(chal) // []byte: standard base64
	str, _ := json.Marshal(string(chal))
	tests := []struct {
		name, challengeJSON string
	}{
		{"base64", string(b64)},
		{"JSON text in a string", string(str)},
		{"embedded object", string(chal)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sigJSON, _ := json.Marshal(sig)
			certJSON, _ := json.Marshal(pemOf(cert))
			doc := `{"state":"completed","seq":3,"type":"state","at":"2026-03-01T09:59:55Z","result":{"user":"u-1","credential":"c-1","certificate_pem":` +
				string(certJSON) + `,"challenge":` + tc.challengeJSON + `,"signature":` + string(sigJSON) + `}}`
			var ev portal.Event
			if err := json.Unmarshal([]byte(doc), &ev); err != nil {
				t.Fatal(err)
			}
			res, err := ev.Login()
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Challenge) != string(chal) {
				t.Fatalf("challenge = %q, want %q", res.Challenge, chal)
			}
			if _, err := portal.VerifyLogin(res, baseExpect()); err != nil {
				t.Fatal(err)
			}
		})
	}
	var ev portal.Event
	_ = json.Unmarshal([]byte(`{"seq":2,"type":"state","state":"rejected","at":"2026-03-01T09:59:55Z"}`), &ev)
	if _, err := ev.Login(); !errors.Is(err, portal.ErrNoResult) {
		t.Fatalf("Login of a rejected event: %v, want ErrNoResult", err)
	}
}

// TestLoginVerifyWithOpenSSL runs the exact OpenSSL commands that
// docs/integration.md gives integrators, on a signature made the way the
// gateway makes it, so that the guide stays true.
func TestLoginVerifyWithOpenSSL(t *testing.T) {
	t.Parallel()
	testkit.OpenSSL(t)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			key := genKey(t, alg)
			chal := challenge(t, baseFields())
			sig, err := gmcrypto.Sign(key, chal, nil)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := gmcrypto.MarshalPublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			write := func(name string, b []byte) {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("pub.pem", pub)
			write("challenge.json", chal)
			write("signature.der", sig)
			var args []string
			if alg == gmcrypto.AlgSM2 {
				args = strings.Fields("pkeyutl -verify -pubin -inkey pub.pem -rawin -in challenge.json -sigfile signature.der -digest sm3 -pkeyopt distid:1234567812345678")
			} else {
				args = strings.Fields("dgst -sha256 -verify pub.pem -signature signature.der challenge.json")
			}
			testkit.RunOpenSSL(t, dir, args...)
			// And a wrong challenge must fail the same command.
			write("challenge.json", append(chal, ' '))
			if _, err := testkit.TryOpenSSL(t, dir, args...); err == nil {
				t.Fatal("openssl verified a changed challenge")
			}
		})
	}
}

// TestVerifyLoginGatewayChallenge checks that what the gateway builds
// (qrlogin's canonical challenge and LoginResult JSON) is what VerifyLogin
// accepts, so that the portal side and the gateway side cannot drift.
func TestVerifyLoginGatewayChallenge(t *testing.T) {
	t.Parallel()
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgSM2, gmcrypto.AlgRSA} {
		t.Run(string(alg), func(t *testing.T) {
			key := genKey(t, alg)
			cert := makeCert(t, key, key.Public(), certOpts{})
			ch, err := qrlogin.NewChallenge("S1234567890abcde", "app-bids", "https://bid.example.com", testNow.Add(-30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			sig, err := gmcrypto.Sign(key, ch.Bytes(), nil)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := json.Marshal(protocol.LoginResult{
				User: "u-1", Credential: "c-1", CertificatePEM: pemOf(cert), Challenge: ch.Bytes(), Signature: sig,
			})
			if err != nil {
				t.Fatal(err)
			}
			var res portal.LoginResult
			if err := json.Unmarshal(wire, &res); err != nil {
				t.Fatal(err)
			}
			v, err := portal.VerifyLogin(&res, baseExpect())
			if err != nil {
				t.Fatal(err)
			}
			if v.Challenge.Nonce != ch.Nonce || !v.Challenge.Time.Equal(ch.Time.Truncate(time.Second)) {
				t.Fatalf("parsed %+v, gateway built %+v", v.Challenge, ch)
			}
		})
	}
}
