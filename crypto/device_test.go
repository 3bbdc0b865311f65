package crypto_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyDeviceP256Vector checks VerifyDevice against NIST's published
// ECDSA example "Example of ECDSA with P-256" (P256_SHA256.pdf): the
// SHA-256 of the message, the public key Q and the signature (r, s).
func TestVerifyDeviceP256Vector(t *testing.T) {
	msg := []byte("Example of ECDSA with P-256")
	if h := sha256.Sum256(msg); hex.EncodeToString(h[:]) != "a41a41a12a799548211c410c65d8133afde34d28bdd542e4b680cf2899c8a8c4" {
		t.Fatalf("SHA-256 of the example message: %x", h)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(),
		X: new(big.Int).SetBytes(mustHex(t, "B7E08AFDFE94BAD3F1DC8C734798BA1C62B3A0AD1E9EA2A38201CD0889BC7A19")),
		Y: new(big.Int).SetBytes(mustHex(t, "3603F747959DBF7A4BB226E41928729063ADC7AE43529E61B563BBC606CC5E09"))}
	r := new(big.Int).SetBytes(mustHex(t, "2B42F576D07F4165FF65D1F3B1500F81E44C316F1F0B3EF57325B69ACA46104F"))
	s := new(big.Int).SetBytes(mustHex(t, "DC42C2122D6392CD3E3A993A89502A8198C1886FE69D262C4B329BDB6B63FAF1"))
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	// The key travels as SPKI: parse it the way enrollment does.
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gmcrypto.ParseDevicePublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if alg, err := gmcrypto.DeviceKeyAlg(parsed); err != nil || alg != gmcrypto.AlgP256 {
		t.Fatalf("DeviceKeyAlg = %q, %v", alg, err)
	}
	if err := gmcrypto.VerifyDevice(parsed, msg, sig); err != nil {
		t.Fatalf("the published signature does not verify: %v", err)
	}
	// Negative: another message, a changed s, the SM2 path.
	if err := gmcrypto.VerifyDevice(parsed, []byte("Example of ECDSA with P-257"), sig); !errors.Is(err, gmcrypto.ErrVerification) {
		t.Errorf("another message: %v", err)
	}
	bad, _ := asn1.Marshal(struct{ R, S *big.Int }{r, new(big.Int).Add(s, big.NewInt(1))})
	if err := gmcrypto.VerifyDevice(parsed, msg, bad); !errors.Is(err, gmcrypto.ErrVerification) {
		t.Errorf("changed s: %v", err)
	}
}

// TestDeviceKeys: SM2 and P-256 device keys round-trip through SPKI,
// sign and verify with their own hash, and refuse each other's
// signatures; RSA and other curves are refused.
func TestDeviceKeys(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sm2Key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("POST\n/v1/scan\n1700000000\n00112233445566778899aabbccddeeff\n")
	sigs := map[gmcrypto.Alg][]byte{}
	pubs := map[gmcrypto.Alg]any{}
	for _, k := range []struct {
		alg gmcrypto.Alg
		key any
	}{{gmcrypto.AlgP256, p256}, {gmcrypto.AlgSM2, sm2Key}} {
		if alg, err := gmcrypto.DeviceKeyAlg(k.key); err != nil || alg != k.alg {
			t.Fatalf("DeviceKeyAlg(%T) = %q, %v", k.key, alg, err)
		}
		der, err := gmcrypto.MarshalDevicePublicKey(k.key)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		pub, err := gmcrypto.ParseDevicePublicKeyPEM(pemBytes)
		if err != nil {
			t.Fatalf("%s: %v", k.alg, err)
		}
		if der2, _ := gmcrypto.MarshalDevicePublicKey(pub); string(der2) != string(der) {
			t.Errorf("%s: SPKI does not round-trip", k.alg)
		}
		pubs[k.alg] = pub
	}
	var err2 error
	if sigs[gmcrypto.AlgP256], err2 = gmcrypto.SignDevice(p256, msg); err2 != nil {
		t.Fatal(err2)
	}
	if sigs[gmcrypto.AlgSM2], err2 = gmcrypto.SignDevice(sm2Key, msg); err2 != nil {
		t.Fatal(err2)
	}
	for alg, pub := range pubs {
		for salg, sig := range sigs {
			err := gmcrypto.VerifyDevice(pub, msg, sig)
			if (err == nil) != (alg == salg) {
				t.Errorf("key %s, signature by %s: %v", alg, salg, err)
			}
		}
		if err := gmcrypto.VerifyDevice(pub, append(msg, 'x'), sigs[alg]); !errors.Is(err, gmcrypto.ErrVerification) {
			t.Errorf("%s over another message: %v", alg, err)
		}
	}
	// The body hash follows the key.
	body := []byte(`{"payload":"x"}`)
	if h, _ := gmcrypto.DeviceBodyHash(p256, body); hex.EncodeToString(h) != hex.EncodeToString(sha256sum(body)) {
		t.Errorf("P-256 body hash %x", h)
	}
	if h, _ := gmcrypto.DeviceBodyHash(sm2Key, body); hex.EncodeToString(h) != hex.EncodeToString(gmcrypto.SM3(body)) {
		t.Errorf("SM2 body hash %x", h)
	}

	// Refused: RSA, P-384, garbage.
	rsaKey, err := gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	p384DER, _ := x509.MarshalPKIXPublicKey(p384.Public())
	for name, der := range map[string][]byte{"RSA": rsaDER, "P-384": p384DER} {
		if _, err := gmcrypto.ParseDevicePublicKey(der); !errors.Is(err, gmcrypto.ErrUnsupported) {
			t.Errorf("%s device key: %v", name, err)
		}
	}
	if _, err := gmcrypto.ParseDevicePublicKey([]byte{0x30, 0x03, 0x02, 0x01, 0x01}); !errors.Is(err, gmcrypto.ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := gmcrypto.SignDevice(rsaKey, msg); !errors.Is(err, gmcrypto.ErrUnsupported) {
		t.Errorf("SignDevice with RSA: %v", err)
	}
	if err := gmcrypto.VerifyDevice(rsaKey.Public(), msg, sigs[gmcrypto.AlgP256]); !errors.Is(err, gmcrypto.ErrVerification) {
		t.Errorf("VerifyDevice with RSA: %v", err)
	}
}

func sha256sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// TestSignDeviceP256OpenSSL: OpenSSL verifies what SignDevice signs with
// a P-256 key (ECDSA with SHA-256, DER), the way a WebCrypto key's
// signature is checked.
func TestSignDeviceP256OpenSSL(t *testing.T) {
	if !testkit.HaveOpenSSL(t) {
		t.Skip("no openssl")
	}
	o := newOpenSSL(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := gmcrypto.MarshalDevicePublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("GET\n/v1/me/credentials\n1700000000\n00112233445566778899aabbccddeeff\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	sig, err := gmcrypto.SignDevice(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	pubPath := o.file("p256.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	msgPath := o.file("msg", msg)
	sigPath := o.file("sig", sig)
	if out, stderr, ok := o.try("dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, msgPath); !ok {
		t.Fatalf("openssl dgst -verify: %s %s", out, stderr)
	}
	o.file("other", append(msg, '!'))
	if _, _, ok := o.try("dgst", "-sha256", "-verify", pubPath, "-signature", sigPath, o.path("other")); ok {
		t.Fatal("openssl verifies the signature over another message")
	}
}
