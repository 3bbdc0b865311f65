package cosign_test

import (
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Cosign beside single-party SM2: the whole exchange (both halves, in one
// process, no network), the gateway's part (start, finish and the
// verification it does before release) and the phone's part.

func BenchmarkSign(b *testing.B) {
	c := newCred(b)
	e := gmcrypto.SM3([]byte("digest"))
	bind := cosign.Binding{Session: "s", Credential: c.id, Digest: e}
	b.Run("single-party", func(b *testing.B) {
		key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := gmcrypto.SignDigest(key, e, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cosign-total", func(b *testing.B) {
		for b.Loop() {
			st, _ := cosign.GatewaySignStart(bind)
			r, _ := cosign.PhoneSign(c.sec, pin, st.Start(), bind)
			if _, err := st.Finish(c.g, c.pub, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	st0, _ := cosign.GatewaySignStart(bind)
	b.Run("cosign-phone", func(b *testing.B) {
		for b.Loop() {
			if _, err := cosign.PhoneSign(c.sec, pin, st0.Start(), bind); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cosign-gateway", func(b *testing.B) {
		// Replies are made outside the timer.
		for b.Loop() {
			b.StopTimer()
			st, _ := cosign.GatewaySignStart(bind)
			raw, _ := st.MarshalBinary()
			r, _ := cosign.PhoneSign(c.sec, pin, st.Start(), bind)
			b.StartTimer()
			st2, _ := cosign.GatewaySignStart(bind) // the start's cost
			_ = st2
			back, _ := cosign.ParseSignState(raw)
			if _, err := back.Finish(c.g, c.pub, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecrypt(b *testing.B) {
	c := newCred(b)
	ct, err := gmcrypto.Encrypt(c.pub, make([]byte, 32), gmcrypto.FormatC1C3C2)
	if err != nil {
		b.Fatal(err)
	}
	bind := cosign.Binding{Session: "s", Credential: c.id}
	b.Run("single-party", func(b *testing.B) {
		key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			b.Fatal(err)
		}
		ct, _ := gmcrypto.Encrypt(gmcrypto.PublicKey(key), make([]byte, 32), gmcrypto.FormatC1C3C2)
		for b.Loop() {
			if _, err := gmcrypto.Decrypt(key, ct, gmcrypto.FormatC1C3C2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cosign-total", func(b *testing.B) {
		for b.Loop() {
			st, _ := cosign.GatewayDecryptStart(bind, c.g, ct, gmcrypto.FormatC1C3C2)
			r, _ := cosign.PhoneDecrypt(c.sec, pin, st.Start(), bind)
			if _, err := st.Finish(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	st0, _ := cosign.GatewayDecryptStart(bind, c.g, ct, gmcrypto.FormatC1C3C2)
	b.Run("cosign-phone", func(b *testing.B) {
		for b.Loop() {
			if _, err := cosign.PhoneDecrypt(c.sec, pin, st0.Start(), bind); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cosign-gateway", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			pre, _ := cosign.GatewayDecryptStart(bind, c.g, ct, gmcrypto.FormatC1C3C2)
			r, _ := cosign.PhoneDecrypt(c.sec, pin, pre.Start(), bind)
			b.StartTimer()
			_, _ = cosign.GatewayDecryptStart(bind, c.g, ct, gmcrypto.FormatC1C3C2) // the start's cost
			if _, err := pre.Finish(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
