package crypto_test

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

var allFormats = []gmcrypto.CipherFormat{
	gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3, gmcrypto.FormatASN1,
	gmcrypto.FormatRSAOAEP, gmcrypto.FormatRSAPKCS1,
}

func isSM2Format(f gmcrypto.CipherFormat) bool {
	return f == gmcrypto.FormatC1C3C2 || f == gmcrypto.FormatC1C2C3 || f == gmcrypto.FormatASN1
}

func keyFor(t testing.TB, f gmcrypto.CipherFormat) crypto.Signer {
	if isSM2Format(f) {
		return sm2Key(t)
	}
	return rsaKey(t)
}

func TestParseCipherFormat(t *testing.T) {
	tests := []struct {
		in   string
		want gmcrypto.CipherFormat
		err  error
	}{
		{"c1c3c2", gmcrypto.FormatC1C3C2, nil},
		{"C1C2C3", gmcrypto.FormatC1C2C3, nil},
		{" asn1 ", gmcrypto.FormatASN1, nil},
		{"rsa-oaep", gmcrypto.FormatRSAOAEP, nil},
		{"RSA-PKCS1", gmcrypto.FormatRSAPKCS1, nil},
		{"", "", gmcrypto.ErrUnsupported},
		{"c1c3", "", gmcrypto.ErrUnsupported},
		{"der", "", gmcrypto.ErrUnsupported},
	}
	for _, tc := range tests {
		got, err := gmcrypto.ParseCipherFormat(tc.in)
		if tc.err != nil {
			wantIs(t, err, tc.err)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCipherFormat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for _, f := range allFormats {
		t.Run(string(f), func(t *testing.T) {
			key := keyFor(t, f)
			for _, n := range []int{1, 16, 32, 33, 190} {
				pt := bytes.Repeat([]byte{byte(n)}, n)
				ct, err := gmcrypto.Encrypt(key.Public(), pt, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := gmcrypto.Decrypt(key, ct, f)
				if err != nil {
					t.Fatalf("n=%d: %v", n, err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("n=%d: got %x", n, got)
				}
				// Randomised: two encryptions differ.
				ct2, _ := gmcrypto.Encrypt(key.Public(), pt, f)
				if bytes.Equal(ct, ct2) {
					t.Fatal("ciphertext is deterministic")
				}
			}
		})
	}
	// Long plaintexts for SM2 (no length limit).
	pt := bytes.Repeat([]byte("0123456789"), 1000)
	for _, f := range allFormats[:3] {
		ct, err := gmcrypto.Encrypt(sm2Key(t).Public(), pt, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gmcrypto.Decrypt(sm2Key(t), ct, f)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s long: %v", f, err)
		}
	}
}

func TestSM2CiphertextLayout(t *testing.T) {
	key := sm2Key(t)
	pt := []byte("layout")
	c132, err := gmcrypto.Encrypt(key.Public(), pt, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	if len(c132) != 65+32+len(pt) || c132[0] != 0x04 {
		t.Fatalf("C1C3C2 length %d, prefix %x", len(c132), c132[0])
	}
	// Rearranging to C1C2C3 by hand gives a valid C1C2C3 ciphertext.
	c123 := append(append(append([]byte(nil), c132[:65]...), c132[97:]...), c132[65:97]...)
	got, err := gmcrypto.Decrypt(key, c123, gmcrypto.FormatC1C2C3)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("hand-made C1C2C3: %v", err)
	}
	// ...and the other order no longer decrypts.
	_, err = gmcrypto.Decrypt(key, c132, gmcrypto.FormatC1C2C3)
	wantExactly(t, err, gmcrypto.ErrDecryption)
	// The ASN.1 form of the same parts decrypts.
	der, err := asn1.Marshal(struct {
		X, Y   *big.Int
		C3, C2 []byte
	}{new(big.Int).SetBytes(c132[1:33]), new(big.Int).SetBytes(c132[33:65]), c132[65:97], c132[97:]})
	if err != nil {
		t.Fatal(err)
	}
	got, err = gmcrypto.Decrypt(key, der, gmcrypto.FormatASN1)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("hand-made ASN.1: %v", err)
	}
	// A format's bytes are not accepted under another format.
	_, err = gmcrypto.Decrypt(key, der, gmcrypto.FormatC1C3C2)
	wantExactly(t, err, gmcrypto.ErrDecryption)
	_, err = gmcrypto.Decrypt(key, c132, gmcrypto.FormatASN1)
	wantExactly(t, err, gmcrypto.ErrDecryption)
}

func TestEncryptErrors(t *testing.T) {
	sk, rk := sm2Key(t), rsaKey(t)
	for _, f := range allFormats {
		_, err := gmcrypto.Encrypt(keyFor(t, f).Public(), nil, f)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
	for _, f := range allFormats[:3] {
		_, err := gmcrypto.Encrypt(rk.Public(), []byte("x"), f)
		wantIs(t, err, gmcrypto.ErrKeyMismatch)
	}
	for _, f := range allFormats[3:] {
		_, err := gmcrypto.Encrypt(sk.Public(), []byte("x"), f)
		wantIs(t, err, gmcrypto.ErrKeyMismatch)
		_, err = gmcrypto.Encrypt(rk.Public(), make([]byte, 256), f)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
	_, err := gmcrypto.Encrypt(sk.Public(), []byte("x"), "c1c3")
	wantIs(t, err, gmcrypto.ErrUnsupported)
}

// notOnCurve returns a copy of the uncompressed point ct[:65] moved off the
// SM2 curve (y+1), with the rest unchanged.
func notOnCurve(t testing.TB, c1 []byte) []byte {
	t.Helper()
	x := new(big.Int).SetBytes(c1[1:33])
	y := new(big.Int).SetBytes(c1[33:65])
	y.Add(y, big.NewInt(1))
	if sm2.P256().IsOnCurve(x, y) {
		t.Fatal("still on curve")
	}
	out := append([]byte{0x04}, x.FillBytes(make([]byte, 32))...)
	return append(out, y.FillBytes(make([]byte, 32))...)
}

func TestDecryptRejects(t *testing.T) {
	sk, rk := sm2Key(t), rsaKey(t)
	other := freshSM2Key(t)
	pt := []byte("a secret of some length")
	ct := map[gmcrypto.CipherFormat][]byte{}
	for _, f := range allFormats {
		c, err := gmcrypto.Encrypt(keyFor(t, f).Public(), pt, f)
		if err != nil {
			t.Fatal(err)
		}
		ct[f] = c
	}
	type tcase struct {
		name string
		key  crypto.Signer
		ct   []byte
		f    gmcrypto.CipherFormat
	}
	var tests []tcase
	c132, c123, casn := ct[gmcrypto.FormatC1C3C2], ct[gmcrypto.FormatC1C2C3], ct[gmcrypto.FormatASN1]
	for _, f := range allFormats {
		c := ct[f]
		tests = append(tests,
			tcase{"empty", keyFor(t, f), nil, f},
			tcase{"one-byte", keyFor(t, f), c[:1], f},
			tcase{"truncated-by-one", keyFor(t, f), c[:len(c)-1], f},
			tcase{"truncated-half", keyFor(t, f), c[:len(c)/2], f},
			tcase{"extended-by-one", keyFor(t, f), append(append([]byte(nil), c...), 0), f},
			tcase{"flip-first", keyFor(t, f), flip(c, 0), f},
			tcase{"flip-middle", keyFor(t, f), flip(c, len(c)/2), f},
			tcase{"flip-last", keyFor(t, f), flip(c, len(c)-1), f},
			tcase{"unknown-format", keyFor(t, f), c, "c1c3"},
			tcase{"nil-key", nil, c, f},
		)
		if isSM2Format(f) {
			tests = append(tests,
				tcase{"wrong-sm2-key", other, c, f},
				tcase{"rsa-key-for-sm2-format", rk, c, f},
			)
		} else {
			tests = append(tests,
				tcase{"sm2-key-for-rsa-format", sk, c, f},
				tcase{"rsa-key-other-padding", rk, c, map[gmcrypto.CipherFormat]gmcrypto.CipherFormat{
					gmcrypto.FormatRSAOAEP: gmcrypto.FormatRSAPKCS1, gmcrypto.FormatRSAPKCS1: gmcrypto.FormatRSAOAEP}[f]},
			)
		}
	}
	// Byte-precise SM2 tampering: C1 | C3 | C2 offsets.
	for i := 1; i < len(c132); i += 7 {
		tests = append(tests, tcase{"c1c3c2-flip-" + itoa(i), sk, flip(c132, i), gmcrypto.FormatC1C3C2})
		tests = append(tests, tcase{"c1c2c3-flip-" + itoa(i), sk, flip(c123, i), gmcrypto.FormatC1C2C3})
	}
	tests = append(tests,
		tcase{"c1c3c2-flip-C3", sk, flip(c132, 65), gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-flip-C2", sk, flip(c132, 97), gmcrypto.FormatC1C3C2},
		tcase{"c1c2c3-flip-C2", sk, flip(c123, 65), gmcrypto.FormatC1C2C3},
		tcase{"c1c2c3-flip-C3", sk, flip(c123, len(c123)-1), gmcrypto.FormatC1C2C3},
		tcase{"c1c3c2-no-C2", sk, c132[:97], gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-C1-only", sk, c132[:65], gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-C1-not-on-curve", sk, append(notOnCurve(t, c132), c132[65:]...), gmcrypto.FormatC1C3C2},
		tcase{"c1c2c3-C1-not-on-curve", sk, append(notOnCurve(t, c123), c123[65:]...), gmcrypto.FormatC1C2C3},
		tcase{"c1c3c2-C1-infinity", sk, append(make([]byte, 65), c132[65:]...), gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-compressed-prefix", sk, append([]byte{0x02}, c132[1:]...), gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-as-asn1", sk, c132, gmcrypto.FormatASN1},
		tcase{"asn1-as-c1c3c2", sk, casn, gmcrypto.FormatC1C3C2},
		tcase{"c1c3c2-as-c1c2c3", sk, c132, gmcrypto.FormatC1C2C3},
	)
	// ASN.1 with C1 off the curve, and with C3 or C2 altered.
	var parts struct {
		X, Y   *big.Int
		C3, C2 []byte
	}
	if _, err := asn1.Unmarshal(casn, &parts); err != nil {
		t.Fatal(err)
	}
	mk := func(x, y *big.Int, c3, c2 []byte) []byte {
		b, err := asn1.Marshal(struct {
			X, Y   *big.Int
			C3, C2 []byte
		}{x, y, c3, c2})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got, err := gmcrypto.Decrypt(sk, mk(parts.X, parts.Y, parts.C3, parts.C2), gmcrypto.FormatASN1); err != nil || !bytes.Equal(got, pt) {
		t.Fatal("re-encoded ASN.1 ciphertext must decrypt")
	}
	tests = append(tests,
		tcase{"asn1-C1-not-on-curve", sk, mk(parts.X, new(big.Int).Add(parts.Y, big.NewInt(1)), parts.C3, parts.C2), gmcrypto.FormatASN1},
		tcase{"asn1-C1-zero", sk, mk(big.NewInt(0), big.NewInt(0), parts.C3, parts.C2), gmcrypto.FormatASN1},
		tcase{"asn1-negative-x", sk, mk(new(big.Int).Neg(parts.X), parts.Y, parts.C3, parts.C2), gmcrypto.FormatASN1},
		tcase{"asn1-flip-C3", sk, mk(parts.X, parts.Y, flip(parts.C3, 0), parts.C2), gmcrypto.FormatASN1},
		tcase{"asn1-flip-C2", sk, mk(parts.X, parts.Y, parts.C3, flip(parts.C2, 3)), gmcrypto.FormatASN1},
		tcase{"asn1-short-C3", sk, mk(parts.X, parts.Y, parts.C3[:31], parts.C2), gmcrypto.FormatASN1},
		tcase{"asn1-empty-C2", sk, mk(parts.X, parts.Y, parts.C3, []byte{}), gmcrypto.FormatASN1},
		tcase{"asn1-swapped-C2-C3", sk, mk(parts.X, parts.Y, parts.C2, parts.C3), gmcrypto.FormatASN1},
	)
	for _, tc := range tests {
		t.Run(string(tc.f)+"/"+tc.name, func(t *testing.T) {
			got, err := gmcrypto.Decrypt(tc.key, tc.ct, tc.f)
			if err == nil && tc.key == rk && !bytes.Equal(got, pt) && (tc.f == gmcrypto.FormatRSAPKCS1) {
				// PKCS#1 v1.5 has no integrity: about 1 in 2^16 altered
				// ciphertexts still has valid padding and opens to garbage.
				t.Skipf("altered PKCS#1 v1.5 ciphertext opened to garbage (expected about 2^-16 of the time)")
			}
			wantExactly(t, err, gmcrypto.ErrDecryption)
			if got != nil {
				t.Fatalf("plaintext returned with error: %x", got)
			}
		})
	}
}

// gmsm v0.44.1 returns an undecryptable SM2 ciphertext when its KDF output
// is all zero (1 in 256 one-byte plaintexts); Encrypt must work around it.
// Without the workaround this fails with probability 1 - (255/256)^3600.
func TestSM2OneBytePlaintexts(t *testing.T) {
	key := sm2Key(t)
	for _, f := range allFormats[:3] {
		for i := range 1200 {
			pt := []byte{byte(i)}
			ct, err := gmcrypto.Encrypt(key.Public(), pt, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gmcrypto.Decrypt(key, ct, f)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
		}
	}
}
