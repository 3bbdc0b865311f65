package crypto_test

import (
	"crypto/ecdsa"
	"errors"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// FuzzParseDevicePublicKeyPEM: whatever an enrolling phone sends as its
// device key either parses into an SM2 or P-256 public key that
// round-trips through MarshalDevicePublicKey, or is refused as malformed
// or unsupported, without a panic. Seeds in
// testdata/fuzz/FuzzParseDevicePublicKeyPEM (SM2, P-256, P-384, RSA,
// a private key, a compressed point).
func FuzzParseDevicePublicKeyPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		pub, err := gmcrypto.ParseDevicePublicKeyPEM(in)
		if err != nil {
			if pub != nil {
				t.Fatal("key returned with an error")
			}
			if !errors.Is(err, gmcrypto.ErrMalformed) && !errors.Is(err, gmcrypto.ErrUnsupported) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		alg, err := gmcrypto.DeviceKeyAlg(pub)
		if err != nil || (alg != gmcrypto.AlgSM2 && alg != gmcrypto.AlgP256) {
			t.Fatalf("parsed a %T of alg %q: %v", pub, alg, err)
		}
		der, err := gmcrypto.MarshalDevicePublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		again, err := gmcrypto.ParseDevicePublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		if !again.(*ecdsa.PublicKey).Equal(pub) {
			t.Fatal("round trip changed the key")
		}
	})
}
