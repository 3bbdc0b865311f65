package cosign

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

var n = sm2.P256().Params().N

func toBig(s *scalar) *big.Int { return new(big.Int).SetBytes(scalarBytes(s)) }

func fromBig(t testing.TB, v *big.Int) *scalar {
	t.Helper()
	s, err := parseScalar(v.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The constant-time scalar arithmetic agrees with math/big, edge values included.
func TestScalarArithmetic(t *testing.T) {
	vals := []*big.Int{big.NewInt(1), big.NewInt(2), new(big.Int).Sub(n, big.NewInt(1)), new(big.Int).Sub(n, big.NewInt(2))}
	for range 40 {
		v, err := rand.Int(rand.Reader, new(big.Int).Sub(n, big.NewInt(1)))
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v.Add(v, big.NewInt(1)))
	}
	mod := func(v *big.Int) *big.Int { return v.Mod(v, n) }
	for i, a := range vals {
		b := vals[(i*7+3)%len(vals)]
		sa, sb := fromBig(t, a), fromBig(t, b)
		checks := []struct {
			name      string
			got, want *big.Int
		}{
			{"mul", toBig(mul(sa, sb)), mod(new(big.Int).Mul(a, b))},
			{"add", toBig(add(sa, sb)), mod(new(big.Int).Add(a, b))},
			{"sub", toBig(sub(sa, sb)), mod(new(big.Int).Sub(a, b))},
			{"neg", toBig(neg(sa)), mod(new(big.Int).Neg(a))},
			{"inverse", toBig(inverse(sa)), new(big.Int).ModInverse(a, n)},
		}
		for _, c := range checks {
			if c.got.Cmp(c.want) != 0 {
				t.Fatalf("%s(%x, %x) = %x, want %x", c.name, a, b, c.got, c.want)
			}
		}
		// The inputs are not modified.
		if toBig(sa).Cmp(a) != 0 || toBig(sb).Cmp(b) != 0 {
			t.Fatal("operand modified")
		}
	}
	// reduce maps values ≥ n below n.
	if got := toBig(reduce(n.FillBytes(make([]byte, 32)))); got.Sign() != 0 {
		t.Fatalf("reduce(n) = %x", got)
	}
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	if got, want := toBig(reduce(max.FillBytes(make([]byte, 32)))), new(big.Int).Mod(max, n); got.Cmp(want) != 0 {
		t.Fatalf("reduce(2^256-1) = %x, want %x", got, want)
	}
}

// wholeKey forms d = (d_g·d_p)⁻¹ − 1 — only this test ever does, to check
// the algebra against an ordinary single-party SM2 key.
func wholeKey(t testing.TB, g *GatewayShare, sec *PhoneSecret, pin string) *sm2.PrivateKey {
	t.Helper()
	dp, err := sec.share(pin)
	if err != nil {
		t.Fatal(err)
	}
	d := toBig(sub(inverse(mul(g.d, dp)), fromBig(t, big.NewInt(1))))
	k, err := sm2.NewPrivateKeyFromInt(d)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCredential(t testing.TB) (*PhoneSecret, *GatewayShare, *sm2.PrivateKey) {
	t.Helper()
	b := Binding{Session: "e", Credential: "c"}
	sec, req, err := PhoneKeyGen(b, "123456")
	if err != nil {
		t.Fatal(err)
	}
	g, pub, err := GatewayKeyGen(b, req)
	if err != nil {
		t.Fatal(err)
	}
	k := wholeKey(t, g, sec, "123456")
	if k.X.Cmp(pub.X) != 0 || k.Y.Cmp(pub.Y) != 0 {
		t.Fatal("public key is not [(d_g·d_p)⁻¹ − 1]G")
	}
	return sec, g, k
}

func TestPublicKeyIsTheProductKey(t *testing.T) {
	sec, g, k := newCredential(t)
	// A single-party decryption with the formed key and a two-party one agree.
	ct, err := gmcrypto.Encrypt(&k.PublicKey, []byte("same"), gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := gmcrypto.Decrypt(k, ct, gmcrypto.FormatC1C3C2); err != nil || string(pt) != "same" {
		t.Fatal(err)
	}
	st, err := GatewayDecryptStart(Binding{}, g, ct, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := PhoneDecrypt(sec, "123456", st.Start(), Binding{})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := st.Finish(r); err != nil || string(pt) != "same" {
		t.Fatal(err)
	}
	// A PIN change keeps d_g·d_p.
	next, req, err := PhoneChangePIN(sec, "123456", "654321", ReshareBinding("c"))
	if err != nil {
		t.Fatal(err)
	}
	g2, err := g.Reshare(ReshareBinding("c"), &k.PublicKey, req)
	if err != nil {
		t.Fatal(err)
	}
	if k2 := wholeKey(t, g2, next, "654321"); k2.D.Cmp(k.D) != 0 {
		t.Fatal("re-sharing changed the key")
	}
}

// attempt signs msg with the given shares through the protocol.
func attempt(t testing.TB, sec *PhoneSecret, pin string, g *GatewayShare, k *sm2.PrivateKey, msg []byte) error {
	t.Helper()
	e, err := gmcrypto.Digest(&k.PublicKey, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := Binding{Session: "s", Credential: "c", Digest: e}
	st, err := GatewaySignStart(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := PhoneSign(sec, pin, st.Start(), b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Finish(g, &k.PublicKey, r)
	return err
}

var somePINs = []string{"000000", "111111", "123456", "246810", "999999", "12345678"}

// Everything the gateway stores (its share; the master key only unwraps
// it) cannot produce a signature: neither as a key of its own nor with a
// phone half simulated from any seed and any PIN (the right one included).
func TestGatewayStoreAloneCannotSign(t *testing.T) {
	_, g, k := newCredential(t)
	msg := []byte("forged order")
	e, _ := gmcrypto.Digest(&k.PublicKey, msg, nil)
	for _, guess := range []*big.Int{toBig(g.d), toBig(sub(inverse(g.d), fromBig(t, big.NewInt(1))))} {
		key, err := sm2.NewPrivateKeyFromInt(guess)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := gmcrypto.SignDigest(key, e, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gmcrypto.VerifyDigest(&k.PublicKey, e, sig, nil) == nil {
			t.Fatal("the gateway share alone signed")
		}
	}
	for _, p := range somePINs {
		sim, err := NewPhoneSecret()
		if err != nil {
			t.Fatal(err)
		}
		if err := attempt(t, sim, p, g, k, msg); !errors.Is(err, gmcrypto.ErrVerification) {
			t.Fatalf("PIN %s with a simulated phone: %v", p, err)
		}
	}
}

// The phone's stored seed, with any PIN (the right one included), cannot
// produce a signature without the gateway's share.
func TestPhoneStoreAloneCannotSign(t *testing.T) {
	sec, _, k := newCredential(t)
	msg := []byte("forged order")
	e, _ := gmcrypto.Digest(&k.PublicKey, msg, nil)
	for _, p := range somePINs {
		dp, err := sec.share(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, guess := range []*big.Int{toBig(dp), toBig(sub(inverse(dp), fromBig(t, big.NewInt(1))))} {
			key, err := sm2.NewPrivateKeyFromInt(guess)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := gmcrypto.SignDigest(key, e, nil)
			if err != nil {
				t.Fatal(err)
			}
			if gmcrypto.VerifyDigest(&k.PublicKey, e, sig, nil) == nil {
				t.Fatalf("the phone share alone (PIN %s) signed", p)
			}
		}
		fake, err := randomScalar(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := attempt(t, sec, p, &GatewayShare{d: fake}, k, msg); !errors.Is(err, gmcrypto.ErrVerification) {
			t.Fatalf("PIN %s with a simulated gateway: %v", p, err)
		}
	}
}

// What the phone sees during decryption, T1, is blinded: two starts for
// the same ciphertext differ, so T1 carries nothing to test a PIN against.
func TestDecryptStartIsBlinded(t *testing.T) {
	_, g, k := newCredential(t)
	ct, _ := gmcrypto.Encrypt(&k.PublicKey, []byte("bid"), gmcrypto.FormatC1C3C2)
	a, err := GatewayDecryptStart(Binding{}, g, ct, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GatewayDecryptStart(Binding{}, g, ct, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.start.T1) == string(b.start.T1) {
		t.Fatal("T1 is not blinded")
	}
	unblinded := pointMul(a.c1, inverse(g.d)).bytes()
	if string(a.start.T1) == string(unblinded) {
		t.Fatal("T1 = [d_g⁻¹]C1")
	}
}

func TestRandomScalarRejectsOutOfRange(t *testing.T) {
	// A source that first yields n (out of range), then zero, then 5.
	src := append(append(n.FillBytes(make([]byte, 32)), make([]byte, 32)...), big.NewInt(5).FillBytes(make([]byte, 32))...)
	s, err := randomScalar(bytes.NewReader(src))
	if err != nil || toBig(s).Int64() != 5 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := randomScalar(bytes.NewReader(nil)); err == nil {
		t.Fatal("an empty source gave a scalar")
	}
}
