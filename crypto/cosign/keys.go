package cosign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"fmt"
	"strconv"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// SeedSize is the length of the random seed the phone stores per credential.
const SeedSize = 32

// Labels that separate each hash use (version 1 of the scheme; a change
// makes every stored share or transcript unreadable, so it needs new labels).
const (
	labelShare   = "ukeygate/cosign/v1/phone-share"
	labelKeyGen  = "ukeygate/cosign/v1/keygen"
	labelSign    = "ukeygate/cosign/v1/sign"
	labelDecrypt = "ukeygate/cosign/v1/decrypt"
)

// Binding names one exchange: the session it belongs to, the credential
// whose shares are used, and the digest concerned (the SM2 e value for a
// signature, SM3 of the ciphertext for a decryption). Every message
// carries a transcript hash over it.
type Binding struct {
	Session    string
	Credential string
	Digest     []byte
}

func (b Binding) fields() [][]byte {
	return [][]byte{[]byte(b.Session), []byte(b.Credential), b.Digest}
}

// CredentialRequestBinding is the binding of the key-generation message
// the phone sends with a credential request of user userID: the
// gateway's GatewayKeyGen checks the proof for it.
func CredentialRequestBinding(userID string) Binding {
	return Binding{Session: "credential-request", Credential: userID}
}

// PhoneSecret is what the phone stores for one credential: a random seed.
// Its share of the key is derived from the seed and the PIN on each use and
// never stored, so a wrong PIN gives a wrong (but well-formed) share, and
// nothing on the phone tells a right PIN from a wrong one.
type PhoneSecret struct {
	Seed []byte
}

// NewPhoneSecret returns a fresh random seed.
func NewPhoneSecret() (*PhoneSecret, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("cosign: random: %w", err)
	}
	return &PhoneSecret{Seed: seed}, nil
}

// share derives the phone's share d_p ∈ [1, n−1] from the seed and the PIN:
// HKDF-SM3(ikm = seed, info = label || 0x00 || counter || 0x00 || PIN), the
// first counter whose 32 bytes form a value in [1, n−1] (the counter almost
// always stays 0: a 32-byte value is out of range with probability < 2⁻³²).
func (s *PhoneSecret) share(pin string) (*scalar, error) {
	if s == nil || len(s.Seed) != SeedSize {
		return nil, fmt.Errorf("%w: phone seed must be %d bytes", ErrInvalidInput, SeedSize)
	}
	if pin == "" {
		return nil, fmt.Errorf("%w: empty PIN", ErrInvalidInput)
	}
	for ctr := 0; ctr < 64; ctr++ {
		info := labelShare + "\x00" + strconv.Itoa(ctr) + "\x00" + pin
		b, err := hkdf.Key(sm3.New, s.Seed, nil, info, ScalarSize)
		if err != nil {
			return nil, fmt.Errorf("cosign: HKDF: %w", err)
		}
		if d, err := parseScalar(b); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("cosign: no phone share in range") // unreachable in practice
}

// GatewayShare is the gateway's share d_g of one credential. The gateway
// stores Bytes() wrapped under its master key.
type GatewayShare struct {
	d *scalar
}

// Bytes returns the share as 32 bytes (secret: wrap before storing).
func (g *GatewayShare) Bytes() []byte { return scalarBytes(g.d) }

// ParseGatewayShare reads a share written by Bytes; anything but a 32-byte
// value in [1, n−1] is ErrMalformed.
func ParseGatewayShare(b []byte) (*GatewayShare, error) {
	d, err := parseScalar(b)
	if err != nil {
		return nil, err
	}
	return &GatewayShare{d: d}, nil
}

// KeyGenRequest is the phone's only key-generation message: its point
// P_p = [d_p⁻¹]G and a Schnorr proof that it knows d_p⁻¹, bound to the
// Binding (commitment T = [t]G, response z = t + c·d_p⁻¹ where
// c = SM3(label, session, credential, digest, P_p, T) mod n).
type KeyGenRequest struct {
	Point  []byte `json:"point"`
	ProofT []byte `json:"proof_t"`
	ProofZ []byte `json:"proof_z"`
}

func keyGenChallenge(b Binding, p, t []byte) *scalar {
	return reduce(transcript(labelKeyGen, append(b.fields(), p, t)...))
}

// PhoneKeyGen starts a cosign credential on the phone: a fresh seed, the
// share it gives with pin, and the message for the gateway. The phone
// stores the returned secret and nothing else of this exchange (in
// particular not P_p, which with the public key would let a thief test
// PINs).
func PhoneKeyGen(b Binding, pin string) (*PhoneSecret, *KeyGenRequest, error) {
	sec, err := NewPhoneSecret()
	if err != nil {
		return nil, nil, err
	}
	req, err := PhoneKeyGenAgain(sec, b, pin)
	if err != nil {
		return nil, nil, err
	}
	return sec, req, nil
}

// PhoneKeyGenAgain is the key-generation message of a seed PhoneKeyGen
// made, with a fresh proof: what a phone sends when it repeats a
// credential request whose answer it never got (the same share, so the
// gateway recognises it, GatewayShare.MadeFrom).
func PhoneKeyGenAgain(sec *PhoneSecret, b Binding, pin string) (*KeyGenRequest, error) {
	pr, err := proveShare(sec, pin, b)
	if err != nil {
		return nil, err
	}
	return &KeyGenRequest{Point: pr.point, ProofT: pr.t, ProofZ: pr.z}, nil
}

// shareProof is the phone's point P_p = [x]G for x = d_p⁻¹ with a Schnorr
// proof of x bound to b: the part key generation and re-sharing share.
type shareProof struct {
	x        *scalar
	point, t []byte
	z        []byte
}

// proveShare derives the share of sec with pin and proves knowledge of its
// inverse.
func proveShare(sec *PhoneSecret, pin string, b Binding) (*shareProof, error) {
	d, err := sec.share(pin)
	if err != nil {
		return nil, err
	}
	x := inverse(d)
	p := baseMul(x).bytes()
	t, err := newRandomScalar()
	if err != nil {
		return nil, err
	}
	tp := baseMul(t).bytes()
	c := keyGenChallenge(b, p, tp)
	return &shareProof{x: x, point: p, t: tp, z: scalarBytes(add(t, mul(c, x)))}, nil
}

// GatewayKeyGen checks the phone's message (points valid, proof correct
// for this binding), draws the gateway's share and returns it with the
// public key P = [d_g⁻¹]P_p − G. Any defect of the message is ErrMalformed.
func GatewayKeyGen(b Binding, req *KeyGenRequest) (*GatewayShare, *ecdsa.PublicKey, error) {
	if req == nil {
		return nil, nil, ErrMalformed
	}
	pp, err := parsePoint(req.Point)
	if err != nil {
		return nil, nil, err
	}
	tp, err := parsePoint(req.ProofT)
	if err != nil {
		return nil, nil, err
	}
	z, err := parseScalar(req.ProofZ)
	if err != nil {
		return nil, nil, err
	}
	if err := checkKeyGenProof(b, req, pp, tp, z); err != nil {
		return nil, nil, err
	}
	for range 64 {
		dg, err := newRandomScalar()
		if err != nil {
			return nil, nil, err
		}
		pub := pointAdd(pointMul(pp, inverse(dg)), pointNeg(generator()))
		if pub.isIdentity() { // d_g·d_p = 1: the private key would be 0
			continue
		}
		return &GatewayShare{d: dg}, publicKey(pub), nil
	}
	return nil, nil, fmt.Errorf("cosign: no gateway share found")
}

// checkKeyGenProof checks the Schnorr proof of req (parsed: pp, tp, z) for
// binding b: [z]G == T + [c]P_p, checked as [z]G + [−c]P_p == T.
func checkKeyGenProof(b Binding, req *KeyGenRequest, pp, tp point, z *scalar) error {
	c := keyGenChallenge(b, req.Point, req.ProofT)
	lhs := pointAdd(baseMul(z), pointMul(pp, neg(c)))
	if lhs.isIdentity() || !bytes.Equal(lhs.bytes(), tp.bytes()) {
		return ErrMalformed
	}
	return nil
}

// MadeFrom reports whether req, a key-generation message checked as
// GatewayKeyGen checks it, comes from the phone share this share g was
// made with for public key pub: [d_g⁻¹]P_p − G == pub. It lets the
// gateway recognise a credential request repeated by a phone whose first
// answer was lost (same seed and PIN, a fresh proof). The phone's point
// stays valid across PIN changes (re-sharing keeps d_g·d_p). A malformed
// message is ErrMalformed; a well-formed one from another share is
// crypto.ErrVerification.
func (g *GatewayShare) MadeFrom(b Binding, pub *ecdsa.PublicKey, req *KeyGenRequest) error {
	if req == nil {
		return ErrMalformed
	}
	want, err := pointOf(pub)
	if err != nil {
		return err
	}
	pp, err := parsePoint(req.Point)
	if err != nil {
		return err
	}
	tp, err := parsePoint(req.ProofT)
	if err != nil {
		return err
	}
	z, err := parseScalar(req.ProofZ)
	if err != nil {
		return err
	}
	if err := checkKeyGenProof(b, req, pp, tp, z); err != nil {
		return err
	}
	got := pointAdd(pointMul(pp, inverse(g.d)), pointNeg(generator()))
	if got.isIdentity() || !equalPoints(got, want) {
		return gmcrypto.ErrVerification
	}
	return nil
}
