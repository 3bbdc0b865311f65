package session_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ukeygate/ukeygate/session"
)

// TestCreateRefusesSessionsThatCanOnlyFail: a decrypt whose ciphertext
// does not have its format's shape is ErrBadCiphertext, a session whose
// result could not be stored ErrResultTooLarge (which is an ErrTooLarge);
// neither stores anything.
func TestCreateRefusesSessionsThatCanOnlyFail(t *testing.T) {
	e := newEnv(t, func(c *session.Config) { c.MaxWriteBytes = 128 << 10; c.MaxDataBytes = 32 << 10 })
	raw := shapedCT(t, "c1c3c2", 300)
	for _, tc := range []struct {
		name string
		p    session.CreateParams
		want error
	}{
		{"random bytes as c1c3c2", decryptParams("c1c3c2", randomBytes(t, 300)), session.ErrBadCiphertext},
		{"C1 altered", decryptParams("c1c2c3", flipByte(raw, 10)), session.ErrBadCiphertext},
		{"raw as asn1", decryptParams("asn1", raw), session.ErrBadCiphertext},
		{"asn1 as cms", decryptParams("cms", shapedCT(t, "asn1", 300)), session.ErrBadCiphertext},
		{"rsa of 100 bytes", decryptParams("rsa-oaep", randomBytes(t, 100)), session.ErrBadCiphertext},
		// Each CMS carries the certificates, base64-encoded twice in the
		// completed event: 40 of them do not fit 128 KiB.
		{"many cms-detached", signParams("cms-detached", manyDocs(t, 40)...), session.ErrResultTooLarge},
		{"a long issuer chain", withChain(signParams("cms-detached", manyDocs(t, 10)...), 8<<10), session.ErrResultTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.storeSize(t)
			_, _, _, err := e.svc.Create(e.ctx, tc.p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create: %v, want %v", err, tc.want)
			}
			if errors.Is(tc.want, session.ErrResultTooLarge) && !errors.Is(err, session.ErrTooLarge) {
				t.Fatalf("%v is not an ErrTooLarge", err)
			}
			if e.storeSize(t) != before {
				t.Fatal("a refused session stored keys")
			}
		})
	}
	// What fits is accepted: the same data detached, as a digest, the
	// unprefixed raw ciphertext of npm sm-crypto's shape.
	for name, p := range map[string]session.CreateParams{
		"cms-attached":   withChain(signParams("cms-attached", session.Document{Name: "a", Data: randomBytes(t, 32<<10)}), 4<<10),
		"raw 40 digests": signParams("raw", manyDocs(t, 40)...),
		"short chain":    signParams("cms-detached", manyDocs(t, 10)...),
		"no 04 prefix":   decryptParams("c1c3c2", raw[1:]),
		"with 04 prefix": decryptParams("c1c2c3", raw),
	} {
		if _, _, _, err := e.svc.Create(e.ctx, p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func flipByte(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func manyDocs(t *testing.T, n int) []session.Document {
	docs := make([]session.Document, n)
	for i := range docs {
		docs[i] = session.Document{Name: fmt.Sprintf("doc%d.pdf", i), Digest: randomBytes(t, 32)}
	}
	return docs
}

func withChain(p session.CreateParams, n int) session.CreateParams {
	p.ChainBytes = n
	return p
}
