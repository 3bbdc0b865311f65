package crypto_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Published test vectors. Nothing here was produced by the code under test.

// GM/T 0004-2012 (GB/T 32905-2016) Annex A.
func TestSM3PublishedVectors(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"A.1 abc", "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{"A.2 abcd x16", "abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd", "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	}
	for _, tc := range tests {
		if got := hex.EncodeToString(gmcrypto.SM3([]byte(tc.msg))); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if len(gmcrypto.SM3(nil)) != 32 {
		t.Fatal("SM3 of empty input")
	}
}

// GM/T 0002-2012 (GB/T 32907-2016) Annex A: one block, and the same block
// encrypted 1,000,000 times.
func TestSM4PublishedVectors(t *testing.T) {
	key := unhex(t, "0123456789abcdeffedcba9876543210")
	b, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := append([]byte(nil), key...) // plaintext = key
	b.Encrypt(buf, buf)
	if want := unhex(t, "681edf34d206965e86b3e94f536e4246"); !bytes.Equal(buf, want) {
		t.Fatalf("A.1: got %x", buf)
	}
	b.Decrypt(buf, buf)
	if !bytes.Equal(buf, key) {
		t.Fatal("A.1 decrypt")
	}
	if testing.Short() {
		return
	}
	for range 1000000 {
		b.Encrypt(buf, buf)
	}
	if want := unhex(t, "595298c7c6fd271f0402f804c33d3f66"); !bytes.Equal(buf, want) {
		t.Fatalf("A.2: got %x", buf)
	}
}

// GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A and C: the examples on the
// recommended SM2 curve (the same values appear in OpenSSL's
// test/sm2_internal_test.c).
const (
	annexD   = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
	annexPX  = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
	annexPY  = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
	annexMsg = "message digest"
	annexE   = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
	annexR   = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
	annexS   = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
	// Encryption example (k = 59276E27...BC21, the same as for the signature).
	annexPlain = "encryption standard"
	annexC1X   = "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
	annexC1Y   = "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
	annexC3    = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
	annexC2    = "21886CA989CA9C7D58087307CA93092D651EFA"
)

func annexKey(t testing.TB) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.NewPrivateKey(unhex(t, annexD))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(k.X.FillBytes(make([]byte, 32))) != lower(annexPX) ||
		hex.EncodeToString(k.Y.FillBytes(make([]byte, 32))) != lower(annexPY) {
		t.Fatal("public key of the published scalar differs from the published point")
	}
	return k
}

func lower(s string) string { return string(bytes.ToLower([]byte(s))) }

// The signature itself cannot be reproduced with the published k: gmsm
// v0.44.1 derives the nonce by "hedged" HMAC-DRBG from (d, e, random), so
// no public API injects k (see internal/sm2 Sign). Instead the published
// (r, s) is verified with our Verify and VerifyDigest from the published
// public key alone, and our Digest must give the published e.
func TestSM2PublishedSignature(t *testing.T) {
	x, _ := new(big.Int).SetString(annexPX, 16)
	y, _ := new(big.Int).SetString(annexPY, 16)
	pub := &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}
	e, err := gmcrypto.Digest(pub, []byte(annexMsg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(e); got != lower(annexE) {
		t.Fatalf("e = %s, want %s", got, annexE)
	}
	r, _ := new(big.Int).SetString(annexR, 16)
	s, _ := new(big.Int).SetString(annexS, 16)
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(pub, []byte(annexMsg), sig, nil); err != nil {
		t.Fatalf("Verify of the published signature: %v", err)
	}
	if err := gmcrypto.VerifyDigest(pub, e, sig, nil); err != nil {
		t.Fatalf("VerifyDigest of the published signature: %v", err)
	}
	// The published (explicit) id equals our DefaultUID.
	if err := gmcrypto.Verify(pub, []byte(annexMsg), sig, &gmcrypto.SignOpts{UID: []byte("1234567812345678")}); err != nil {
		t.Fatal(err)
	}
	// Sanity: the same signature fails for another message, id or s.
	wantExactly(t, gmcrypto.Verify(pub, []byte("message digesT"), sig, nil), gmcrypto.ErrVerification)
	wantExactly(t, gmcrypto.Verify(pub, []byte(annexMsg), sig, &gmcrypto.SignOpts{UID: []byte("1234567812345679")}), gmcrypto.ErrVerification)
	sig2, _ := asn1.Marshal(struct{ R, S *big.Int }{r, new(big.Int).Add(s, big.NewInt(1))})
	wantExactly(t, gmcrypto.Verify(pub, []byte(annexMsg), sig2, nil), gmcrypto.ErrVerification)

	// The published private key signs verifiably (with its own nonce).
	key := annexKey(t)
	mine, err := gmcrypto.Sign(key, []byte(annexMsg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gmcrypto.Verify(pub, []byte(annexMsg), mine, nil); err != nil {
		t.Fatal(err)
	}
}

// The published ciphertext decrypts with our Decrypt in all three layouts.
// (Reproducing it from the published k is done in vectors_internal_test.go.)
func TestSM2PublishedCiphertext(t *testing.T) {
	key := annexKey(t)
	c1 := unhex(t, "04"+annexC1X+annexC1Y)
	c2, c3 := unhex(t, annexC2), unhex(t, annexC3)
	x, _ := new(big.Int).SetString(annexC1X, 16)
	y, _ := new(big.Int).SetString(annexC1Y, 16)
	der, err := asn1.Marshal(struct {
		X, Y   *big.Int
		C3, C2 []byte
	}{x, y, c3, c2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f  gmcrypto.CipherFormat
		ct []byte
	}{
		{gmcrypto.FormatC1C3C2, bytes.Join([][]byte{c1, c3, c2}, nil)},
		{gmcrypto.FormatC1C2C3, bytes.Join([][]byte{c1, c2, c3}, nil)},
		// C1 without the 04 prefix (npm sm-crypto, gm-crypto, CFCA).
		{gmcrypto.FormatC1C3C2, bytes.Join([][]byte{c1[1:], c3, c2}, nil)},
		{gmcrypto.FormatC1C2C3, bytes.Join([][]byte{c1[1:], c2, c3}, nil)},
		{gmcrypto.FormatASN1, der},
	} {
		got, err := gmcrypto.Decrypt(key, tc.ct, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.f, err)
		}
		if string(got) != annexPlain {
			t.Fatalf("%s: got %q", tc.f, got)
		}
		wantExactly(t, func() error { _, err := gmcrypto.Decrypt(key, flip(tc.ct, len(tc.ct)-1), tc.f); return err }(), gmcrypto.ErrDecryption)
	}
	// GM/T 0009 ASN.1 layout as printed in OpenSSL's test (INTEGER y has a 00 pad).
	want := unhex(t, "307C0220"+annexC1X+"022100"+annexC1Y+"0420"+annexC3+"0413"+annexC2)
	if !bytes.Equal(der, want) {
		t.Fatalf("ASN.1 layout differs: %x", der)
	}
}
