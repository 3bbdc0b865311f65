package session

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
)

// Step runs one confirm request of the phone user. For a usual credential
// it is Confirm (the PIN is required). For a cosign credential it is one
// of the two rounds (cosign.go): without req.Cosign the first, which
// returns the challenge for the phone and leaves the session scanned;
// with it the second, which completes the session like Confirm. The
// matching code is checked in both rounds, with the same consequences.
func (c *Confirmer) Step(ctx context.Context, req ConfirmRequest) (*Session, json.RawMessage, error) {
	if c.Sessions == nil || c.Keys == nil || c.Audit == nil {
		return nil, nil, fmt.Errorf("%w: a Confirmer needs Sessions, Keys and Audit", ErrInvalidArgument)
	}
	// A certificate session (several credentials, or none of a PIN and a
	// cosign answer for one) uses no key: Confirm hands the certificates
	// over, or refuses several credentials for another kind.
	if len(req.CredentialIDs) > 0 {
		s, err := c.Confirm(ctx, req)
		return s, nil, err
	}
	if req.PIN == "" && len(req.Cosign) == 0 {
		if s, err := c.Sessions.Get(ctx, req.SessionID); err == nil && s.Kind == KindCertificate {
			s, err := c.Confirm(ctx, req)
			return s, nil, err
		}
	}
	cred, err := c.Keys.Credential(ctx, req.UserID, req.CredentialID)
	if err != nil || !cred.Cosign {
		// Unknown or usual credentials take the usual path, which checks
		// the matching code before it reports the credential.
		if err == nil && len(req.Cosign) > 0 {
			return nil, nil, fmt.Errorf("%w: %s is not a cosign credential", ErrCosignUnsupported, cred.ID)
		}
		if err == nil && req.PIN == "" {
			return nil, nil, ErrPINRequired
		}
		s, err := c.Confirm(ctx, req)
		return s, nil, err
	}
	if c.Cosign == nil {
		return nil, nil, fmt.Errorf("%w: this gateway does not serve cosign credentials", ErrCosignUnsupported)
	}
	if req.PIN != "" {
		// The PIN of a cosign credential stays on the phone.
		return nil, nil, ErrPINNotExpected
	}
	if len(req.Cosign) == 0 {
		ch, err := c.cosignBegin(ctx, req)
		return nil, ch, err
	}
	s, err := c.cosignFinish(ctx, req)
	return s, nil, err
}

// prepare is what both rounds check first: the app still served, the
// matching code, the credential (a fitting cosign one) and that a result
// of the largest size can still be stored.
func (c *Confirmer) prepare(ctx context.Context, s *Session, req ConfirmRequest, use *KeyUse) (*Credential, *ecdsa.PublicKey, *SealMaterial, error) {
	if c.Admit != nil {
		if err := c.Admit(ctx, s); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := CheckCode(s, req.Code); err != nil {
		c.recordFailure(ctx, *use, DetailWrongCode)
		return nil, nil, nil, err
	}
	cred, err := c.Keys.Credential(ctx, req.UserID, req.CredentialID)
	if err != nil {
		return nil, nil, nil, err
	}
	if !cred.Cosign {
		return nil, nil, nil, fmt.Errorf("%w: %s is no longer a cosign credential", ErrCosignUnsupported, cred.ID)
	}
	if !CredentialFits(s, cred.IssuerID, cred.Alg, cred.Purpose) {
		return nil, nil, nil, fmt.Errorf("%w: %s (%s %s %s)", ErrCredentialMismatch, cred.ID, cred.IssuerID, cred.Alg, cred.Purpose)
	}
	use.IssuerID = cred.IssuerID
	pub, ok := cred.Certificate.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, nil, OperationFailed(ReasonKeyMismatch, fmt.Errorf("%w: a cosign credential needs an SM2 certificate", ErrCredentialMismatch))
	}
	// A seal session draws the seal the portal or the user chose, checked
	// in both rounds (a seal revoked in between is refused).
	var mat *SealMaterial
	if s.Kind == KindSeal {
		for _, d := range s.Request.Documents {
			if d.Upload != "" {
				// The result's SHA-256 of an uploaded PDF would be the
				// template's: not served two-party yet.
				return nil, nil, nil, fmt.Errorf("%w: sealing an uploaded PDF", ErrCosignUnsupported)
			}
		}
		if mat, err = c.seal(ctx, s, req, cred); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := c.Sessions.CheckConfirm(ctx, s, ResultBound(s, cred.Certificate, cred.Chain)+SealImageEstimate(s, mat)); err != nil {
		if reason, ok := opReason(err); ok {
			c.recordFailure(ctx, *use, reason)
		}
		return nil, nil, nil, err
	}
	return cred, pub, mat, nil
}

// keyFailure audits a refusal of the key side (wrong or locked PIN, or
// an operation it cannot run).
func (c *Confirmer) keyFailure(ctx context.Context, use KeyUse, err error) {
	var ke *KeyError
	if errors.As(err, &ke) {
		c.recordFailure(ctx, use, ke.Reason)
	} else if reason, ok := opReason(err); ok {
		// The key side refused the operation itself (a C1 that is not a
		// point): audited as the same failure with any other key is.
		c.recordFailure(ctx, use, reason)
	}
}

// cosignBegin is the first round: what is to be signed or decrypted is
// found by running Perform with a capturing key, and the key side starts
// the exchange.
func (c *Confirmer) cosignBegin(ctx context.Context, req ConfirmRequest) (json.RawMessage, error) {
	var challenge json.RawMessage
	err := c.Sessions.hold(ctx, req.SessionID, req.DeviceID, func(s *Session) (*cosignPending, error) {
		use := KeyUse{Session: s, DeviceID: req.DeviceID, CredentialID: req.CredentialID}
		cred, pub, mat, err := c.prepare(ctx, s, req, &use)
		if err != nil {
			return nil, err
		}
		capture := &captureKey{pub: pub}
		out, perr := Perform(s, OpKey{CredentialID: cred.ID, UserID: cred.UserID, Key: capture, Certificate: cred.Certificate, Chain: cred.Chain, Seal: mat}, c.Sessions.now())
		p := &cosignPending{Credential: cred.ID}
		var work CosignWork
		if s.Kind == KindDecrypt {
			if capture.ciphertext == nil {
				// Nothing to open for this key (not a recipient, a
				// malformed envelope): the same final failure as usual.
				if perr == nil {
					perr = OperationFailed(ReasonDecryptionFailed, errors.New("session: nothing to decrypt"))
				}
				c.recordFailure(ctx, use, ReasonDecryptionFailed)
				return nil, perr
			}
			work = CosignWork{Ciphertext: capture.ciphertext, Format: capture.format}
			p.Ciphertext = capture.ciphertext
		} else {
			if perr != nil {
				detail := defaultOpError
				if reason, ok := opReason(perr); ok {
					detail = reason
				}
				c.recordFailure(ctx, use, detail)
				return nil, perr
			}
			work.Digests = capture.digests
			p.Template, p.Placeholders, p.Digest = out.Result, capture.placeholders, out.Digest
		}
		state, ch, err := c.Cosign.CosignStart(ctx, cred, s.ID, work)
		if err != nil {
			c.keyFailure(ctx, use, err)
			return nil, err
		}
		p.State, challenge = state, ch
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return challenge, nil
}

// cosignFinish is the second round: the pending exchange is taken (single
// use), the key side finishes and verifies, and the session completes
// with the result.
func (c *Confirmer) cosignFinish(ctx context.Context, req ConfirmRequest) (*Session, error) {
	p, err := c.Sessions.takePending(ctx, req.SessionID, req.DeviceID)
	if err != nil {
		return nil, err
	}
	if p.Credential != req.CredentialID {
		return nil, fmt.Errorf("%w: the first round was for another credential", ErrCosignNotStarted)
	}
	var delivered *KeyUse
	ctx = c.withAtomicAudit(ctx)
	sess, err := c.Sessions.Confirm(ctx, req.SessionID, req.DeviceID, func(s *Session) (json.RawMessage, error) {
		use := KeyUse{Session: s, DeviceID: req.DeviceID, CredentialID: req.CredentialID}
		cred, pub, _, err := c.prepare(ctx, s, req, &use)
		if err != nil {
			return nil, err
		}
		oc, err := c.Cosign.CosignFinish(ctx, cred, p.State, req.Cosign)
		if err != nil {
			c.keyFailure(ctx, use, err)
			return nil, err
		}
		var out *Output
		if s.Kind == KindDecrypt {
			rk := &replayKey{pub: pub, ciphertext: p.Ciphertext, plaintext: oc.Plaintext}
			out, err = Perform(s, OpKey{CredentialID: cred.ID, UserID: cred.UserID, Key: rk, Certificate: cred.Certificate, Chain: cred.Chain}, c.Sessions.now())
			clear(oc.Plaintext)
			if err != nil {
				detail := defaultOpError
				if reason, ok := opReason(err); ok {
					detail = reason
				}
				c.recordFailure(ctx, use, detail)
				return nil, err
			}
		} else {
			res, err := fillTemplate(p.Template, p.Placeholders, oc.Signatures)
			if err != nil {
				return nil, err
			}
			out = &Output{Result: res, Digest: p.Digest}
		}
		u, o, err := c.deliver(ctx, s, use, out)
		if err != nil {
			return nil, err
		}
		delivered = u
		return o.Result, nil
	})
	if err != nil && delivered != nil {
		c.recordFailure(ctx, *delivered, DetailResultDiscarded)
	}
	return sess, err
}
