package api_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// portalWorld is an API with an audit log, an SM2 and an RSA internal
// issuer, an app, and an enrolled user holding a signing and an encryption
// credential at each issuer. The tests reach the user's private keys
// through a second ca.Service over the same store (as another node would),
// so that they can produce signatures the way a confirmed session does.
type portalWorld struct {
	*env
	appKey string
	appID  string
	userID string
	phone  *phone.Client
	// creds by "sm2-sign", "sm2-encrypt", "rsa-sign", "rsa-encrypt".
	creds map[string]*phone.Credential
}

func newPortalWorld(t *testing.T) *portalWorld {
	t.Helper()
	w := &portalWorld{
		env:   newEnvWith(t, envOpts{adminToken: testAdminToken, maxBody: testMaxBody, audit: true}),
		creds: map[string]*phone.Credential{},
	}
	sw := seed.Make(t, w.url, w.token, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "Verify SM2 Root"), seed.Generated("rsa", "RSA", "Verify RSA Root")},
		Apps:    []operator.AppRequest{{Name: "Bid portal", Origins: []string{"https://bid.example.cn"}}},
		Users: []seed.User{{Name: "王五", DeviceName: "phone", Credentials: []seed.Credential{
			seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2"), seed.Sign("rsa", "RSA"), seed.Encrypt("rsa", "RSA")}}},
		PIN:              testPIN,
		NewPhone:         w.env.phone,
		BeforeCredential: func() { w.clock.Advance(time.Second) }, // distinct creation times: "newest" is well defined
	})
	w.appKey, w.appID = sw.Apps[0].APIKey, sw.Apps[0].ID
	u := sw.Users[0]
	w.userID, w.phone = u.ID, u.Phone
	for k, c := range u.Credentials {
		w.creds[strings.Replace(k, "/", "-", 1)] = c
	}
	return w
}

// key unlocks a credential's private key and parses its certificate.
func (w *portalWorld) key(name string) (crypto.Signer, *smx509.Certificate) {
	w.t.Helper()
	c := w.creds[name]
	k, _, err := w.svc.UnlockKey(context.Background(), w.userID, c.ID, testPIN)
	if err != nil {
		w.t.Fatal(err)
	}
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(c.CertificatePEM))
	if err != nil {
		w.t.Fatal(err)
	}
	return k, certs[0]
}

// portal sends a request with the app key.
func (w *portalWorld) portal(method, path string, body any) *resp {
	w.t.Helper()
	return w.do(method, path, body, map[string]string{"Authorization": "Bearer " + w.appKey})
}

func (w *portalWorld) verify(req map[string]any) (*resp, protocol.VerifyResponse) {
	w.t.Helper()
	r := w.portal("POST", "/v1/verify", req)
	var v protocol.VerifyResponse
	if r.status == http.StatusOK {
		r.decode(w.t, &v)
	}
	return r, v
}

// outsider is a self-signed certificate of a CA the gateway does not know,
// for key.
func outsider(t *testing.T, key crypto.Signer) *smx509.Certificate {
	t.Helper()
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "nobody we know"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: smx509.KeyUsageDigitalSignature,
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

func pemOf(certs ...*smx509.Certificate) string {
	return string(gmcrypto.EncodeCertificatesPEM(certs...))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	w := newPortalWorld(t)
	data := []byte("投标文件 bid document v1")
	type signer struct {
		key  crypto.Signer
		cert *smx509.Certificate
	}
	s := map[string]signer{}
	for _, n := range []string{"sm2-sign", "rsa-sign", "sm2-encrypt"} {
		k, c := w.key(n)
		s[n] = signer{k, c}
	}
	sign := func(n string, msg []byte) []byte {
		sig, err := gmcrypto.Sign(s[n].key, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	digest := func(n string) []byte {
		d, err := gmcrypto.Digest(s[n].cert.PublicKey, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cms := func(n string, detached bool) []byte {
		der, err := gmcrypto.SignCMS(s[n].key, s[n].cert, nil, data, detached)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sm3 := gmcrypto.SM3(data)
	sha := sha256.Sum256(data)
	issuerPEM := func(id string) string {
		iss, err := w.svc.Issuer(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return iss.CertificatePEM
	}
	stranger, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	strangerCert := outsider(t, stranger)
	strangerSig, _ := gmcrypto.Sign(stranger, data, nil)
	tampered := cms("rsa-sign", false)
	tampered[len(tampered)-10] ^= 0xff // inside the RSA signature value

	tests := []struct {
		name    string
		req     map[string]any
		valid   bool
		reason  string
		issuer  string // issuer_id when valid
		ourUser bool   // credential and user set
		signer  string // the credential whose certificate the answer names ("" = none or stranger)
	}{
		{"sm2 raw over data", map[string]any{"data": data, "signature": sign("sm2-sign", data), "certificate_pem": s["sm2-sign"].cert}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 raw over digest", map[string]any{"digest": digest("sm2-sign"), "signature": sign("sm2-sign", data), "certificate_pem": s["sm2-sign"].cert}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 raw with chain", map[string]any{"data": data, "signature": sign("sm2-sign", data), "certificate_pem": pemOf(s["sm2-sign"].cert) + issuerPEM("sm2")}, true, "", "sm2", true, "sm2-sign"},
		{"rsa raw over data", map[string]any{"data": data, "signature": sign("rsa-sign", data), "certificate_pem": s["rsa-sign"].cert}, true, "", "rsa", true, "rsa-sign"},
		{"rsa raw over digest", map[string]any{"digest": sha[:], "signature": sign("rsa-sign", data), "certificate_pem": s["rsa-sign"].cert}, true, "", "rsa", true, "rsa-sign"},
		{"sm2 raw, other data", map[string]any{"data": []byte("other"), "signature": sign("sm2-sign", data), "certificate_pem": s["sm2-sign"].cert}, false, protocol.ReasonBadSignature, "", false, "sm2-sign"},
		{"rsa raw, other key's certificate", map[string]any{"data": data, "signature": sign("rsa-sign", data), "certificate_pem": pemOf(s["sm2-sign"].cert)}, false, protocol.ReasonBadSignature, "", false, "sm2-sign"},
		{"sm2 raw, digest of the bare data", map[string]any{"digest": sm3, "signature": sign("sm2-sign", data), "certificate_pem": s["sm2-sign"].cert}, false, protocol.ReasonBadSignature, "", false, "sm2-sign"},
		{"unknown CA", map[string]any{"data": data, "signature": strangerSig, "certificate_pem": pemOf(strangerCert)}, false, protocol.ReasonUntrusted, "", false, ""},
		{"encryption certificate", map[string]any{"data": data, "signature": sign("sm2-encrypt", data), "certificate_pem": s["sm2-encrypt"].cert}, false, protocol.ReasonKeyUsage, "", false, "sm2-encrypt"},
		{"sm2 cms attached", map[string]any{"cms": cms("sm2-sign", false)}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 cms attached, data matches", map[string]any{"cms": cms("sm2-sign", false), "data": data}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 cms detached with data", map[string]any{"cms": cms("sm2-sign", true), "data": data}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 cms detached with SM3 digest", map[string]any{"cms": cms("sm2-sign", true), "digest": sm3}, true, "", "sm2", true, "sm2-sign"},
		{"sm2 cms with the chain as certificate_pem", map[string]any{"cms": cms("sm2-sign", true), "data": data, "certificate_pem": issuerPEM("sm2")}, true, "", "sm2", true, "sm2-sign"},
		{"rsa cms attached", map[string]any{"cms": cms("rsa-sign", false)}, true, "", "rsa", true, "rsa-sign"},
		{"rsa cms detached with SHA-256 digest", map[string]any{"cms": cms("rsa-sign", true), "digest": sha[:]}, true, "", "rsa", true, "rsa-sign"},
		{"cms attached, other data", map[string]any{"cms": cms("sm2-sign", false), "data": []byte("other")}, false, protocol.ReasonBadSignature, "", false, ""},
		{"cms detached, other data", map[string]any{"cms": cms("rsa-sign", true), "data": []byte("other")}, false, protocol.ReasonBadSignature, "", false, ""},
		{"cms with a flipped signature bit", map[string]any{"cms": tampered}, false, protocol.ReasonBadSignature, "", false, ""},
		{"cms by an encryption key", map[string]any{"cms": cms("sm2-encrypt", false)}, false, protocol.ReasonKeyUsage, "", false, "sm2-encrypt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.req {
				if c, ok := v.(*smx509.Certificate); ok {
					tc.req[k] = pemOf(c)
				}
			}
			r, v := w.verify(tc.req)
			w.must(r, http.StatusOK)
			if v.Valid != tc.valid || v.Reason != tc.reason {
				t.Fatalf("valid %v reason %q (%s), want %v %q", v.Valid, v.Reason, v.Message, tc.valid, tc.reason)
			}
			if !tc.valid && v.Message == "" {
				t.Error("no message with the reason")
			}
			if tc.signer != "" {
				cert := s[tc.signer].cert
				if v.Signer == nil || v.Signer.Subject != cert.Subject.String() || v.Signer.Serial != w.creds[tc.signer].Serial ||
					!v.Signer.NotAfter.Equal(cert.NotAfter) || v.Signer.Issuer != cert.Issuer.String() || v.Signer.CertificatePEM != pemOf(cert) {
					t.Fatalf("signer %+v, want the certificate of %s (serial %s)", v.Signer, tc.signer, w.creds[tc.signer].Serial)
				}
			}
			if tc.valid {
				if v.Signer.IssuerID != tc.issuer || v.Signer.User != w.userID || v.Signer.Credential != w.creds[tc.signer].ID {
					t.Fatalf("signer %+v: want issuer %s, user %s, credential %s", v.Signer, tc.issuer, w.userID, w.creds[tc.signer].ID)
				}
			} else if v.Signer != nil && (v.Signer.User != "" || v.Signer.Credential != "" || v.Signer.IssuerID != "") {
				t.Fatalf("an invalid signature names a user: %+v", v.Signer)
			}
		})
	}

	t.Run("cms signing time and signer count", func(t *testing.T) {
		_, v := w.verify(map[string]any{"cms": cms("sm2-sign", false)})
		if v.Signers != 1 || time.Since(v.SigningTime) > time.Hour || v.SigningTime.IsZero() {
			t.Fatalf("signers %d, signing time %v", v.Signers, v.SigningTime)
		}
	})

	// State changes last: revocation, then the clock past notAfter.
	t.Run("revoked", func(t *testing.T) {
		sig := sign("rsa-sign", data)
		w.must(w.admin("POST", "/v1/admin/credentials/"+w.creds["rsa-sign"].ID+"/revoke", map[string]string{"reason": "keyCompromise"}), http.StatusOK)
		for _, req := range []map[string]any{
			{"data": data, "signature": sig, "certificate_pem": pemOf(s["rsa-sign"].cert)},
			{"cms": cms("rsa-sign", false)},
		} {
			_, v := w.verify(req)
			if v.Valid || v.Reason != protocol.ReasonRevoked {
				t.Fatalf("revoked: %+v", v)
			}
		}
	})
	t.Run("expired", func(t *testing.T) {
		sig := sign("sm2-sign", data)
		w.clock.Advance(time.Until(s["sm2-sign"].cert.NotAfter) + 24*time.Hour)
		_, v := w.verify(map[string]any{"data": data, "signature": sig, "certificate_pem": pemOf(s["sm2-sign"].cert)})
		if v.Valid || v.Reason != protocol.ReasonExpired {
			t.Fatalf("expired: %+v", v)
		}
	})
}

func TestVerifyRefusesBadInput(t *testing.T) {
	t.Parallel()
	w := newPortalWorld(t)
	k, cert := w.key("sm2-sign")
	data := []byte("data")
	sig, _ := gmcrypto.Sign(k, data, nil)
	good := pemOf(cert)
	env, err := gmcrypto.EnvelopeCMS(data, cert)
	if err != nil {
		t.Fatal(err)
	}
	detached, err := gmcrypto.SignCMS(k, cert, nil, data, true)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256Cert := outsider(t, p256)
	notCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}))
	before := w.snapshot()
	tests := []struct {
		name   string
		body   any
		hdr    map[string]string
		status int
		code   string
		field  string
	}{
		{"no app key", map[string]any{"data": data, "signature": sig, "certificate_pem": good}, map[string]string{"Authorization": ""}, 401, "missing_token", ""},
		{"admin token is not an app key", map[string]any{"data": data, "signature": sig, "certificate_pem": good}, map[string]string{"Authorization": "Bearer " + testAdminToken}, 401, "invalid_token", ""},
		{"neither signature nor cms", map[string]any{"data": data, "certificate_pem": good}, nil, 400, "invalid_request", "signature"},
		{"signature and cms", map[string]any{"data": data, "signature": sig, "cms": detached, "certificate_pem": good}, nil, 400, "invalid_request", "cms"},
		{"data and digest", map[string]any{"data": data, "digest": make([]byte, 32), "signature": sig, "certificate_pem": good}, nil, 400, "invalid_request", "digest"},
		{"raw without certificate", map[string]any{"data": data, "signature": sig}, nil, 400, "invalid_request", "certificate_pem"},
		{"raw without data", map[string]any{"signature": sig, "certificate_pem": good}, nil, 400, "invalid_request", "data"},
		{"raw digest of 20 bytes", map[string]any{"digest": make([]byte, 20), "signature": sig, "certificate_pem": good}, nil, 400, "invalid_request", "digest"},
		{"oversized signature", map[string]any{"data": data, "signature": make([]byte, 4096), "certificate_pem": good}, nil, 400, "invalid_request", "signature"},
		{"certificate not PEM", map[string]any{"data": data, "signature": sig, "certificate_pem": "hello"}, nil, 400, "malformed_pem", "certificate_pem"},
		{"certificate garbage DER", map[string]any{"data": data, "signature": sig, "certificate_pem": notCert}, nil, 400, "malformed_pem", "certificate_pem"},
		{"P-256 certificate", map[string]any{"data": data, "signature": sig, "certificate_pem": pemOf(p256Cert)}, nil, 400, "unsupported_algorithm", "certificate_pem"},
		{"cms garbage", map[string]any{"cms": []byte("not a cms"), "data": data}, nil, 400, "malformed_input", "cms"},
		{"cms enveloped", map[string]any{"cms": env}, nil, 400, "invalid_request", "cms"},
		{"cms detached without content", map[string]any{"cms": detached}, nil, 400, "invalid_request", "data"},
		{"cms with malformed extra certificates", map[string]any{"cms": detached, "data": data, "certificate_pem": "x"}, nil, 400, "malformed_pem", "certificate_pem"},
		{"unknown field", map[string]any{"data": data, "signature": sig, "certificate_pem": good, "signer": "me"}, nil, 400, "unknown_field", "signer"},
		{"signature not base64", rawBody(`{"data":"ZGF0YQ==","signature":"%%%","certificate_pem":"x"}`), nil, 400, "malformed_json", "signature"},
		{"not JSON", rawBody(`data=1`), nil, 400, "malformed_json", ""},
		{"too large", map[string]any{"data": make([]byte, testMaxBody), "signature": sig, "certificate_pem": good}, nil, 413, "body_too_large", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": "Bearer " + w.appKey}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			r := w.do("POST", "/v1/verify", tc.body, hdr)
			if r.status != tc.status || r.code != tc.code || r.field != tc.field {
				t.Fatalf("%d %s field %q, want %d %s field %q: %s", r.status, r.code, r.field, tc.status, tc.code, tc.field, r.body)
			}
		})
	}
	if after := w.snapshot(); !sameSnapshot(before, after) {
		t.Fatal("a refused verify changed the store")
	}
}

func sameSnapshot(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
