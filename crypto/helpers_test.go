package crypto_test

import (
	"crypto"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Keys are generated once per test binary: RSA generation is slow on the
// shared 2-core machine, 3072/4096 especially.
var (
	keyOnce  sync.Map // bits or 0 (SM2) -> *onceKey
	sentinel = []error{
		gmcrypto.ErrVerification, gmcrypto.ErrDecryption, gmcrypto.ErrUnsupported,
		gmcrypto.ErrMalformed, gmcrypto.ErrKeyMismatch, gmcrypto.ErrInvalidInput,
	}
)

type onceKey struct {
	once sync.Once
	key  crypto.Signer
	err  error
}

func cachedKey(t testing.TB, alg gmcrypto.Alg, bits int) crypto.Signer {
	t.Helper()
	id := bits
	if alg == gmcrypto.AlgSM2 {
		id = 0
	}
	v, _ := keyOnce.LoadOrStore(id, &onceKey{})
	ok := v.(*onceKey)
	ok.once.Do(func() { ok.key, ok.err = gmcrypto.GenerateKey(alg, bits) })
	if ok.err != nil {
		t.Fatalf("GenerateKey(%s, %d): %v", alg, bits, ok.err)
	}
	return ok.key
}

func sm2Key(t testing.TB) crypto.Signer      { return cachedKey(t, gmcrypto.AlgSM2, 0) }
func rsaKey(t testing.TB) crypto.Signer      { return cachedKey(t, gmcrypto.AlgRSA, 2048) }
func freshSM2Key(t testing.TB) crypto.Signer { return mustGenerate(t, gmcrypto.AlgSM2, 0) }

func mustGenerate(t testing.TB, alg gmcrypto.Alg, bits int) crypto.Signer {
	t.Helper()
	k, err := gmcrypto.GenerateKey(alg, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantExactly fails unless err is exactly the sentinel want: errors.Is
// matches, no other sentinel matches, and the message is the sentinel's
// own (nothing about the cause leaks).
func wantExactly(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	for _, s := range sentinel {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %v also matches %v", err, s)
		}
	}
	if err.Error() != want.Error() {
		t.Fatalf("error text %q leaks detail beyond %q", err.Error(), want.Error())
	}
}

// wantIs fails unless errors.Is(err, want) (detail may be added with %w).
func wantIs(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}
