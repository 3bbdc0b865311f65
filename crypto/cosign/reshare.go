package cosign

import (
	"bytes"
	"crypto/ecdsa"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// PIN change re-shares the key without forming it: the phone draws a new
// seed, derives its new share d_p' from it and the new PIN, and sends
// λ = d_p·d_p'⁻¹ (d_p from the old seed and the old PIN) with
// P_p' = [d_p'⁻¹]G and a Schnorr proof of d_p'⁻¹. The gateway's new share
// is d_g' = d_g·λ, so d_g'·d_p' = d_g·d_p and the public key is unchanged.
//
// The gateway checks before it keeps d_g': the proof, and
// [d_g'⁻¹]P_p' − G = P, which holds only if λ·d_p' = d_p, i.e. only for
// someone who knew the old share (the old PIN with the old seed). A wrong
// old PIN gives crypto.ErrVerification, which the gateway counts like any
// wrong PIN; the credential is untouched. What the gateway learns, λ and
// P_p' = [d_g'](P + G), tells it nothing it could not compute from its own
// share: λ is uniformly random without one of the phone's shares.

// ReshareRequest is the phone's PIN-change message for one credential.
type ReshareRequest struct {
	Ratio  []byte `json:"ratio"`
	Point  []byte `json:"point"`
	ProofT []byte `json:"proof_t"`
	ProofZ []byte `json:"proof_z"`
}

// ReshareBinding binds a PIN-change message to the credential it re-shares.
func ReshareBinding(credentialID string) Binding {
	return Binding{Session: "pin-change", Credential: credentialID}
}

// PhoneChangePIN returns the phone's new secret for newPIN and the message
// for the gateway. A wrong oldPIN is not detected here (the gateway's check
// fails).
func PhoneChangePIN(sec *PhoneSecret, oldPIN, newPIN string, b Binding) (*PhoneSecret, *ReshareRequest, error) {
	d, err := sec.share(oldPIN)
	if err != nil {
		return nil, nil, err
	}
	next, err := NewPhoneSecret()
	if err != nil {
		return nil, nil, err
	}
	pr, err := proveShare(next, newPIN, b)
	if err != nil {
		return nil, nil, err
	}
	return next, &ReshareRequest{Ratio: scalarBytes(mul(d, pr.x)), Point: pr.point, ProofT: pr.t, ProofZ: pr.z}, nil
}

// Reshare checks req against the credential's public key pub and returns
// the new gateway share; the current share is unchanged either way. A
// malformed message is ErrMalformed; one that does not give back pub (a
// wrong old PIN) is crypto.ErrVerification.
func (g *GatewayShare) Reshare(b Binding, pub *ecdsa.PublicKey, req *ReshareRequest) (*GatewayShare, error) {
	if req == nil {
		return nil, ErrMalformed
	}
	want, err := pointOf(pub)
	if err != nil {
		return nil, err
	}
	l, err := parseScalar(req.Ratio)
	if err != nil {
		return nil, err
	}
	pp, err := parsePoint(req.Point)
	if err != nil {
		return nil, err
	}
	tp, err := parsePoint(req.ProofT)
	if err != nil {
		return nil, err
	}
	z, err := parseScalar(req.ProofZ)
	if err != nil {
		return nil, err
	}
	c := keyGenChallenge(b, req.Point, req.ProofT)
	lhs := pointAdd(baseMul(z), pointMul(pp, neg(c)))
	if lhs.isIdentity() || !bytes.Equal(lhs.bytes(), tp.bytes()) {
		return nil, ErrMalformed
	}
	next := mul(g.d, l)
	got := pointAdd(pointMul(pp, inverse(next)), pointNeg(generator()))
	if got.isIdentity() || !equalPoints(got, want) {
		return nil, gmcrypto.ErrVerification
	}
	return &GatewayShare{d: next}, nil
}
