package cosign

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"sync"

	"github.com/emmansun/gmsm/kdf"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Two-party decryption of an SM2 ciphertext (C1, C3, C2), two messages:
//
//	gateway: ρ ← [1,n−1], T1 = [ρ·d_g⁻¹]C1                  → DecryptStart{binding, T1}
//	phone:   T2 = [d_p⁻¹]T1                                  → DecryptReply{τ, T2}
//	gateway: [d]C1 = [ρ⁻¹]T2 − C1 = (x2, y2); t = KDF(x2||y2, |C2|),
//	         M = C2 ⊕ t, check C3 = SM3(x2 || M || y2)
//
// since [ρ⁻¹]T2 = [(d_g·d_p)⁻¹]C1 = [1 + d]C1. The blinding ρ (our
// addition to the published scheme) makes T1 a uniformly random point for
// the phone: without it T1 = [d_g⁻¹]C1 would let whoever holds the
// phone's seed test PIN guesses offline against a ciphertext whose
// plaintext it knows.

// DecryptStart is the gateway's first decryption message. Digest is SM3
// of the ciphertext as received.
type DecryptStart struct {
	Session    string `json:"session"`
	Credential string `json:"credential"`
	Digest     []byte `json:"digest"`
	T1         []byte `json:"t1"`
}

func (m *DecryptStart) binding() Binding {
	return Binding{Session: m.Session, Credential: m.Credential, Digest: m.Digest}
}

// Transcript returns τ, the hash that binds a reply to this message.
func (m *DecryptStart) Transcript() []byte {
	return transcript(labelDecrypt, append(m.binding().fields(), m.T1)...)
}

// DecryptReply is the phone's answer.
type DecryptReply struct {
	Transcript []byte `json:"transcript"`
	T2         []byte `json:"t2"`
}

// DecryptState is the gateway's secret state between its two steps;
// single use.
type DecryptState struct {
	mu    sync.Mutex
	start DecryptStart
	rho   *scalar
	c1    point
	// alts are the (C2, C3) readings of the ciphertext: one, or two for
	// FormatAny (C1C3C2 and C1C2C3: the C3 check tells which).
	alts []split
	used bool
}

type split struct{ c2, c3 []byte }

// FormatAny accepts an SM2 ciphertext in any form a CMS key transport
// may carry: ASN.1, C1C3C2 or C1C2C3 with the 0x04 prefix, or CFCA's
// C1C2C3 without it.
const FormatAny gmcrypto.CipherFormat = "sm2-any"

// Start returns the message to send to the phone.
func (st *DecryptState) Start() *DecryptStart {
	s := st.start
	return &s
}

// splitPlain reads a plain ciphertext C1 || (C3 C2 | C2 C3) with an
// uncompressed C1.
func splitPlain(plain []byte, c1c2c3 bool) (point, split, error) {
	if len(plain) < PointSize+sm3.Size+1 || plain[0] != 4 {
		return point{}, split{}, ErrMalformed
	}
	c1, err := parsePoint(plain[:PointSize])
	if err != nil {
		return point{}, split{}, err
	}
	rest := plain[PointSize:]
	if c1c2c3 {
		n := len(rest) - sm3.Size
		return c1, split{c2: bytes.Clone(rest[:n]), c3: bytes.Clone(rest[n:])}, nil
	}
	return c1, split{c2: bytes.Clone(rest[sm3.Size:]), c3: bytes.Clone(rest[:sm3.Size])}, nil
}

// splitCiphertext returns C1 and the (C2, C3) readings of an SM2
// ciphertext in format f (C1C3C2 or C1C2C3 with an uncompressed C1, GM/T
// 0009 ASN.1, or FormatAny).
func splitCiphertext(ct []byte, f gmcrypto.CipherFormat) (point, []split, error) {
	switch f {
	case gmcrypto.FormatC1C3C2, gmcrypto.FormatC1C2C3:
		c1, sp, err := splitPlain(ct, f == gmcrypto.FormatC1C2C3)
		if err != nil {
			return point{}, nil, err
		}
		return c1, []split{sp}, nil
	case gmcrypto.FormatASN1:
		if len(ct) == 0 || ct[0] != 0x30 {
			return point{}, nil, ErrMalformed
		}
		plain, err := sm2.ASN1Ciphertext2Plain(ct, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
		if err != nil {
			return point{}, nil, ErrMalformed
		}
		return splitCiphertext(plain, gmcrypto.FormatC1C3C2)
	case FormatAny:
		if len(ct) > 0 && ct[0] == 0x30 {
			if c1, alts, err := splitCiphertext(ct, gmcrypto.FormatASN1); err == nil {
				return c1, alts, nil
			}
			// Not ASN.1: a CFCA ciphertext whose C1 x starts with 0x30
			// (1 in 256) is read below.
		}
		if c1, a, err := splitPlain(ct, false); err == nil {
			_, b, _ := splitPlain(ct, true)
			return c1, []split{a, b}, nil
		}
		// CFCA: C1C2C3 without the 0x04 prefix.
		return splitCiphertext(append([]byte{4}, ct...), gmcrypto.FormatC1C2C3)
	}
	return point{}, nil, fmt.Errorf("%w: cipher format %q", ErrInvalidInput, string(f))
}

// GatewayDecryptStart begins decrypting ciphertext (format f) for the
// credential named in b; b.Digest is ignored and set to SM3(ciphertext).
// A ciphertext that cannot be split or whose C1 is not a valid point is
// ErrMalformed.
func GatewayDecryptStart(b Binding, g *GatewayShare, ciphertext []byte, f gmcrypto.CipherFormat) (*DecryptState, error) {
	if g == nil {
		return nil, ErrInvalidInput
	}
	c1, alts, err := splitCiphertext(ciphertext, f)
	if err != nil {
		return nil, err
	}
	rho, err := newRandomScalar()
	if err != nil {
		return nil, err
	}
	t1 := pointMul(c1, mul(rho, inverse(g.d)))
	st := &DecryptState{rho: rho, c1: c1, alts: alts, start: DecryptStart{
		Session: b.Session, Credential: b.Credential,
		Digest: gmcrypto.SM3(ciphertext), T1: t1.bytes(),
	}}
	return st, nil
}

// PhoneDecrypt computes the phone's answer to start with its secret and
// pin; want as for PhoneSign (its Digest, when set, is SM3 of the
// ciphertext). An invalid T1 is ErrMalformed.
func PhoneDecrypt(sec *PhoneSecret, pin string, start *DecryptStart, want Binding) (*DecryptReply, error) {
	if start == nil {
		return nil, ErrMalformed
	}
	if err := checkBinding(start.binding(), want); err != nil {
		return nil, err
	}
	t1, err := parsePoint(start.T1)
	if err != nil {
		return nil, err
	}
	d, err := sec.share(pin)
	if err != nil {
		return nil, err
	}
	t2 := pointMul(t1, inverse(d))
	return &DecryptReply{Transcript: start.Transcript(), T2: t2.bytes()}, nil
}

// Finish completes the decryption and returns the plaintext. A reply to
// another start, or a second use, is ErrTranscript; an invalid T2 is
// ErrMalformed; a result that fails the C3 check (a wrong PIN, or a
// cheating phone) is crypto.ErrDecryption.
func (st *DecryptState) Finish(reply *DecryptReply) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.used {
		return nil, ErrTranscript
	}
	st.used = true
	if reply == nil {
		return nil, ErrMalformed
	}
	if subtle.ConstantTimeCompare(reply.Transcript, st.start.Transcript()) != 1 {
		return nil, ErrTranscript
	}
	t2, err := parsePoint(reply.T2)
	if err != nil {
		return nil, err
	}
	v := pointAdd(pointMul(t2, inverse(st.rho)), pointNeg(st.c1))
	if v.isIdentity() {
		return nil, gmcrypto.ErrDecryption
	}
	x2, y2 := v.xBytes(), v.yBytes()
	for _, sp := range st.alts {
		if msg, ok := openWith(x2, y2, sp); ok {
			return msg, nil
		}
	}
	return nil, gmcrypto.ErrDecryption
}

// openWith finishes GB/T 32918.4 decryption with [d]C1 = (x2, y2).
func openWith(x2, y2 []byte, sp split) ([]byte, bool) {
	t := kdf.Kdf(sm3.New, append(append([]byte(nil), x2...), y2...), len(sp.c2))
	if subtle.ConstantTimeCompare(t, make([]byte, len(t))) == 1 {
		return nil, false
	}
	msg := make([]byte, len(sp.c2))
	subtle.XORBytes(msg, sp.c2, t)
	h := sm3.New()
	h.Write(x2)
	h.Write(msg)
	h.Write(y2)
	if subtle.ConstantTimeCompare(h.Sum(nil), sp.c3) != 1 {
		gmcrypto.Zero(msg)
		return nil, false
	}
	return msg, true
}
