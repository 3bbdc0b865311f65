package ca

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Cosign credentials (two-party SM2, docs/cosign.md): the gateway keeps
// only its share of the key, wrapped under a key derived from the master
// key alone (the PIN is folded into the phone's share and never checked
// here); the public key is the product of both shares. Such a credential
// cannot be recovered by the gateway: when the phone is lost, it is
// revoked and the user requests a new one.

// purposeCosignShare derives the key that wraps the gateway's shares.
const purposeCosignShare = "cosign-share"

// CredentialModeCosign is Credential.Mode of a two-party credential.
const CredentialModeCosign = "cosign"

// CosignKeyGenBinding is the binding of the phone's key-generation message
// for a credential request of user userID (its proof must be made for it).
func CosignKeyGenBinding(userID string) cosign.Binding {
	return cosign.CredentialRequestBinding(userID)
}

// Errors of cosign credentials.
var (
	// ErrNotCosign: the operation needs a cosign credential.
	ErrNotCosign = errors.New("ca: not a cosign credential")
	// ErrIsCosign: the operation needs the whole key, which a cosign
	// credential never has at the gateway.
	ErrIsCosign = errors.New("ca: a cosign credential has no whole key at the gateway")
)

func (s *Service) shareKEK() ([]byte, error) {
	return gmcrypto.DeriveKey(s.master, purposeCosignShare, nil)
}

func (s *Service) wrapShare(id string, g *cosign.GatewayShare) ([]byte, error) {
	kek, err := s.shareKEK()
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	b := g.Bytes()
	defer gmcrypto.Zero(b)
	return gmcrypto.Wrap(kek, b, []byte(credentialKey(id)))
}

func (s *Service) unwrapShare(c *credentialRecord) (*cosign.GatewayShare, error) {
	kek, err := s.shareKEK()
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(kek)
	b, err := gmcrypto.Unwrap(kek, c.WrappedShare, []byte(credentialKey(c.ID)))
	if err != nil {
		return nil, fmt.Errorf("ca: cosign share of %s cannot be unwrapped (wrong master key?): %w", c.ID, err)
	}
	defer gmcrypto.Zero(b)
	return cosign.ParseGatewayShare(b)
}

// cosignKeyGen runs the gateway's half of key generation for a new
// credential id: the share (wrapped) and the public key.
func (s *Service) cosignKeyGen(userID, id string, req *cosign.KeyGenRequest) ([]byte, *ecdsa.PublicKey, error) {
	g, pub, err := cosign.GatewayKeyGen(CosignKeyGenBinding(userID), req)
	if err != nil {
		return nil, nil, invalid("cosign", "the key-generation message does not check")
	}
	w, err := s.wrapShare(id, g)
	if err != nil {
		return nil, nil, err
	}
	return w, pub, nil
}

// CosignShare returns the gateway's share of one of the user's active
// cosign credentials, unless the user's PIN is locked (a *PINError with
// Locked). Errors as UnlockKey, and ErrNotCosign.
func (s *Service) CosignShare(ctx context.Context, userID, credentialID string) (*cosign.GatewayShare, *Credential, error) {
	c, _, err := s.loadCredential(ctx, credentialID)
	if err != nil {
		return nil, nil, err
	}
	if c.UserID != userID {
		return nil, nil, fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
	}
	if !c.Cosign {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotCosign, c.ID)
	}
	if st := c.state(s.now()); st != StateActive {
		return nil, nil, fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
	}
	u, _, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	if !u.enrolled() {
		return nil, nil, ErrNotEnrolled
	}
	if now := s.now().UTC(); now.Before(u.LockedUntil) {
		return nil, nil, &PINError{Locked: true, RetryAfter: u.LockedUntil.Sub(now)}
	}
	g, err := s.unwrapShare(c)
	if err != nil {
		return nil, nil, err
	}
	cr, err := c.toCredential(s.now())
	if err != nil {
		return nil, nil, err
	}
	return g, cr, nil
}

// CosignOutcome records the result of a two-party operation of the user
// against the same PIN lockout as a PIN typed at the gateway: ok resets
// the count of wrong tries, a failure (the result did not verify: a wrong
// PIN folded into the phone's share) counts one and returns the *PINError
// the user would get for a wrong PIN (Locked once the lock starts).
func (s *Service) CosignOutcome(ctx context.Context, userID string, ok bool) error {
	var out error
	err := retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if ok {
			if u.FailedPINs == 0 && u.LockedUntil.IsZero() {
				out = nil
				return nil
			}
			u.FailedPINs, u.LockedUntil, u.LastPINAt = 0, time.Time{}, now
			out = nil
		} else {
			u.FailedPINs++
			lock := s.lockFor(u.FailedPINs)
			if lock > 0 {
				u.LockedUntil = now.Add(lock)
				out = &PINError{Locked: true, RetryAfter: lock}
			} else {
				out = &PINError{Remaining: s.cfg.PINMaxTries - u.FailedPINs}
			}
		}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		return b.commit(ctx, s.store)
	})
	if err != nil {
		return err
	}
	return out
}

// reshareCredential replaces the wrapped share of cosign credential c with
// the one req gives, after checking it gives back c's public key.
func (s *Service) reshareCredential(c *credentialRecord, req *cosign.ReshareRequest) error {
	if req == nil {
		return invalid("cosign", "no re-share for cosign credential %s: change the PIN on the phone that holds it", c.ID)
	}
	pub, err := gmcrypto.ParsePublicKey(c.PublicKey)
	if err != nil {
		return fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
	}
	ecpub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("ca: corrupt credential %s: not an SM2 key", c.ID)
	}
	g, err := s.unwrapShare(c)
	if err != nil {
		return err
	}
	next, err := g.Reshare(cosign.ReshareBinding(c.ID), ecpub, req)
	if err != nil {
		return invalid("cosign", "the re-share of credential %s does not give back its key (the phone's PIN or share differs)", c.ID)
	}
	w, err := s.wrapShare(c.ID, next)
	if err != nil {
		return err
	}
	c.WrappedShare = w
	return nil
}
