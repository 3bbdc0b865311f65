package crypto_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Benchmarks: ukeygate's crypto next to tjfoc/gmsm v1.4.1 for SM2, plus the
// other primitives the server uses. Run with
//
//	go test -run='^$' -bench=. -benchtime=1s ./crypto/

var benchMsg = bytes.Repeat([]byte("ukeygate"), 32) // 256 bytes

func BenchmarkSM2Sign(b *testing.B) {
	key := sm2Key(b).(*sm2.PrivateKey)
	tk := toTjfoc(b, key)
	b.Run("ukeygate", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Sign(key, benchMsg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tjfoc", func(b *testing.B) {
		for b.Loop() {
			if _, err := tk.Sign(rand.Reader, benchMsg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSM2Verify(b *testing.B) {
	key := sm2Key(b).(*sm2.PrivateKey)
	tk := toTjfoc(b, key)
	sig, err := gmcrypto.Sign(key, benchMsg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ukeygate", func(b *testing.B) {
		for b.Loop() {
			if err := gmcrypto.Verify(key.Public(), benchMsg, sig, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tjfoc", func(b *testing.B) {
		for b.Loop() {
			if !tk.PublicKey.Verify(benchMsg, sig) {
				b.Fatal("verify")
			}
		}
	})
}

func BenchmarkSM2Encrypt(b *testing.B) {
	key := sm2Key(b).(*sm2.PrivateKey)
	tk := toTjfoc(b, key)
	pt := benchMsg[:32]
	b.Run("ukeygate", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Encrypt(key.Public(), pt, gmcrypto.FormatC1C3C2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tjfoc", func(b *testing.B) {
		for b.Loop() {
			if _, err := tjsm2.Encrypt(&tk.PublicKey, pt, rand.Reader, tjsm2.C1C3C2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSM2Decrypt(b *testing.B) {
	key := sm2Key(b).(*sm2.PrivateKey)
	tk := toTjfoc(b, key)
	ct, err := gmcrypto.Encrypt(key.Public(), benchMsg[:32], gmcrypto.FormatC1C3C2)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ukeygate", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Decrypt(key, ct, gmcrypto.FormatC1C3C2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tjfoc", func(b *testing.B) {
		for b.Loop() {
			if _, err := tjsm2.Decrypt(tk, ct, tjsm2.C1C3C2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSM3_1KiB(b *testing.B) {
	data := bytes.Repeat([]byte{0x5a}, 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		gmcrypto.SM3(data)
	}
}

func BenchmarkSM4GCMWrap(b *testing.B) {
	kek := make([]byte, 16)
	pt := benchMsg[:138] // the size of a PKCS#8 SM2 private key
	ad := []byte("credentials/42")
	b.Run("wrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Wrap(kek, pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	w, _ := gmcrypto.Wrap(kek, pt, ad)
	b.Run("unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Unwrap(kek, w, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDerivePINKey(b *testing.B) {
	master := make([]byte, 32)
	salt := make([]byte, 16)
	for b.Loop() {
		if _, err := gmcrypto.DerivePINKey(master, salt, "123456"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSA2048(b *testing.B) {
	key := rsaKey(b)
	sig, err := gmcrypto.Sign(key, benchMsg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ct, err := gmcrypto.Encrypt(key.Public(), benchMsg[:32], gmcrypto.FormatRSAOAEP)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Sign(key, benchMsg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := gmcrypto.Verify(key.Public(), benchMsg, sig, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("oaep-decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := gmcrypto.Decrypt(key, ct, gmcrypto.FormatRSAOAEP); err != nil {
				b.Fatal(err)
			}
		}
	})
}
