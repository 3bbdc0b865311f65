package crypto_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Fuzz targets. Seeds live in testdata/fuzz/FuzzX/ (valid inputs for the
// fixed keys below plus a few broken ones); `go test` runs them as unit
// tests, `go test -fuzz=FuzzX` explores further.

// The GB/T 32918.5 Annex A key: the seed ciphertexts and signature are the
// published ones for it.
func fuzzKey(f *testing.F) *sm2.PrivateKey {
	k, err := sm2.NewPrivateKey(unhex(f, annexD))
	if err != nil {
		f.Fatal(err)
	}
	return k
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := gmcrypto.ParsePrivateKeyPEM(in)
		if err != nil {
			if key != nil {
				t.Fatal("key returned with error")
			}
			if !errors.Is(err, gmcrypto.ErrMalformed) && !errors.Is(err, gmcrypto.ErrUnsupported) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Whatever parses is a usable key that round-trips.
		if _, err := gmcrypto.KeyAlg(key); err != nil {
			t.Fatal(err)
		}
		der, err := gmcrypto.MarshalPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		again, err := gmcrypto.ParsePrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
			t.Fatal("round trip changed the key")
		}
	})
}

var sm2Formats = []gmcrypto.CipherFormat{gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3, gmcrypto.FormatASN1}

func FuzzDecrypt(f *testing.F) {
	key := fuzzKey(f)
	f.Add([]byte{0x04}, uint8(0))
	f.Fuzz(func(t *testing.T, ct []byte, format uint8) {
		ff := sm2Formats[int(format)%len(sm2Formats)]
		pt, err := gmcrypto.Decrypt(key, ct, ff)
		if err != nil {
			if err != gmcrypto.ErrDecryption || pt != nil {
				t.Fatalf("got %v (plaintext %x), want exactly ErrDecryption", err, pt)
			}
			return
		}
		if len(pt) == 0 {
			t.Fatal("empty plaintext on success")
		}
	})
}

func FuzzVerify(f *testing.F) {
	x, _ := new(big.Int).SetString(annexPX, 16)
	y, _ := new(big.Int).SetString(annexPY, 16)
	pub := &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}
	f.Add([]byte(annexMsg), []byte{0x30, 0x00}, []byte(nil))
	f.Fuzz(func(t *testing.T, msg, sig, uid []byte) {
		err := gmcrypto.Verify(pub, msg, sig, &gmcrypto.SignOpts{UID: uid})
		if err != nil && err != gmcrypto.ErrVerification {
			t.Fatalf("got %v, want nil or exactly ErrVerification", err)
		}
		if err == nil {
			// Only the published signature (or a re-encoding the strict
			// parser would refuse) can verify here; a success must come
			// with the published message and id.
			if !bytes.Equal(msg, []byte(annexMsg)) || (len(uid) != 0 && !bytes.Equal(uid, gmcrypto.DefaultUID)) {
				t.Fatalf("unexpected valid signature %x over %q uid %q", sig, msg, uid)
			}
		}
		if len(msg) >= gmcrypto.DigestSize {
			err := gmcrypto.VerifyDigest(pub, msg[:gmcrypto.DigestSize], sig, nil)
			if err != nil && err != gmcrypto.ErrVerification {
				t.Fatalf("VerifyDigest: %v", err)
			}
		}
	})
}

func FuzzUnwrap(f *testing.F) {
	f.Add(make([]byte, 16), []byte{1}, []byte(nil))
	f.Fuzz(func(t *testing.T, kek, wrapped, ad []byte) {
		pt, err := gmcrypto.Unwrap(kek, wrapped, ad)
		if err != nil {
			if err != gmcrypto.ErrDecryption || pt != nil {
				t.Fatalf("got %v, want exactly ErrDecryption", err)
			}
			return
		}
		// A success is genuine: re-wrapping under the same kek/ad opens to the same bytes.
		w, err := gmcrypto.Wrap(kek, pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		again, err := gmcrypto.Unwrap(kek, w, ad)
		if err != nil || !bytes.Equal(again, pt) {
			t.Fatal("re-wrap round trip failed")
		}
	})
}

// FuzzCheckCiphertext: the creation-time shape check never panics, refuses
// only with ErrMalformed, and never refuses what decrypts (a session it
// lets through may still fail; one it refuses could never have opened).
func FuzzCheckCiphertext(f *testing.F) {
	key := fuzzKey(f)
	f.Add([]byte{0x04}, uint8(0))
	f.Fuzz(func(t *testing.T, ct []byte, format uint8) {
		ff := sm2Formats[int(format)%len(sm2Formats)]
		err := gmcrypto.CheckCiphertext(ct, ff)
		if err != nil && !errors.Is(err, gmcrypto.ErrMalformed) {
			t.Fatalf("unexpected error %v", err)
		}
		if ff != gmcrypto.FormatASN1 && (err == nil) != (len(gmcrypto.SM2RawReadings(ct)) > 0) {
			t.Fatalf("CheckCiphertext %v disagrees with %d readings", err, len(gmcrypto.SM2RawReadings(ct)))
		}
		if _, derr := gmcrypto.Decrypt(key, ct, ff); derr == nil && err != nil {
			t.Fatalf("refused a ciphertext that opens: %v", err)
		}
	})
}
