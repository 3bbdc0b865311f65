package ca

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// A forgotten PIN (or a lost phone and a forgotten PIN): the keys are
// wrapped under a PIN nobody knows any more. After the user's identity is
// verified again (the operator's RA step, audited with its reason),
// ResetPIN, in ONE transaction:
//
//   - revokes every device of the user and replaces any unused activation
//     code by a new one (returned once): the user enrolls again and sets a
//     new PIN;
//   - revokes the user's signing credentials (reason superseded; they
//     enter the CRL) and notes them: the first enrollment after the reset
//     issues a new signing credential for each (same issuer and
//     algorithm) under the new PIN. Cosign ones are not re-issued (the
//     phone must make a new key with the gateway);
//   - marks the escrowed encryption credentials AwaitingRecovery: their
//     keys come back through a dual-control recovery (escrow.go) and are
//     wrapped under the new PIN by FinishRecovery;
//   - revokes the encryption credentials without escrow copy (reason
//     cessationOfOperation): their keys are LOST with the old PIN, and
//     what was encrypted to them cannot be opened any more. PINReset.Lost
//     names them so that the operator can tell the user;
//   - deletes every delegation of the user (either side): its wraps were
//     under the old PIN or for credentials now revoked; they must be
//     granted again.

// maxResetReasonLen bounds the reason of a PIN reset.
const maxResetReasonLen = 200

// Revocation reasons of a PIN reset.
const (
	ResetSignReason = "superseded"
	ResetLostReason = "cessationOfOperation"
)

// reissueSpec is a signing credential to issue again at the first
// enrollment after a PIN reset.
type reissueSpec struct {
	IssuerID string       `json:"issuer"`
	Alg      gmcrypto.Alg `json:"alg"`
	RSABits  int          `json:"rsa_bits,omitempty"`
	Old      string       `json:"old"`
}

// PINReset is what ResetPIN did.
type PINReset struct {
	User   *User
	Reason string
	// RevokedDevices are the devices revoked now.
	RevokedDevices []string
	// Revoked are the signing credentials revoked now; Reissue how many
	// the next enrollment issues again.
	Revoked []string
	Reissue int
	// AwaitingRecovery are the escrowed encryption credentials that wait
	// for a recovery (OpenRecovery).
	AwaitingRecovery []string
	// Lost are the encryption credentials without escrow copy: revoked,
	// their keys lost with the old PIN.
	Lost []string
	// Delegations deleted.
	Delegations int
}

// ResetPIN resets a user's PIN after the operator re-verified the user's
// identity (reason is required, at most 200 characters), and returns
// what it did with a new activation code (shown once). See above.
// Errors: ErrUserNotFound, ErrNotEnrolled (no PIN to reset: a new
// activation code is NewActivationCode's), ErrCredentialLimit (too many
// records to change in one transaction), a *RequestError (reason).
func (s *Service) ResetPIN(ctx context.Context, userID, reason string) (*PINReset, string, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, "", invalid("reason", "required")
	}
	if err := checkText("reason", reason, maxResetReasonLen, true); err != nil {
		return nil, "", err
	}
	code, err := newActivationCode()
	if err != nil {
		return nil, "", err
	}
	norm, _ := normalizeCode(code)
	ak := s.activationStoreKey(norm)
	var out *PINReset
	err = retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		if !u.enrolled() {
			return fmt.Errorf("%w: %s has no PIN to reset", ErrNotEnrolled, u.ID)
		}
		now := s.now().UTC().Truncate(time.Second)
		res := &PINReset{Reason: reason, RevokedDevices: []string{}, Revoked: []string{}, AwaitingRecovery: []string{}, Lost: []string{}}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		for _, id := range u.Devices {
			d, drev, err := s.loadDevice(ctx, id)
			if errors.Is(err, ErrDeviceNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !d.RevokedAt.IsZero() {
				continue
			}
			d.RevokedAt, d.RevocationReason = now, "PIN reset: "+reason
			b.cond(deviceKey(d.ID), drev)
			b.put(deviceKey(d.ID), d, 0)
			res.RevokedDevices = append(res.RevokedDevices, d.ID)
		}
		creds, err := s.userCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		var specs []reissueSpec
		for _, c := range creds {
			st := c.rec.state(now)
			live := st == StateActive || st == StatePending || st == StateSuperseded
			if !c.rec.Cosign && !(c.rec.Purpose == PurposeEncrypt && len(c.rec.Escrow) > 0 && st != StatePending && st != StateRevoked) {
				// Its key is wrapped under the forgotten PIN: nothing can
				// open it any more, and a later PIN change must not try.
				// Erase the wrap (the revocation below writes the record).
				c.rec.WrappedKey = nil
				if !live {
					b.cond(credentialKey(c.rec.ID), c.rev)
					b.put(credentialKey(c.rec.ID), c.rec, 0)
				}
			}
			if st == StateRevoked {
				continue
			}
			switch {
			case c.rec.Purpose == PurposeSign:
				if !live {
					continue
				}
				if err := s.revokeOps(ctx, &b, c.rec, c.rev, ResetSignReason, now); err != nil {
					return err
				}
				res.Revoked = append(res.Revoked, c.rec.ID)
				if !c.rec.Cosign && st != StateSuperseded {
					specs = append(specs, reissueSpec{IssuerID: c.rec.IssuerID, Alg: c.rec.Alg, RSABits: c.rec.RSABits, Old: c.rec.ID})
				}
			case len(c.rec.Escrow) > 0 && !c.rec.Cosign:
				if st == StatePending {
					// No certificate yet: nothing was encrypted to it.
					if err := s.revokeOps(ctx, &b, c.rec, c.rev, ResetLostReason, now); err != nil {
						return err
					}
					res.Lost = append(res.Lost, c.rec.ID)
					continue
				}
				c.rec.AwaitingRecovery = true
				b.cond(credentialKey(c.rec.ID), c.rev)
				b.put(credentialKey(c.rec.ID), c.rec, 0)
				res.AwaitingRecovery = append(res.AwaitingRecovery, c.rec.ID)
			default:
				res.Lost = append(res.Lost, c.rec.ID)
				if live {
					if err := s.revokeOps(ctx, &b, c.rec, c.rev, ResetLostReason, now); err != nil {
						return err
					}
				}
			}
		}
		dels, n, err := s.DelegationDeleteOps(ctx, u.ID)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, dels...)
		res.Delegations = n
		old, err := s.unusedActivations(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, kv := range old {
			b.cond(kv.Key, kv.Revision)
			b.del(kv.Key)
		}
		u.PINSalt, u.PINVerifier, u.FailedPINs, u.LockedUntil = nil, nil, 0, time.Time{}
		u.ActivationExpiresAt = now.Add(s.cfg.ActivationTTL)
		u.Reissue = specs
		b.put(userKey(u.ID), u, 0)
		b.cond(ak, 0)
		b.put(ak, &activationRecord{UserID: u.ID, ExpiresAt: u.ActivationExpiresAt}, s.cfg.ActivationTTL+activationGrace)
		if len(b.ops) > storage.MaxTxnOps-8 {
			return fmt.Errorf("%w: a PIN reset of %s needs %d store operations; revoke unused credentials first", ErrCredentialLimit, u.ID, len(b.ops))
		}
		res.User, res.Reissue = u.toUser(s.now()), len(specs)
		if err := b.commitAction(ctx, s.store, res); err != nil {
			return err
		}
		out = res
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, code, nil
}

// revokeOps adds to b the revocation of credential c (at revision rev):
// the record, the release of its slot, and its revocation entry (the CRL's
// source). Revoke and the PIN reset use it.
func (s *Service) revokeOps(ctx context.Context, b *txnBuilder, c *credentialRecord, rev int64, reason string, now time.Time) error {
	c.RevokedAt, c.RevocationReason = now, reason
	b.cond(credentialKey(c.ID), rev)
	b.put(credentialKey(c.ID), c, 0)
	sk := slotKey(c.UserID, c.IssuerID, c.Alg, c.Purpose)
	var slot slotRecord
	srev, err := s.getJSON(ctx, sk, &slot)
	switch {
	case err == nil && slot.CredentialID == c.ID:
		b.cond(sk, srev)
		b.del(sk)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	if len(c.Certificate) > 0 {
		serial, err := c.certSerial()
		if err != nil {
			return err
		}
		rk := revocationKey(c.IssuerID, serial)
		b.cond(rk, 0)
		b.put(rk, &revocationRecord{Serial: serial, CredentialID: c.ID, RevokedAt: now, Reason: reason}, 0)
	}
	return nil
}

// reissue adds to b, at the first enrollment after a PIN reset, a new
// signing credential under the new PIN for each of u.Reissue that its
// issuer still allows (the others are skipped: the user asks for them
// again). It returns the new credential ids and clears u.Reissue.
func (s *Service) reissue(ctx context.Context, b *txnBuilder, u *userRecord, pin string) ([]string, error) {
	specs := u.Reissue
	u.Reissue = nil
	if len(specs) == 0 {
		return nil, nil
	}
	pinKey, err := gmcrypto.DerivePINKey(s.master, u.PINSalt, pin)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(pinKey)
	var ids []string
	for _, sp := range specs {
		iss, _, err := s.loadIssuer(ctx, sp.IssuerID)
		if errors.Is(err, ErrIssuerNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		prof := iss.Profile
		if !slices.Contains(prof.Algs, sp.Alg) || !slices.Contains(prof.Purposes, PurposeSign) ||
			(sp.Alg == gmcrypto.AlgRSA && !slices.Contains(prof.RSABits, sp.RSABits)) {
			continue
		}
		chain, err := parseChainDER(iss.Chain)
		if err != nil {
			return nil, err
		}
		if s.now().After(chain[0].NotAfter) {
			continue
		}
		subject, err := userSubject(u, prof)
		if err != nil {
			continue
		}
		sk := slotKey(u.ID, iss.ID, sp.Alg, PurposeSign)
		if _, err := s.store.Get(ctx, sk); err == nil {
			continue // the user holds one again
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		rec, err := s.newCredential(iss, chain, u, subject, sp.Alg, sp.RSABits, PurposeSign, pinKey, nil, nil)
		if err != nil {
			return nil, err
		}
		b.cond(sk, 0)
		b.put(sk, &slotRecord{CredentialID: rec.ID}, 0)
		b.cond(credentialKey(rec.ID), 0)
		b.put(credentialKey(rec.ID), rec, 0)
		b.put(userCredKey(u.ID, rec.ID), struct{}{}, 0)
		if len(rec.Certificate) > 0 {
			b.cond(serialKey(iss.ID, rec.Serial), 0)
			b.put(serialKey(iss.ID, rec.Serial), &serialRecord{CredentialID: rec.ID, UserID: u.ID}, 0)
		}
		ids = append(ids, rec.ID)
	}
	return ids, nil
}
