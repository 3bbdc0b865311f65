package api_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"maps"
	"math/big"
	"net/http"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestP256DeviceRefusals: enrollment refuses device keys that are not SM2
// or P-256, or not keys at all, with their codes and without using the
// activation code; a P-256 device's requests signed the wrong way (raw
// r||s as WebCrypto gives it, the SM2 body hash, another key) and a
// replayed one are refused, and the right one goes through.
func TestP256DeviceRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testAdminToken)
	var u struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	e.must(e.admin("POST", "/v1/admin/users", map[string]string{"name": "dora"}), http.StatusCreated).decode(t, &u)
	spki := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := spki(key.Public())
	privDER, _ := x509.MarshalECPrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	offCurve := append([]byte(nil), pubDER...)
	offCurve[len(offCurve)-1] ^= 1
	compressed, _ := asn1.Marshal(struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}{Alg: rawAlg(t, pubDER), Key: asn1.BitString{Bytes: elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y), BitLength: 33 * 8}})
	enroll := func(pub string) *resp {
		return e.do("POST", "/v1/enroll", map[string]string{"activation_code": u.ActivationCode, "device_public_key": pub, "device_name": "Chrome", "pin": testPIN}, nil)
	}
	before := e.snapshot()
	for _, c := range []struct {
		name, pub string
		code      string
	}{
		{"P-384", spki(p384.Public()), protocol.CodeInvalidDeviceKey},
		{"Ed25519", spki(edPub), protocol.CodeInvalidDeviceKey},
		{"a private key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: privDER})), protocol.CodeMalformedPEM},
		{"a point off the curve", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: offCurve})), protocol.CodeMalformedPEM},
		{"a compressed point", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: compressed})), protocol.CodeMalformedPEM},
		{"not PEM", base64.StdEncoding.EncodeToString(pubDER), protocol.CodeMalformedPEM},
	} {
		if r := enroll(c.pub); r.status != http.StatusBadRequest || r.code != c.code {
			t.Errorf("%s: got %d %q, want 400 %q: %s", c.name, r.status, r.code, c.code, r.body)
		}
	}
	if !maps.Equal(before, e.snapshot()) {
		t.Fatal("a refused enrollment changed the store")
	}
	var enrolled protocol.Enrollment
	e.must(enroll(good), http.StatusCreated).decode(t, &enrolled)
	dev := enrolled.Device.ID

	// Requests of the P-256 device.
	req := func() *http.Request {
		return deviceRequest(t, "GET", e.url+"/v1/me/credentials", nil, dev, key, e.clock.Now())
	}
	raw := req()
	sig, _ := base64.StdEncoding.DecodeString(raw.Header.Get(protocol.HeaderSignature))
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		t.Fatal(err)
	}
	p1363 := append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...)
	raw.Header.Set(protocol.HeaderSignature, base64.StdEncoding.EncodeToString(p1363))

	sm3Hash := req()
	msg := protocol.CanonicalRequestHash("GET", "/v1/me/credentials", sm3Hash.Header.Get(protocol.HeaderTimestamp),
		sm3Hash.Header.Get(protocol.HeaderNonce), gmcrypto.SM3(nil))
	wrong, err := gmcrypto.SignDevice(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	sm3Hash.Header.Set(protocol.HeaderSignature, base64.StdEncoding.EncodeToString(wrong))

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sm2, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  *http.Request
	}{
		{"raw r||s", raw},
		{"SM3 body hash", sm3Hash},
		{"another P-256 key", deviceRequest(t, "GET", e.url+"/v1/me/credentials", nil, dev, other, e.clock.Now())},
		{"an SM2 key", deviceRequest(t, "GET", e.url+"/v1/me/credentials", nil, dev, sm2, e.clock.Now())},
	} {
		if r := e.send(c.req); r.status != http.StatusUnauthorized || r.code != protocol.CodeBadSignature {
			t.Errorf("%s: got %d %q, want 401 %s", c.name, r.status, r.code, protocol.CodeBadSignature)
		}
	}
	ok := req()
	e.must(e.send(ok), http.StatusOK)
	again := ok.Clone(ok.Context())
	e.refused(e.send(again), http.StatusUnauthorized, protocol.CodeReplayedNonce)
}

// rawAlg is the AlgorithmIdentifier of SubjectPublicKeyInfo der.
func rawAlg(t *testing.T, der []byte) asn1.RawValue {
	t.Helper()
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		t.Fatal(err)
	}
	return spki.Alg
}
