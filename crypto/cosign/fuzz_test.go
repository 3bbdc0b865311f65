package cosign_test

import (
	"errors"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Every message a peer sends is attacker-controlled: feeding arbitrary
// bytes never panics and never yields anything but a sentinel error (or,
// for the phone, a reply).

func knownErr(err error) bool {
	for _, s := range []error{cosign.ErrMalformed, cosign.ErrTranscript, cosign.ErrInvalidInput, gmcrypto.ErrVerification, gmcrypto.ErrDecryption} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzGatewayFinish(f *testing.F) {
	c := newCred(f)
	b := cosign.Binding{Session: "s", Credential: c.id, Digest: gmcrypto.SM3([]byte("m"))}
	st, err := cosign.GatewaySignStart(b)
	if err != nil {
		f.Fatal(err)
	}
	raw, err := st.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	reply, err := cosign.PhoneSign(c.sec, pin, st.Start(), b)
	if err != nil {
		f.Fatal(err)
	}
	ct, _ := gmcrypto.Encrypt(c.pub, []byte("x"), gmcrypto.FormatC1C3C2)
	f.Add(reply.Transcript, reply.R, reply.S2, reply.S3, ct)
	f.Add([]byte{}, []byte{0}, make([]byte, 32), make([]byte, 65), []byte{0x30, 0})
	f.Fuzz(func(t *testing.T, tr, r, s2, s3, other []byte) {
		st, err := cosign.ParseSignState(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Finish(c.g, c.pub, &cosign.SignReply{Transcript: tr, R: r, S2: s2, S3: s3}); err != nil && !knownErr(err) {
			t.Fatalf("sign finish: %v", err)
		}
		for _, f := range []gmcrypto.CipherFormat{gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3, gmcrypto.FormatASN1} {
			ds, err := cosign.GatewayDecryptStart(cosign.Binding{}, c.g, other, f)
			if err != nil {
				if !knownErr(err) {
					t.Fatalf("decrypt start: %v", err)
				}
				continue
			}
			if _, err := ds.Finish(&cosign.DecryptReply{Transcript: tr, T2: s3}); err != nil && !knownErr(err) {
				t.Fatalf("decrypt finish: %v", err)
			}
		}
		for _, parse := range []func([]byte) error{
			func(b []byte) error { _, err := cosign.ParseSignState(b); return err },
			func(b []byte) error { _, err := cosign.ParseDecryptState(b); return err },
			func(b []byte) error { _, err := cosign.ParseGatewayShare(b); return err },
		} {
			if err := parse(other); err != nil && !knownErr(err) {
				t.Fatalf("parse: %v", err)
			}
		}
		if _, _, err := cosign.GatewayKeyGen(cosign.Binding{}, &cosign.KeyGenRequest{Point: other, ProofT: s3, ProofZ: r}); err != nil && !knownErr(err) {
			t.Fatalf("keygen: %v", err)
		}
	})
}

func FuzzPhone(f *testing.F) {
	c := newCred(f)
	b := cosign.Binding{Session: "s", Credential: c.id, Digest: gmcrypto.SM3([]byte("m"))}
	st, err := cosign.GatewaySignStart(b)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(st.Start().Digest, st.Start().Q1)
	f.Add([]byte{1}, []byte{4, 0})
	f.Fuzz(func(t *testing.T, digest, p []byte) {
		want := cosign.Binding{Session: "s", Credential: c.id}
		if _, err := cosign.PhoneSign(c.sec, pin, &cosign.SignStart{Session: "s", Credential: c.id, Digest: digest, Q1: p}, want); err != nil && !knownErr(err) {
			t.Fatalf("phone sign: %v", err)
		}
		if _, err := cosign.PhoneDecrypt(c.sec, pin, &cosign.DecryptStart{Session: "s", Credential: c.id, Digest: digest, T1: p}, want); err != nil && !knownErr(err) {
			t.Fatalf("phone decrypt: %v", err)
		}
	})
}
