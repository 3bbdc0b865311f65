package crypto_test

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/hex"
	"testing"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func mustRandom(t testing.TB, n int) []byte {
	t.Helper()
	b, err := gmcrypto.RandomBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	kek := mustRandom(t, 16)
	for _, tc := range []struct {
		name   string
		pt, ad []byte
	}{
		{"empty", nil, nil},
		{"key-no-ad", mustRandom(t, 32), nil},
		{"key-with-ad", mustRandom(t, 121), []byte("credentials/42")},
		{"large", bytes.Repeat([]byte{7}, 1<<16), []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := gmcrypto.Wrap(kek, tc.pt, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if len(w) != 1+12+len(tc.pt)+16 || w[0] != 1 {
				t.Fatalf("layout: len %d, version %d", len(w), w[0])
			}
			got, err := gmcrypto.Unwrap(kek, w, tc.ad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.pt) || got == nil {
				t.Fatalf("got %x", got)
			}
			w2, _ := gmcrypto.Wrap(kek, tc.pt, tc.ad)
			if bytes.Equal(w[1:13], w2[1:13]) {
				t.Fatal("nonce reused")
			}
		})
	}
}

// The documented format is plain SM4-GCM: open it with an independent
// cipher.AEAD built here from gmsm's SM4 block and the standard GCM.
func TestWrapFormatIsPlainSM4GCM(t *testing.T) {
	kek := mustRandom(t, 16)
	pt, ad := []byte("private scalar"), []byte("record-id")
	w, err := gmcrypto.Wrap(kek, pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sm4.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.Open(nil, w[1:13], w[13:], ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("independent open: %v", err)
	}
	// And the other way round: a version-1 blob sealed independently unwraps.
	nonce := mustRandom(t, 12)
	blob := append(append([]byte{1}, nonce...), aead.Seal(nil, nonce, pt, ad)...)
	got, err = gmcrypto.Unwrap(kek, blob, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("unwrap of independent blob: %v", err)
	}
}

func TestUnwrapRejects(t *testing.T) {
	kek := mustRandom(t, 16)
	pt, ad := []byte("secret"), []byte("ad")
	w, err := gmcrypto.Wrap(kek, pt, ad)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		kek, w, ad []byte
	}{
		{"wrong-ad", kek, w, []byte("ae")},
		{"missing-ad", kek, w, nil},
		{"extra-ad", kek, w, []byte("ad ")},
		{"wrong-kek", mustRandom(t, 16), w, ad},
		{"short-kek", kek[:15], w, ad},
		{"long-kek", append(append([]byte(nil), kek...), 0), w, ad},
		{"nil-kek", nil, w, ad},
		{"empty", kek, nil, ad},
		{"version-only", kek, w[:1], ad},
		{"no-tag", kek, w[:13], ad},
		{"truncated", kek, w[:len(w)-1], ad},
		{"extended", kek, append(append([]byte(nil), w...), 0), ad},
		{"version-0", kek, append([]byte{0}, w[1:]...), ad},
		{"version-2", kek, append([]byte{2}, w[1:]...), ad},
	}
	for i := 1; i < len(w); i++ {
		tests = append(tests, struct {
			name       string
			kek, w, ad []byte
		}{"flip-" + itoa(i), kek, flip(w, i), ad})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gmcrypto.Unwrap(tc.kek, tc.w, tc.ad)
			wantExactly(t, err, gmcrypto.ErrDecryption)
			if got != nil {
				t.Fatal("plaintext returned with error")
			}
		})
	}
	// Wrap refuses a bad KEK (a programming error, so a precise sentinel).
	for _, k := range [][]byte{nil, kek[:8], make([]byte, 32)} {
		_, err := gmcrypto.Wrap(k, pt, ad)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
}

func TestDeriveKey(t *testing.T) {
	master := mustRandom(t, 32)
	k1, err := gmcrypto.DeriveKey(master, "audit", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 16 {
		t.Fatalf("len %d", len(k1))
	}
	again, _ := gmcrypto.DeriveKey(master, "audit", nil)
	if !bytes.Equal(k1, again) {
		t.Fatal("not deterministic")
	}
	diff := [][]byte{}
	for _, v := range []struct {
		m    []byte
		p    string
		salt []byte
	}{
		{master, "session", nil},
		{master, "audit", []byte("salt")},
		{mustRandom(t, 32), "audit", nil},
		{append(append([]byte(nil), master...), 0), "audit", nil},
	} {
		k, err := gmcrypto.DeriveKey(v.m, v.p, v.salt)
		if err != nil {
			t.Fatal(err)
		}
		diff = append(diff, k)
	}
	for i, k := range diff {
		if bytes.Equal(k, k1) {
			t.Fatalf("variant %d gives the same key", i)
		}
	}
	// Independent HKDF (RFC 5869) over HMAC-SM3, written out here.
	prk := hmacSM3(make([]byte, sm3.Size), master) // nil salt = HashLen zeros
	okm := hmacSM3(prk, append([]byte("audit"), 1))
	if !bytes.Equal(k1, okm[:16]) {
		t.Fatalf("not HKDF-SM3: %x vs %x", k1, okm[:16])
	}
	for _, bad := range []struct {
		m []byte
		p string
	}{{master[:31], "audit"}, {nil, "audit"}, {master, ""}} {
		_, err := gmcrypto.DeriveKey(bad.m, bad.p, nil)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
}

func hmacSM3(key, msg []byte) []byte {
	m := hmac.New(sm3.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func TestDerivePINKey(t *testing.T) {
	master := mustRandom(t, 32)
	salt := mustRandom(t, 16)
	k, err := gmcrypto.DerivePINKey(master, salt, "123456")
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 16 {
		t.Fatalf("len %d", len(k))
	}
	again, _ := gmcrypto.DerivePINKey(master, salt, "123456")
	if !bytes.Equal(k, again) {
		t.Fatal("not deterministic")
	}
	for name, v := range map[string]struct {
		m, s []byte
		pin  string
	}{
		"wrong-pin":    {master, salt, "123457"},
		"pin-prefix":   {master, salt, "12345"},
		"other-salt":   {master, mustRandom(t, 16), "123456"},
		"other-master": {mustRandom(t, 32), salt, "123456"},
		"unicode-pin":  {master, salt, "１２３４５６"},
	} {
		got, err := gmcrypto.DerivePINKey(v.m, v.s, v.pin)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, k) {
			t.Fatalf("%s: same key", name)
		}
	}
	// A key wrapped under the right PIN does not open under a wrong one.
	w, err := gmcrypto.Wrap(k, []byte("device private key"), []byte("cred-1"))
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := gmcrypto.DerivePINKey(master, salt, "000000")
	_, err = gmcrypto.Unwrap(wrong, w, []byte("cred-1"))
	wantExactly(t, err, gmcrypto.ErrDecryption)

	// The documented construction, recomputed independently:
	// PBKDF2-HMAC-SM3(HMAC-SM3(master, "ukeygate/pin/v1"||pin), salt, 4096, 16).
	password := hmacSM3(master, []byte("ukeygate/pin/v1123456"))
	if want := pbkdf2SM3(password, salt, gmcrypto.PINIterations, 16); !bytes.Equal(k, want) {
		t.Fatalf("construction differs from the documented one")
	}
	// A known answer, computed with the standard library's pbkdf2.Key
	// before DerivePINKey had its own PBKDF2: stored credentials depend
	// on it never changing.
	km, ks := make([]byte, 32), make([]byte, 16)
	for i := range km {
		km[i] = byte(i)
	}
	for i := range ks {
		ks[i] = byte(0xa0 + i)
	}
	for pin, want := range map[string]string{"123456": "cb959862010623998fd5e8be5c0d0a0e", "８６４２": "fc99a77337266092c48db6a444fbc677"} {
		got, err := gmcrypto.DerivePINKey(km, ks, pin)
		if err != nil || hex.EncodeToString(got) != want {
			t.Fatalf("DerivePINKey(0x00…1f, 0xa0…af, %q) = %x, %v; want %s", pin, got, err, want)
		}
	}
	if gmcrypto.PINIterations != 4096 {
		t.Fatal("PINIterations is a storage format constant")
	}

	for _, bad := range []struct {
		m, s []byte
		pin  string
	}{{master[:31], salt, "1"}, {master, salt[:15], "1"}, {master, nil, "1"}, {master, salt, ""}} {
		_, err := gmcrypto.DerivePINKey(bad.m, bad.s, bad.pin)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
}

// pbkdf2SM3 is RFC 8018 PBKDF2 for dkLen <= one block, written out here.
func pbkdf2SM3(password, salt []byte, iter, dkLen int) []byte {
	u := hmacSM3(password, append(append([]byte(nil), salt...), 0, 0, 0, 1))
	t := append([]byte(nil), u...)
	for i := 1; i < iter; i++ {
		u = hmacSM3(password, u)
		for j := range t {
			t[j] ^= u[j]
		}
	}
	return t[:dkLen]
}

func TestEqualZeroRandom(t *testing.T) {
	if !gmcrypto.Equal([]byte("abc"), []byte("abc")) || gmcrypto.Equal([]byte("abc"), []byte("abd")) ||
		gmcrypto.Equal([]byte("abc"), []byte("ab")) || !gmcrypto.Equal(nil, []byte{}) {
		t.Fatal("Equal")
	}
	b := []byte{1, 2, 3}
	gmcrypto.Zero(b)
	if !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatal("Zero")
	}
	gmcrypto.Zero(nil)
	r1, r2 := mustRandom(t, 32), mustRandom(t, 32)
	if len(r1) != 32 || bytes.Equal(r1, r2) {
		t.Fatal("RandomBytes")
	}
	if b, err := gmcrypto.RandomBytes(0); err != nil || len(b) != 0 {
		t.Fatal("RandomBytes(0)")
	}
	_, err := gmcrypto.RandomBytes(-1)
	wantIs(t, err, gmcrypto.ErrInvalidInput)
}

// A Wrapper writes what Unwrap opens and opens what Wrap writes, under its
// key only, and refuses what Unwrap refuses; a bad KEK is refused when it
// is made.
func TestWrapperAsWrapUnwrap(t *testing.T) {
	kek := mustRandom(t, 16)
	w, err := gmcrypto.NewWrapper(kek)
	if err != nil {
		t.Fatal(err)
	}
	other, err := gmcrypto.NewWrapper(mustRandom(t, 16))
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range [][]byte{nil, {}, []byte("secret"), mustRandom(t, 3000)} {
		ad := []byte("ad")
		byWrapper, err := w.Wrap(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := gmcrypto.Unwrap(kek, byWrapper, ad); err != nil || !bytes.Equal(got, pt) || got == nil {
			t.Fatalf("Unwrap of the Wrapper's %d bytes: %x, %v", len(pt), got, err)
		}
		byFunc, err := gmcrypto.Wrap(kek, pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := w.Unwrap(byFunc, ad); err != nil || !bytes.Equal(got, pt) || got == nil {
			t.Fatalf("the Wrapper's Unwrap of Wrap's %d bytes: %x, %v", len(pt), got, err)
		}
		if len(byWrapper) != len(byFunc) || bytes.Equal(byWrapper, byFunc) {
			t.Fatalf("lengths %d and %d, equal %v: want the same length and fresh nonces", len(byWrapper), len(byFunc), bytes.Equal(byWrapper, byFunc))
		}
		for name, in := range map[string][]byte{"wrong-ad": nil, "flipped": flip(byWrapper, len(byWrapper)-1), "truncated": byWrapper[:len(byWrapper)-1], "short": byWrapper[:5]} {
			a := ad
			if name == "wrong-ad" {
				in, a = byWrapper, []byte("ae")
			}
			got, err := w.Unwrap(in, a)
			wantExactly(t, err, gmcrypto.ErrDecryption)
			if got != nil {
				t.Fatalf("%s: plaintext returned with error", name)
			}
		}
		if _, err := other.Unwrap(byWrapper, ad); err != gmcrypto.ErrDecryption {
			t.Fatalf("another key's Wrapper opened it: %v", err)
		}
	}
	for _, k := range [][]byte{nil, kek[:8], make([]byte, 32)} {
		_, err := gmcrypto.NewWrapper(k)
		wantIs(t, err, gmcrypto.ErrInvalidInput)
	}
}
