package session_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Ciphertexts of the right shape (Create refuses others with
// ErrBadCiphertext) and a chosen size, for the tests that only need the
// session to carry one.

var (
	shapeKeyOnce sync.Once
	shapeKey     any
)

func shapeSM2Public(t testing.TB) any {
	shapeKeyOnce.Do(func() {
		k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			panic(err)
		}
		shapeKey = k.Public()
	})
	return shapeKey
}

// shapedCT returns a ciphertext in format ("asn1", "c1c3c2", "c1c2c3",
// "cms", "rsa-oaep", "rsa-pkcs1") of exactly n bytes (for "cms", of n
// bytes or up to 15 fewer; for RSA, n must be a modulus size).
func shapedCT(t testing.TB, format string, n int) []byte {
	t.Helper()
	switch format {
	case "asn1", "c1c3c2", "c1c2c3":
		overhead := 65 + 32
		if format == "asn1" {
			overhead = 2 + 4 + 2*(2+33) + 2 + 32 + 4
		}
		for m := n - overhead + 16; m > 0 && m > n-overhead-16; m-- {
			for range 8 {
				ct, err := gmcrypto.Encrypt(shapeSM2Public(t), make([]byte, m), gmcrypto.CipherFormat(format))
				if err != nil {
					t.Fatal(err)
				}
				if len(ct) == n {
					return ct
				}
			}
		}
		t.Fatalf("no %s ciphertext of %d bytes", format, n)
	case "rsa-oaep", "rsa-pkcs1":
		ct := make([]byte, n)
		ct[0] = 1
		return ct
	case "cms":
		return shapedEnvelope(t, n)
	}
	t.Fatalf("shapedCT: format %q", format)
	return nil
}

// shapedEnvelope is an EnvelopedData (GM/T 0010 OIDs) of at most n bytes
// that no key opens: its shape is right, its content random zeros.
func shapedEnvelope(t testing.TB, n int) []byte {
	t.Helper()
	type issuerSerial struct {
		Issuer pkix.RDNSequence
		Serial *big.Int
	}
	type keyTrans struct {
		Version int
		RID     issuerSerial
		Alg     pkix.AlgorithmIdentifier
		Key     []byte
	}
	type encContent struct {
		Type asn1.ObjectIdentifier
		Alg  pkix.AlgorithmIdentifier
		Data []byte `asn1:"tag:0"`
	}
	type enveloped struct {
		Version    int
		Recipients []keyTrans `asn1:"set"`
		Content    encContent
	}
	type contentInfo struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}
	iv, _ := asn1.Marshal(make([]byte, 16))
	build := func(blocks int) []byte {
		inner, err := asn1.Marshal(enveloped{
			Version: 1,
			Recipients: []keyTrans{{
				Version: 1,
				RID:     issuerSerial{Issuer: pkix.Name{CommonName: "shape"}.ToRDNSequence(), Serial: big.NewInt(7)},
				Alg:     pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 3}},
				Key:     make([]byte, 100),
			}},
			Content: encContent{
				Type: asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 1},
				Alg:  pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104, 2}, Parameters: asn1.RawValue{FullBytes: iv}},
				Data: make([]byte, 16*blocks),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(contentInfo{Type: asn1.ObjectIdentifier{1, 2, 156, 10197, 6, 1, 4, 2, 3},
			Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	blocks := (n - 200) / 16
	if blocks < 1 {
		t.Fatalf("shapedEnvelope: %d bytes is too small", n)
	}
	for {
		der := build(blocks)
		if len(der) <= n {
			if err := gmcrypto.CheckEnvelope(der); err != nil {
				t.Fatal(err)
			}
			return der
		}
		blocks--
	}
}
