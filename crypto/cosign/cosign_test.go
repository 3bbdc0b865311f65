package cosign_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

const pin = "246810"

// cred is one cosign credential: the phone's stored secret, the gateway's
// stored share and the public key.
type cred struct {
	id  string
	sec *cosign.PhoneSecret
	g   *cosign.GatewayShare
	pub *ecdsa.PublicKey
}

func newCred(t testing.TB) *cred {
	t.Helper()
	b := cosign.Binding{Session: "enrol-1", Credential: "cred-1"}
	sec, req, err := cosign.PhoneKeyGen(b, pin)
	if err != nil {
		t.Fatal(err)
	}
	g, pub, err := cosign.GatewayKeyGen(b, req)
	if err != nil {
		t.Fatal(err)
	}
	return &cred{id: "cred-1", sec: sec, g: g, pub: pub}
}

// sign runs both halves of a signature of msg in session sid.
func (c *cred) sign(t testing.TB, sid string, pin string, msg []byte) ([]byte, error) {
	t.Helper()
	e, err := gmcrypto.Digest(c.pub, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cosign.GatewaySignStart(cosign.Binding{Session: sid, Credential: c.id, Digest: e})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := cosign.PhoneSign(c.sec, pin, st.Start(), cosign.Binding{Session: sid, Credential: c.id})
	if err != nil {
		t.Fatal(err)
	}
	return st.Finish(c.g, c.pub, reply)
}

func (c *cred) decrypt(t testing.TB, sid, pin string, ct []byte, f gmcrypto.CipherFormat) ([]byte, error) {
	t.Helper()
	st, err := cosign.GatewayDecryptStart(cosign.Binding{Session: sid, Credential: c.id}, c.g, ct, f)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := cosign.PhoneDecrypt(c.sec, pin, st.Start(), cosign.Binding{Session: sid, Credential: c.id, Digest: gmcrypto.SM3(ct)})
	if err != nil {
		t.Fatal(err)
	}
	return st.Finish(reply)
}

func tjfocPub(pub *ecdsa.PublicKey) *tjsm2.PublicKey {
	return &tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: pub.X, Y: pub.Y}
}

func want(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func TestSignaturesAreOrdinarySM2(t *testing.T) {
	c := newCred(t)
	var osl string
	if testkit.HaveOpenSSL(t) {
		osl = t.TempDir()
		pem, err := gmcrypto.MarshalPublicKeyPEM(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(osl, "pub.pem"), pem, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, msg := range [][]byte{[]byte("a"), []byte("two-party SM2 协同签名"), bytes.Repeat([]byte{0xA5}, 10000)} {
		sig, err := c.sign(t, fmt.Sprintf("s%d", i), pin, msg)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := gmcrypto.Verify(c.pub, msg, sig, nil); err != nil {
			t.Fatalf("message %d: our verify: %v", i, err)
		}
		if !sm2.VerifyASN1WithSM2(c.pub, nil, msg, sig) {
			t.Fatalf("message %d: emmansun rejects it", i)
		}
		if !tjfocPub(c.pub).Verify(msg, sig) {
			t.Fatalf("message %d: tjfoc rejects it", i)
		}
		if !tjfocPub(c.pub).Verify(append(msg, 0), sig) {
			// expected: another message does not verify
		} else {
			t.Fatalf("message %d: tjfoc accepts it for another message", i)
		}
		if osl != "" {
			m := filepath.Join(osl, fmt.Sprintf("msg%d", i))
			s := filepath.Join(osl, fmt.Sprintf("sig%d", i))
			if err := os.WriteFile(m, msg, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s, sig, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", m,
				"-sigfile", s, "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"}
			out := testkit.RunOpenSSL(t, osl, args...)
			if !bytes.Contains([]byte(out), []byte("Signature Verified Successfully")) {
				t.Fatalf("openssl: %s", out)
			}
			// The same command refuses a signature over other data.
			if err := os.WriteFile(m, append(msg, 'x'), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := testkit.TryOpenSSL(t, osl, args...); err == nil {
				t.Fatalf("openssl verified a signature over other data: %s", out)
			}
		}
	}
}

func TestDecryptCiphertextsOfOtherImplementations(t *testing.T) {
	c := newCred(t)
	tp := tjfocPub(c.pub)
	for _, n := range []int{1, 32, 33, 1000} {
		pt := make([]byte, n)
		if _, err := rand.Read(pt); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			f    gmcrypto.CipherFormat
			ct   func() ([]byte, error)
		}{
			{"tjfoc C1C3C2", gmcrypto.FormatC1C3C2, func() ([]byte, error) { return tjsm2.Encrypt(tp, pt, rand.Reader, tjsm2.C1C3C2) }},
			{"tjfoc C1C2C3", gmcrypto.FormatC1C2C3, func() ([]byte, error) { return tjsm2.Encrypt(tp, pt, rand.Reader, tjsm2.C1C2C3) }},
			{"tjfoc ASN.1", gmcrypto.FormatASN1, func() ([]byte, error) { return tjsm2.EncryptAsn1(tp, pt, rand.Reader) }},
			{"ours C1C3C2", gmcrypto.FormatC1C3C2, func() ([]byte, error) { return gmcrypto.Encrypt(c.pub, pt, gmcrypto.FormatC1C3C2) }},
			{"ours C1C2C3", gmcrypto.FormatC1C2C3, func() ([]byte, error) { return gmcrypto.Encrypt(c.pub, pt, gmcrypto.FormatC1C2C3) }},
			{"ours ASN.1", gmcrypto.FormatASN1, func() ([]byte, error) { return gmcrypto.Encrypt(c.pub, pt, gmcrypto.FormatASN1) }},
		}
		for _, tc := range cases {
			ct, err := tc.ct()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.decrypt(t, "d", pin, ct, tc.f)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s, %d bytes: %v", tc.name, n, err)
			}
		}
	}
	if testkit.HaveOpenSSL(t) {
		dir := t.TempDir()
		pem, err := gmcrypto.MarshalPublicKeyPEM(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		pt := []byte("sealed bid: 1,000,000 元")
		for name, data := range map[string][]byte{"pub.pem": pem, "pt": pt} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		testkit.RunOpenSSL(t, dir, "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt", "-out", "ct")
		ct, err := os.ReadFile(filepath.Join(dir, "ct"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decrypt(t, "d", pin, ct, gmcrypto.FormatASN1)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("OpenSSL's ciphertext: %v", err)
		}
	}
}

func TestWrongPINGivesAnInvalidResult(t *testing.T) {
	c := newCred(t)
	for _, bad := range []string{"246811", "000000", "2468100", "24681"} {
		_, err := c.sign(t, "s", bad, []byte("pay 100"))
		want(t, err, gmcrypto.ErrVerification)
		if err != gmcrypto.ErrVerification {
			t.Fatalf("error %q says more than the sentinel", err)
		}
		ct, err := gmcrypto.Encrypt(c.pub, []byte("bid"), gmcrypto.FormatC1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.decrypt(t, "d", bad, ct, gmcrypto.FormatC1C3C2)
		if err != gmcrypto.ErrDecryption {
			t.Fatalf("decrypt with a wrong PIN: %v", err)
		}
	}
	// The right PIN still works afterwards (nothing changed).
	if _, err := c.sign(t, "s", pin, []byte("pay 100")); err != nil {
		t.Fatal(err)
	}
	// An empty PIN is refused before anything is computed.
	b := cosign.Binding{Session: "s", Credential: c.id, Digest: gmcrypto.SM3(nil)}
	st, err := cosign.GatewaySignStart(b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cosign.PhoneSign(c.sec, "", st.Start(), b)
	want(t, err, cosign.ErrInvalidInput)
	_, _, err = cosign.PhoneKeyGen(b, "")
	want(t, err, cosign.ErrInvalidInput)
}

// badPoints are encodings every receiver must refuse. The SM2 curve has
// cofactor 1: the identity is the only point of small order, so refusing
// it and every point off the curve also refuses every small-order point.
func badPoints(t testing.TB) map[string][]byte {
	t.Helper()
	params := sm2.P256().Params()
	g := append([]byte{4}, append(params.Gx.FillBytes(make([]byte, 32)), params.Gy.FillBytes(make([]byte, 32))...)...)
	offCurve := bytes.Clone(g)
	offCurve[64] ^= 1
	xIsP := bytes.Clone(g)
	params.P.FillBytes(xIsP[1:33])
	compressed := append([]byte{2 + byte(params.Gy.Bit(0))}, g[1:33]...)
	return map[string][]byte{
		"empty":               nil,
		"identity (0x00)":     {0},
		"identity as (0, 0)":  append([]byte{4}, make([]byte, 64)...),
		"off the curve":       offCurve,
		"x = p":               xIsP,
		"compressed":          compressed,
		"no prefix":           g[1:],
		"trailing byte":       append(bytes.Clone(g), 0),
		"hybrid prefix 0x06":  append([]byte{6}, g[1:]...),
		"all ones":            bytes.Repeat([]byte{0xff}, 65),
		"generator, 0x05 tag": append([]byte{5}, g[1:]...),
	}
}

func TestInvalidPointsRefused(t *testing.T) {
	c := newCred(t)
	b := cosign.Binding{Session: "s", Credential: c.id}
	e := gmcrypto.SM3([]byte("e"))
	for name, p := range badPoints(t) {
		t.Run(name, func(t *testing.T) {
			// Q1 at the phone.
			_, err := cosign.PhoneSign(c.sec, pin, &cosign.SignStart{Session: "s", Credential: c.id, Digest: e, Q1: p}, b)
			want(t, err, cosign.ErrMalformed)
			// T1 at the phone.
			_, err = cosign.PhoneDecrypt(c.sec, pin, &cosign.DecryptStart{Session: "s", Credential: c.id, Digest: e, T1: p}, b)
			want(t, err, cosign.ErrMalformed)
			// T2 at the gateway (a reply otherwise correctly bound).
			ct, err := gmcrypto.Encrypt(c.pub, []byte("m"), gmcrypto.FormatC1C3C2)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cosign.GatewayDecryptStart(b, c.g, ct, gmcrypto.FormatC1C3C2)
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Finish(&cosign.DecryptReply{Transcript: st.Start().Transcript(), T2: p})
			want(t, err, cosign.ErrMalformed)
			// Key generation: the phone's point and its proof commitment.
			_, req, err := cosign.PhoneKeyGen(b, pin)
			if err != nil {
				t.Fatal(err)
			}
			r1, r2 := *req, *req
			r1.Point, r2.ProofT = p, p
			_, _, err = cosign.GatewayKeyGen(b, &r1)
			want(t, err, cosign.ErrMalformed)
			_, _, err = cosign.GatewayKeyGen(b, &r2)
			want(t, err, cosign.ErrMalformed)
			// C1 of a ciphertext.
			if len(p) == 65 {
				bad := append(bytes.Clone(p), ct[65:]...)
				_, err = cosign.GatewayDecryptStart(b, c.g, bad, gmcrypto.FormatC1C3C2)
				want(t, err, cosign.ErrMalformed)
			}
		})
	}
}

func TestInvalidScalarsRefused(t *testing.T) {
	c := newCred(t)
	n := sm2.P256().Params().N
	bad := map[string][]byte{
		"zero":    make([]byte, 32),
		"n":       n.FillBytes(make([]byte, 32)),
		"all ff":  bytes.Repeat([]byte{0xff}, 32),
		"short":   {1},
		"33 long": append([]byte{0}, bytes.Repeat([]byte{1}, 32)...),
	}
	for name, v := range bad {
		for _, field := range []string{"r", "s2", "s3"} {
			e := gmcrypto.SM3([]byte(name + field))
			b := cosign.Binding{Session: "s", Credential: c.id, Digest: e}
			st, err := cosign.GatewaySignStart(b)
			if err != nil {
				t.Fatal(err)
			}
			reply, err := cosign.PhoneSign(c.sec, pin, st.Start(), b)
			if err != nil {
				t.Fatal(err)
			}
			switch field {
			case "r":
				reply.R = v
			case "s2":
				reply.S2 = v
			default:
				reply.S3 = v
			}
			_, err = st.Finish(c.g, c.pub, reply)
			want(t, err, cosign.ErrMalformed)
		}
		_, req, err := cosign.PhoneKeyGen(cosign.Binding{}, pin)
		if err != nil {
			t.Fatal(err)
		}
		req.ProofZ = v
		_, _, err = cosign.GatewayKeyGen(cosign.Binding{}, req)
		want(t, err, cosign.ErrMalformed)
		_, err = cosign.ParseGatewayShare(v)
		want(t, err, cosign.ErrMalformed)
		_, req2, err := cosign.PhoneChangePIN(c.sec, pin, "135790", cosign.ReshareBinding(c.id))
		if err != nil {
			t.Fatal(err)
		}
		req2.Ratio = v
		_, err = c.g.Reshare(cosign.ReshareBinding(c.id), c.pub, req2)
		want(t, err, cosign.ErrMalformed)
	}
}

func TestReplayAndSpliceRefused(t *testing.T) {
	c := newCred(t)
	eA := gmcrypto.SM3([]byte("document A"))
	eB := gmcrypto.SM3([]byte("document B"))
	bA := cosign.Binding{Session: "sess-A", Credential: c.id, Digest: eA}
	stA, err := cosign.GatewaySignStart(bA)
	if err != nil {
		t.Fatal(err)
	}
	replyA, err := cosign.PhoneSign(c.sec, pin, stA.Start(), bA)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]cosign.Binding{
		"another session":         {Session: "sess-B", Credential: c.id, Digest: eA},
		"another credential":      {Session: "sess-A", Credential: "cred-2", Digest: eA},
		"another digest":          {Session: "sess-A", Credential: c.id, Digest: eB},
		"same binding, new round": bA,
	}
	for name, b := range starts {
		st, err := cosign.GatewaySignStart(b)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Finish(c.g, c.pub, replyA)
		want(t, err, cosign.ErrTranscript)
		// The phone refuses a start that names another exchange than the
		// one it confirms (the same binding is of course accepted).
		if name != "same binding, new round" {
			_, err = cosign.PhoneSign(c.sec, pin, st.Start(), bA)
			want(t, err, cosign.ErrTranscript)
		}
	}
	// A start altered on the way (another digest slipped in) gives a reply
	// the gateway refuses.
	forged := stA.Start()
	forged.Digest = eB
	replyForged, err := cosign.PhoneSign(c.sec, pin, forged, cosign.Binding{Session: "sess-A", Credential: c.id})
	if err != nil {
		t.Fatal(err)
	}
	stA2, err := cosign.GatewaySignStart(bA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stA2.Finish(c.g, c.pub, replyForged)
	want(t, err, cosign.ErrTranscript)
	// The genuine reply works once; the same state never finishes twice.
	if _, err := stA.Finish(c.g, c.pub, replyA); err != nil {
		t.Fatal(err)
	}
	_, err = stA.Finish(c.g, c.pub, replyA)
	want(t, err, cosign.ErrTranscript)
	_, err = stA.MarshalBinary()
	want(t, err, cosign.ErrTranscript)

	// Decryption: a reply for one ciphertext does not open another.
	ct1, _ := gmcrypto.Encrypt(c.pub, []byte("bid 1"), gmcrypto.FormatC1C3C2)
	ct2, _ := gmcrypto.Encrypt(c.pub, []byte("bid 2"), gmcrypto.FormatC1C3C2)
	b := cosign.Binding{Session: "sess-D", Credential: c.id}
	st1, err := cosign.GatewayDecryptStart(b, c.g, ct1, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := cosign.GatewayDecryptStart(b, c.g, ct2, gmcrypto.FormatC1C3C2)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := cosign.PhoneDecrypt(c.sec, pin, st1.Start(), b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st2.Finish(r1)
	want(t, err, cosign.ErrTranscript)
	_, err = cosign.PhoneDecrypt(c.sec, pin, st2.Start(), cosign.Binding{Session: "sess-D", Credential: c.id, Digest: gmcrypto.SM3(ct1)})
	want(t, err, cosign.ErrTranscript)
	if pt, err := st1.Finish(r1); err != nil || string(pt) != "bid 1" {
		t.Fatalf("genuine reply: %q %v", pt, err)
	}
	_, err = st1.Finish(r1)
	want(t, err, cosign.ErrTranscript)

	// Key generation: a proof made for one binding does not pass for another.
	_, req, err := cosign.PhoneKeyGen(cosign.Binding{Session: "enrol-A", Credential: "c"}, pin)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cosign.GatewayKeyGen(cosign.Binding{Session: "enrol-B", Credential: "c"}, req)
	want(t, err, cosign.ErrMalformed)
}

func TestStatesSurviveTheStore(t *testing.T) {
	c := newCred(t)
	b := cosign.Binding{Session: "s", Credential: c.id, Digest: gmcrypto.SM3([]byte("m"))}
	st, err := cosign.GatewaySignStart(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	reply, err := cosign.PhoneSign(c.sec, pin, st.Start(), b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := cosign.ParseSignState(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.Finish(c.g, c.pub, reply); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, []byte("{}"), raw[:len(raw)/2], bytes.Replace(raw, []byte(`"v":1`), []byte(`"v":2`), 1)} {
		_, err := cosign.ParseSignState(bad)
		want(t, err, cosign.ErrMalformed)
	}

	ct, _ := gmcrypto.Encrypt(c.pub, []byte("secret"), gmcrypto.FormatASN1)
	dst, err := cosign.GatewayDecryptStart(b, c.g, ct, gmcrypto.FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = dst.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	dreply, err := cosign.PhoneDecrypt(c.sec, pin, dst.Start(), cosign.Binding{Session: "s", Credential: c.id})
	if err != nil {
		t.Fatal(err)
	}
	dback, err := cosign.ParseDecryptState(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := dback.Finish(dreply); err != nil || string(pt) != "secret" {
		t.Fatalf("%q %v", pt, err)
	}
	_, err = cosign.ParseDecryptState(raw[:10])
	want(t, err, cosign.ErrMalformed)

	// The gateway share round-trips through its stored form.
	g2, err := cosign.ParseGatewayShare(c.g.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c.g = g2
	if _, err := c.sign(t, "s", pin, []byte("after reload")); err != nil {
		t.Fatal(err)
	}
}

// changePIN runs the whole PIN change: the phone re-shares, the gateway
// checks the message against the public key and keeps the new share only
// if it fits.
func changePIN(t testing.TB, c *cred, oldPIN, newPIN string) error {
	t.Helper()
	b := cosign.ReshareBinding(c.id)
	next, req, err := cosign.PhoneChangePIN(c.sec, oldPIN, newPIN, b)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.g.Reshare(b, c.pub, req)
	if err != nil {
		return err
	}
	c.sec, c.g = next, g
	return nil
}

func TestPINChangeKeepsThePublicKey(t *testing.T) {
	c := newCred(t)
	pub := *c.pub
	oldSec, oldG := c.sec, c.g
	// A wrong old PIN: the confirming signature fails, nothing changes.
	want(t, changePIN(t, c, "999999", "135790"), gmcrypto.ErrVerification)
	if c.sec != oldSec || c.g != oldG {
		t.Fatal("a failed PIN change changed the shares")
	}
	if err := changePIN(t, c, pin, "135790"); err != nil {
		t.Fatal(err)
	}
	if c.pub.X.Cmp(pub.X) != 0 || c.pub.Y.Cmp(pub.Y) != 0 {
		t.Fatal("public key changed")
	}
	msg := []byte("signed after the change")
	sig, err := c.sign(t, "s", "135790", msg)
	if err != nil {
		t.Fatal(err)
	}
	if !sm2.VerifyASN1WithSM2(&pub, nil, msg, sig) {
		t.Fatal("new-PIN signature does not verify under the original public key")
	}
	_, err = c.sign(t, "s", pin, msg)
	want(t, err, gmcrypto.ErrVerification)
	// The old phone secret with the old PIN is useless against the new
	// gateway share, and the new phone secret against the old share.
	old := &cred{id: c.id, sec: oldSec, g: c.g, pub: c.pub}
	_, err = old.sign(t, "s", pin, msg)
	want(t, err, gmcrypto.ErrVerification)
	mixed := &cred{id: c.id, sec: c.sec, g: oldG, pub: c.pub}
	_, err = mixed.sign(t, "s", "135790", msg)
	want(t, err, gmcrypto.ErrVerification)
	// Decryption follows the new PIN too.
	ct, _ := gmcrypto.Encrypt(c.pub, []byte("after"), gmcrypto.FormatC1C2C3)
	if pt, err := c.decrypt(t, "d", "135790", ct, gmcrypto.FormatC1C2C3); err != nil || string(pt) != "after" {
		t.Fatalf("%q %v", pt, err)
	}
}

func TestKeyGenProofChecked(t *testing.T) {
	b := cosign.Binding{Session: "enrol", Credential: "c"}
	_, req, err := cosign.PhoneKeyGen(b, pin)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := cosign.PhoneKeyGen(b, pin)
	if err != nil {
		t.Fatal(err)
	}
	swapped := *req
	swapped.Point = other.Point // a point whose discrete log the proof is not about
	_, _, err = cosign.GatewayKeyGen(b, &swapped)
	want(t, err, cosign.ErrMalformed)
	z := *req
	z.ProofZ = bytes.Clone(req.ProofZ)
	z.ProofZ[31] ^= 1
	_, _, err = cosign.GatewayKeyGen(b, &z)
	want(t, err, cosign.ErrMalformed)
	_, _, err = cosign.GatewayKeyGen(b, nil)
	want(t, err, cosign.ErrMalformed)
	// Two enrolments never give the same key.
	_, p1, err := cosign.GatewayKeyGen(b, req)
	if err != nil {
		t.Fatal(err)
	}
	_, p2, err := cosign.GatewayKeyGen(b, req)
	if err != nil {
		t.Fatal(err)
	}
	if p1.X.Cmp(p2.X) == 0 {
		t.Fatal("the gateway share is not fresh")
	}
}

func TestReshareBoundToItsCredential(t *testing.T) {
	c := newCred(t)
	_, req, err := cosign.PhoneChangePIN(c.sec, pin, "135790", cosign.ReshareBinding("another"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.g.Reshare(cosign.ReshareBinding(c.id), c.pub, req)
	want(t, err, cosign.ErrMalformed)
}

// FormatAny reads every form a CMS key transport may take, CFCA's
// unprefixed C1C2C3 included.
func TestDecryptFormatAny(t *testing.T) {
	c := newCred(t)
	pt := []byte("content-encryption key 16B")
	for _, f := range []gmcrypto.CipherFormat{gmcrypto.FormatASN1, gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3, "cfca"} {
		var ct []byte
		var err error
		if f == "cfca" {
			ct, err = gmcrypto.Encrypt(c.pub, pt, gmcrypto.FormatC1C2C3)
			ct = ct[1:]
		} else {
			ct, err = gmcrypto.Encrypt(c.pub, pt, f)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.decrypt(t, "d", pin, ct, cosign.FormatAny)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: %q %v", f, got, err)
		}
	}
	// A CFCA ciphertext whose C1 x starts with 0x30 looks like ASN.1 at
	// first sight (1 in 256: the test failed that often before).
	for tries := 0; ; tries++ {
		ct, err := gmcrypto.Encrypt(c.pub, pt, gmcrypto.FormatC1C2C3)
		if err != nil {
			t.Fatal(err)
		}
		if ct[1] != 0x30 {
			if tries > 20000 {
				t.Fatal("no ciphertext with x starting 0x30 in 20,000 tries")
			}
			continue
		}
		got, err := c.decrypt(t, "d", pin, ct[1:], cosign.FormatAny)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("cfca starting 0x30: %q %v", got, err)
		}
		break
	}
}

func TestChallengeAnswer(t *testing.T) {
	c := newCred(t)
	b := cosign.Binding{Session: "s", Credential: c.id}
	var ch cosign.Challenge
	var states []*cosign.SignState
	for i := range 3 {
		bb := b
		bb.Digest = gmcrypto.SM3([]byte{byte(i)})
		st, err := cosign.GatewaySignStart(bb)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
		ch.Sign = append(ch.Sign, st.Start())
	}
	ans, err := ch.Answer(c.sec, pin, b)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range states {
		if _, err := st.Finish(c.g, c.pub, ans.Sign[i]); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
	// A challenge holds signatures or one decryption, not both nor none.
	_, err = (&cosign.Challenge{}).Answer(c.sec, pin, b)
	want(t, err, cosign.ErrMalformed)
	_, err = (&cosign.Challenge{Sign: ch.Sign, Decrypt: &cosign.DecryptStart{}}).Answer(c.sec, pin, b)
	want(t, err, cosign.ErrMalformed)
	// The phone refuses starts for another session.
	_, err = ch.Answer(c.sec, pin, cosign.Binding{Session: "other", Credential: c.id})
	want(t, err, cosign.ErrTranscript)
}

func TestReplaceInDER(t *testing.T) {
	old := bytes.Repeat([]byte{0xAB}, 80)
	inner, _ := asn1.Marshal(struct {
		N   int
		Sig []byte
	}{7, old})
	outer, _ := asn1.Marshal(struct {
		A   asn1.RawValue
		Tag string
	}{asn1.RawValue{FullBytes: inner}, "x"})
	sig := []byte{1, 2, 3}
	got, ok := cosign.ReplaceInDER(outer, old, sig)
	if !ok {
		t.Fatal("not replaced")
	}
	var back struct {
		A struct {
			N   int
			Sig []byte
		}
		Tag string
	}
	if rest, err := asn1.Unmarshal(got, &back); err != nil || len(rest) != 0 || !bytes.Equal(back.A.Sig, sig) || back.A.N != 7 || back.Tag != "x" {
		t.Fatalf("%+v %v", back, err)
	}
	if _, ok := cosign.ReplaceInDER(outer, []byte("absent"), sig); ok {
		t.Fatal("replaced something absent")
	}
	if _, ok := cosign.ReplaceInDER([]byte{0x30, 0x05, 1}, old, sig); ok {
		t.Fatal("accepted broken DER")
	}
}

// TestMadeFrom: the gateway recognises a key-generation message repeated
// from the same seed and PIN (a fresh proof), also after a PIN change,
// and nothing else: another seed, another PIN, another binding, a broken
// proof.
func TestMadeFrom(t *testing.T) {
	b := cosign.CredentialRequestBinding("usr_1")
	sec, req, err := cosign.PhoneKeyGen(b, pin)
	if err != nil {
		t.Fatal(err)
	}
	g, pub, err := cosign.GatewayKeyGen(b, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cosign.PhoneKeyGenAgain(sec, b, pin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.ProofT, req.ProofT) || !bytes.Equal(again.Point, req.Point) {
		t.Fatal("a repeated message has the same point and a fresh proof")
	}
	for _, r := range []*cosign.KeyGenRequest{req, again} {
		if err := g.MadeFrom(b, pub, r); err != nil {
			t.Fatalf("the same share is not recognised: %v", err)
		}
	}
	_, other, err := cosign.PhoneKeyGen(b, pin)
	if err != nil {
		t.Fatal(err)
	}
	want(t, g.MadeFrom(b, pub, other), gmcrypto.ErrVerification)
	wrongPIN, err := cosign.PhoneKeyGenAgain(sec, b, "999999")
	if err != nil {
		t.Fatal(err)
	}
	want(t, g.MadeFrom(b, pub, wrongPIN), gmcrypto.ErrVerification)
	otherUser, err := cosign.PhoneKeyGenAgain(sec, cosign.CredentialRequestBinding("usr_2"), pin)
	if err != nil {
		t.Fatal(err)
	}
	want(t, g.MadeFrom(b, pub, otherUser), cosign.ErrMalformed)
	broken := *again
	broken.ProofZ = bytes.Clone(again.ProofZ)
	broken.ProofZ[31] ^= 1
	want(t, g.MadeFrom(b, pub, &broken), cosign.ErrMalformed)
	want(t, g.MadeFrom(b, pub, nil), cosign.ErrMalformed)
	// After a PIN change the new seed with the new PIN is recognised.
	c := &cred{id: "cred-1", sec: sec, g: g, pub: pub}
	if err := changePIN(t, c, pin, "135790"); err != nil {
		t.Fatal(err)
	}
	after, err := cosign.PhoneKeyGenAgain(c.sec, b, "135790")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.g.MadeFrom(b, pub, after); err != nil {
		t.Fatalf("after a PIN change: %v", err)
	}
	want(t, c.g.MadeFrom(b, pub, req), gmcrypto.ErrVerification)
}
