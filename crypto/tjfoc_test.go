package crypto_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Interoperability with tjfoc/gmsm v1.4.1, an independent SM2
// implementation. tjfoc's Decrypt slices its input without length checks,
// so it only ever sees ciphertexts we made.

// toTjfoc converts our key through PKCS#8 DER, which also checks that
// tjfoc reads what MarshalPrivateKey writes.
func toTjfoc(t testing.TB, key *sm2.PrivateKey) *tjsm2.PrivateKey {
	t.Helper()
	der, err := gmcrypto.MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tjx509.ParsePKCS8UnecryptedPrivateKey(der)
	if err != nil {
		t.Fatalf("tjfoc cannot parse our PKCS#8: %v", err)
	}
	if tk.D.Cmp(key.D) != 0 || tk.X.Cmp(key.X) != 0 {
		t.Fatal("tjfoc parsed a different key")
	}
	return tk
}

// fromTjfoc converts a tjfoc key through tjfoc's PKCS#8 DER and our parser.
func fromTjfoc(t testing.TB, tk *tjsm2.PrivateKey) *sm2.PrivateKey {
	t.Helper()
	der, err := tjx509.MarshalSm2UnecryptedPrivateKey(tk)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gmcrypto.ParsePrivateKey(der)
	if err != nil {
		t.Fatalf("we cannot parse tjfoc's PKCS#8: %v", err)
	}
	sk := k.(*sm2.PrivateKey)
	if sk.D.Cmp(tk.D) != 0 || sk.X.Cmp(tk.X) != 0 || sk.Y.Cmp(tk.Y) != 0 {
		t.Fatal("we parsed a different key")
	}
	return sk
}

func TestTjfocKeyInterop(t *testing.T) {
	key := sm2Key(t).(*sm2.PrivateKey)
	tk := toTjfoc(t, key)
	// Public keys: tjfoc's SPKI to ours and back.
	der, err := tjx509.MarshalSm2PublicKey(&tk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gmcrypto.ParsePublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Fatal("public key differs")
	}
	ours, err := gmcrypto.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tpub, err := tjx509.ParseSm2PublicKey(ours)
	if err != nil {
		t.Fatal(err)
	}
	if tpub.X.Cmp(key.X) != 0 || tpub.Y.Cmp(key.Y) != 0 {
		t.Fatal("tjfoc parsed a different public key")
	}
	tk2, err := tjsm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fromTjfoc(t, tk2)
}

func TestTjfocSignatureInterop(t *testing.T) {
	key := sm2Key(t).(*sm2.PrivateKey)
	tk := toTjfoc(t, key)
	uid := []byte("bob@example.com")
	for _, msg := range [][]byte{[]byte("interop"), {}, bytes.Repeat([]byte{0xee}, 4097)} {
		// Ours, default id -> tjfoc's PublicKey.Verify (default id).
		sig, err := gmcrypto.Sign(key, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !tk.PublicKey.Verify(msg, sig) {
			t.Fatal("tjfoc rejects our default-id signature")
		}
		// Ours, custom id -> tjfoc's Sm2Verify with that id.
		sig, err = gmcrypto.Sign(key, msg, &gmcrypto.SignOpts{UID: uid})
		if err != nil {
			t.Fatal(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			t.Fatal(err)
		}
		if !tjsm2.Sm2Verify(&tk.PublicKey, msg, uid, rs.R, rs.S) {
			t.Fatal("tjfoc rejects our custom-id signature")
		}
		if tk.PublicKey.Verify(msg, sig) {
			t.Fatal("tjfoc accepts a custom-id signature under the default id")
		}
		// tjfoc's, default id -> ours.
		tsig, err := tk.Sign(rand.Reader, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := gmcrypto.Verify(key.Public(), msg, tsig, nil); err != nil {
			t.Fatalf("we reject tjfoc's default-id signature: %v", err)
		}
		// tjfoc's, custom id -> ours.
		r, s, err := tjsm2.Sm2Sign(tk, msg, uid, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tsig, err = asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		if err := gmcrypto.Verify(key.Public(), msg, tsig, &gmcrypto.SignOpts{UID: uid}); err != nil {
			t.Fatalf("we reject tjfoc's custom-id signature: %v", err)
		}
		wantExactly(t, gmcrypto.Verify(key.Public(), msg, tsig, nil), gmcrypto.ErrVerification)
		// Our digest is tjfoc's e (tjfoc drops leading zero bytes).
		e, err := gmcrypto.Digest(key.Public(), msg, uid)
		if err != nil {
			t.Fatal(err)
		}
		te, err := tk.PublicKey.Sm3Digest(msg, uid)
		if err != nil {
			t.Fatal(err)
		}
		if new(big.Int).SetBytes(e).Cmp(new(big.Int).SetBytes(te)) != 0 {
			t.Fatal("Digest differs from tjfoc's e")
		}
	}
}

func TestTjfocEncryptionInterop(t *testing.T) {
	key := sm2Key(t).(*sm2.PrivateKey)
	tk := toTjfoc(t, key)
	formats := []struct {
		f    gmcrypto.CipherFormat
		mode int
	}{
		{gmcrypto.FormatC1C3C2, tjsm2.C1C3C2},
		{gmcrypto.FormatC1C2C3, tjsm2.C1C2C3},
	}
	for _, tc := range formats {
		for _, n := range []int{1, 19, 32, 33, 1000} {
			pt := bytes.Repeat([]byte{byte(n)}, n)
			// Ours -> tjfoc.
			ct, err := gmcrypto.Encrypt(key.Public(), pt, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tjsm2.Decrypt(tk, ct, tc.mode)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s n=%d: tjfoc cannot decrypt ours: %v", tc.f, n, err)
			}
			// tjfoc -> ours.
			tct, err := tjsm2.Encrypt(&tk.PublicKey, pt, rand.Reader, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			got, err = gmcrypto.Decrypt(key, tct, tc.f)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s n=%d: we cannot decrypt tjfoc's: %v", tc.f, n, err)
			}
			// The layouts really differ: each side's bytes fail under the other order.
			_, err = gmcrypto.Decrypt(key, tct, otherOrder(tc.f))
			wantExactly(t, err, gmcrypto.ErrDecryption)
		}
	}
	// tjfoc's ASN.1 form (x, y, hash, ciphertext) is GM/T 0009 too.
	pt := []byte("asn.1 interop")
	tct, err := tjsm2.EncryptAsn1(&tk.PublicKey, pt, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := gmcrypto.Decrypt(key, tct, gmcrypto.FormatASN1); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("we cannot decrypt tjfoc's ASN.1: %v", err)
	}
	ct, err := gmcrypto.Encrypt(key.Public(), pt, gmcrypto.FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tjsm2.DecryptAsn1(tk, ct); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("tjfoc cannot decrypt our ASN.1: %v", err)
	}
}

func otherOrder(f gmcrypto.CipherFormat) gmcrypto.CipherFormat {
	if f == gmcrypto.FormatC1C3C2 {
		return gmcrypto.FormatC1C2C3
	}
	return gmcrypto.FormatC1C3C2
}
