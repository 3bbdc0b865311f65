package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// The device key memo gives what a fresh parse gives (the key, its
// algorithm, its PEM), one shared key per DER, another key for other
// bytes, and never remembers bytes that do not parse.
func TestDeviceKeyMemo(t *testing.T) {
	smKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pub  *ecdsa.PublicKey
	}{{"SM2", &smKey.PublicKey}, {"P-256", &pKey.PublicKey}} {
		der, err := smx509.MarshalPKIXPublicKey(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		first, err := parseDeviceKeyMemo(der)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		again, err := parseDeviceKeyMemo(append([]byte(nil), der...))
		if err != nil {
			t.Fatal(err)
		}
		if again.pub != first.pub {
			t.Errorf("%s: the same DER parsed twice", c.name)
		}
		fresh, err := gmcrypto.ParseDevicePublicKey(der)
		if err != nil {
			t.Fatal(err)
		}
		alg, _ := gmcrypto.DeviceKeyAlg(fresh)
		if !c.pub.Equal(first.pub) || !c.pub.Equal(fresh) || first.alg != alg {
			t.Errorf("%s: memo gives %v (%s), a fresh parse %v (%s)", c.name, first.pub, first.alg, fresh, alg)
		}
		if b, _ := pem.Decode([]byte(first.pem)); b == nil || b.Type != "PUBLIC KEY" || string(b.Bytes) != string(der) {
			t.Errorf("%s: PEM %q does not hold the DER", c.name, first.pem)
		}
	}
	smDER, _ := smx509.MarshalPKIXPublicKey(&smKey.PublicKey)
	pDER, _ := smx509.MarshalPKIXPublicKey(&pKey.PublicKey)
	a, _ := parseDeviceKeyMemo(smDER)
	b, _ := parseDeviceKeyMemo(pDER)
	if a.pub == b.pub || a.alg == b.alg {
		t.Fatal("two keys share a memo entry")
	}
	bad := append([]byte(nil), smDER...)
	bad[len(bad)-1] ^= 0xff // off the curve
	for range 2 {
		if _, err := parseDeviceKeyMemo(bad); err == nil {
			t.Fatal("a key off the curve parsed")
		}
	}
}
