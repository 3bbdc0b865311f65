package cosign

import (
	"crypto/ecdsa"
	"crypto/subtle"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Two-party signing, two messages:
//
//	gateway: k1 ← [1,n−1], Q1 = [k1]G                       → SignStart{binding, Q1}
//	phone:   k2, k3 ← [1,n−1], R = [k3]Q1 + [k2]G, r = x(R) + e,
//	         s2 = d_p·k3, s3 = d_p·(r + k2)                  → SignReply{τ, r, s2, s3}
//	gateway: s = d_g·k1·s2 + d_g·s3 − r, verify (r, s) under P, release
//
// With k = k1·k3 + k2 (R = [k]G): s = d_g·d_p·(k + r) − r = (1+d)⁻¹(k + r) − r
// = (1+d)⁻¹(k − r·d), the ordinary SM2 signature. τ is the transcript
// hash of the start message, so a reply answers one start and nothing else.

// SignStart is the gateway's first signing message.
type SignStart struct {
	Session    string `json:"session"`
	Credential string `json:"credential"`
	Digest     []byte `json:"digest"` // e = SM3(Z_A || M), 32 bytes
	Q1         []byte `json:"q1"`
}

func (m *SignStart) binding() Binding {
	return Binding{Session: m.Session, Credential: m.Credential, Digest: m.Digest}
}

// Transcript returns τ, the hash that binds a reply to this message.
func (m *SignStart) Transcript() []byte {
	return transcript(labelSign, append(m.binding().fields(), m.Q1)...)
}

// SignReply is the phone's answer.
type SignReply struct {
	Transcript []byte `json:"transcript"`
	R          []byte `json:"r"`
	S2         []byte `json:"s2"`
	S3         []byte `json:"s3"`
}

// SignState is the gateway's secret state between its two steps. It is
// single use: Finish consumes it, whatever the outcome.
type SignState struct {
	mu    sync.Mutex
	start SignStart
	k1    *scalar
	used  bool
}

// Start returns the message to send to the phone.
func (st *SignState) Start() *SignStart {
	s := st.start
	return &s
}

// GatewaySignStart begins a signature over digest b.Digest (e, as
// crypto.Digest computes it for the credential's public key).
func GatewaySignStart(b Binding) (*SignState, error) {
	if len(b.Digest) != gmcrypto.DigestSize {
		return nil, fmt.Errorf("%w: digest must be %d bytes", ErrInvalidInput, gmcrypto.DigestSize)
	}
	k1, err := newRandomScalar()
	if err != nil {
		return nil, err
	}
	st := &SignState{k1: k1, start: SignStart{
		Session: b.Session, Credential: b.Credential,
		Digest: append([]byte(nil), b.Digest...), Q1: baseMul(k1).bytes(),
	}}
	return st, nil
}

// checkBinding refuses a start message that names another exchange than
// the one the phone is confirming; want.Digest is compared only when set.
func checkBinding(got, want Binding) error {
	if got.Session != want.Session || got.Credential != want.Credential {
		return ErrTranscript
	}
	if want.Digest != nil && subtle.ConstantTimeCompare(got.Digest, want.Digest) != 1 {
		return ErrTranscript
	}
	return nil
}

// PhoneSign computes the phone's answer to start with its secret and pin.
// want names the exchange the user is confirming (session and credential;
// the digest too when the phone knows it): a start for anything else is
// ErrTranscript, an invalid Q1 is ErrMalformed. A wrong PIN is not
// detected here: it gives a well-formed reply whose final signature fails.
func PhoneSign(sec *PhoneSecret, pin string, start *SignStart, want Binding) (*SignReply, error) {
	if start == nil {
		return nil, ErrMalformed
	}
	if err := checkBinding(start.binding(), want); err != nil {
		return nil, err
	}
	if len(start.Digest) != gmcrypto.DigestSize {
		return nil, ErrMalformed
	}
	q1, err := parsePoint(start.Q1)
	if err != nil {
		return nil, err
	}
	d, err := sec.share(pin)
	if err != nil {
		return nil, err
	}
	e := reduce(start.Digest)
	for range 64 {
		k2, err := newRandomScalar()
		if err != nil {
			return nil, err
		}
		k3, err := newRandomScalar()
		if err != nil {
			return nil, err
		}
		rp := pointAdd(pointMul(q1, k3), baseMul(k2))
		if rp.isIdentity() {
			continue
		}
		r := add(reduce(rp.xBytes()), e)
		if r.IsZero() == 1 {
			continue
		}
		s2 := mul(d, k3)
		s3 := mul(d, add(r, k2))
		if s3.IsZero() == 1 {
			continue
		}
		return &SignReply{
			Transcript: start.Transcript(),
			R:          scalarBytes(r), S2: scalarBytes(s2), S3: scalarBytes(s3),
		}, nil
	}
	return nil, fmt.Errorf("cosign: no usable nonce found")
}

// Finish completes the signature with the gateway's share and checks it
// against pub before returning it (DER SEQUENCE{r, s}). A reply to another
// start, or a second use of the state, is ErrTranscript; a malformed reply
// is ErrMalformed; a signature that does not verify (a wrong PIN, or a
// phone that cheated) is crypto.ErrVerification.
func (st *SignState) Finish(g *GatewayShare, pub *ecdsa.PublicKey, reply *SignReply) ([]byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.used {
		return nil, ErrTranscript
	}
	st.used = true
	if g == nil || pub == nil {
		return nil, ErrInvalidInput
	}
	if reply == nil {
		return nil, ErrMalformed
	}
	if subtle.ConstantTimeCompare(reply.Transcript, st.start.Transcript()) != 1 {
		return nil, ErrTranscript
	}
	r, err := parseScalar(reply.R)
	if err != nil {
		return nil, err
	}
	// s2 = 0 would let a phone learn d_g from a released signature
	// (s + r = d_g·s3): parseScalar refuses zero.
	s2, err := parseScalar(reply.S2)
	if err != nil {
		return nil, err
	}
	s3, err := parseScalar(reply.S3)
	if err != nil {
		return nil, err
	}
	s := sub(mul(g.d, add(mul(st.k1, s2), s3)), r)
	if s.IsZero() == 1 {
		return nil, gmcrypto.ErrVerification
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(scalarBytes(r)), new(big.Int).SetBytes(scalarBytes(s)),
	})
	if err != nil {
		return nil, gmcrypto.ErrVerification
	}
	if err := gmcrypto.VerifyDigest(pub, st.start.Digest, sig, nil); err != nil {
		return nil, gmcrypto.ErrVerification
	}
	return sig, nil
}
