package cosign

// PIN change re-shares the key without forming it: the phone draws a new
// seed, derives its new share d_p' from it and the new PIN, and sends
// λ = d_p·d_p'⁻¹ (d_p from the old seed and the old PIN); the gateway's
// new share is d_g' = d_g·λ, so d_g'·d_p' = d_g·d_p and the public key is
// unchanged. λ is a uniformly random scalar to anyone who lacks one of
// the phone's shares.
//
// The gateway must not trust λ blindly: with a wrong old PIN, λ is wrong
// and the credential would be lost. So the change is confirmed by one
// two-party signature made with the new phone secret and the tentative
// gateway share (Reshare), and the gateway keeps d_g' only when it
// verifies. A failure counts against the PIN like any invalid signature.

// PhoneChangePIN returns the phone's new secret for newPIN and the ratio λ
// (32 bytes) for the gateway. A wrong oldPIN is not detected here.
func PhoneChangePIN(sec *PhoneSecret, oldPIN, newPIN string) (*PhoneSecret, []byte, error) {
	d, err := sec.share(oldPIN)
	if err != nil {
		return nil, nil, err
	}
	next, err := NewPhoneSecret()
	if err != nil {
		return nil, nil, err
	}
	d2, err := next.share(newPIN)
	if err != nil {
		return nil, nil, err
	}
	return next, scalarBytes(mul(d, inverse(d2))), nil
}

// Reshare returns the tentative new gateway share d_g·λ; the current
// share is unchanged. A λ that is not a 32-byte value in [1, n−1] is
// ErrMalformed.
func (g *GatewayShare) Reshare(ratio []byte) (*GatewayShare, error) {
	l, err := parseScalar(ratio)
	if err != nil {
		return nil, err
	}
	return &GatewayShare{d: mul(g.d, l)}, nil
}
