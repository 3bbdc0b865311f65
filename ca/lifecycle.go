package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// The life of a user after the first enrollment: a lost or new phone gets
// a fresh activation code (NewActivationCode) and enrolls with the user's
// CURRENT PIN, because the keys stay in the gateway wrapped under it; the
// operator revokes the lost phone (RevokeDevice) and looks at a user with
// their devices and credentials (UserDetail).

// maxDeviceReasonLen bounds a device revocation reason (free text).
const maxDeviceReasonLen = 200

// UserDetail is a user with their devices (revoked ones included) and
// credentials, as the operator sees them.
type UserDetail struct {
	User        *User
	Devices     []*Device
	Credentials []*Credential
}

// NewActivationCode gives an existing user a fresh one-time activation
// code (shown once; only its HMAC is stored), valid for
// Config.ActivationTTL, and invalidates (deletes) every code of that user
// not used yet: an old code then answers ErrActivationInvalid. Used codes
// are kept so that they go on answering ErrActivationUsed.
//
// For a user who never enrolled it replaces a lost or expired first code.
// For an enrolled user it lets a new phone enroll: Enroll then asks for
// the current PIN instead of setting one, and the user keeps every
// credential. Old devices stay enrolled until RevokeDevice. Errors:
// ErrUserNotFound.
func (s *Service) NewActivationCode(ctx context.Context, userID string) (*User, string, error) {
	code, err := newActivationCode()
	if err != nil {
		return nil, "", err
	}
	norm, _ := normalizeCode(code)
	ak := s.activationStoreKey(norm)
	var out *User
	err = retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		old, err := s.unusedActivations(ctx, u.ID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		u.ActivationExpiresAt = now.Add(s.cfg.ActivationTTL)
		var b txnBuilder
		// Every code is created with a write of its user's record, and every
		// enrollment writes it too: the condition on the user's revision
		// makes the list of old codes exact at commit time.
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		for _, kv := range old {
			b.cond(kv.Key, kv.Revision)
			b.del(kv.Key)
		}
		b.cond(ak, 0)
		b.put(ak, &activationRecord{UserID: u.ID, ExpiresAt: u.ActivationExpiresAt}, s.cfg.ActivationTTL+activationGrace)
		user := u.toUser(s.now())
		if err := b.commitAction(ctx, s.store, user); err != nil {
			return err
		}
		out = user
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, code, nil
}

// unusedActivations lists the activation records of userID not used yet
// (expired ones included).
func (s *Service) unusedActivations(ctx context.Context, userID string) ([]storage.KV, error) {
	kvs, _, err := s.store.List(ctx, pfxActivation)
	if err != nil {
		return nil, err
	}
	var out []storage.KV
	for _, kv := range kvs {
		var act activationRecord
		if err := jsonUnmarshal(kv, &act); err != nil {
			return nil, err
		}
		if act.UserID == userID && act.UsedAt.IsZero() {
			out = append(out, kv)
		}
	}
	return out, nil
}

// enrollPIN is the PIN step of Enroll on the snapshot u (at revision
// urev). A user's first enrollment sets pin as the PIN. A later one checks
// pin against the current PIN, with the lockout (a wrong PIN is recorded
// at once, see checkPIN): a refusal is a *ReenrollError. On success u is
// updated in memory; the caller commits it conditioned on urev.
func (s *Service) enrollPIN(ctx context.Context, u *userRecord, urev int64, pin string) error {
	if !u.enrolled() {
		salt, verifier, err := s.newPINVerifier(pin)
		if err != nil {
			return err
		}
		u.PINSalt, u.PINVerifier = salt, verifier
		u.FailedPINs, u.LockedUntil = 0, time.Time{}
		return nil
	}
	key, err := s.checkPIN(ctx, u, urev, pin)
	if err != nil {
		var pe *PINError
		if errors.As(err, &pe) {
			return &ReenrollError{UserID: u.ID, Err: err}
		}
		return err
	}
	gmcrypto.Zero(key)
	return nil
}

// loadDevice reads a device record; an unknown or malformed id is
// ErrDeviceNotFound.
func (s *Service) loadDevice(ctx context.Context, id string) (*deviceRecord, int64, error) {
	return loadRecord[deviceRecord](ctx, s, deviceKey(id), id, ErrDeviceNotFound)
}

// RevokeDevice revokes an enrolled device, for good: it can no longer sign
// requests (Device still returns it, with RevokedAt set, so that the
// request checks can tell "revoked" from "unknown"). The user, their PIN
// and credentials are untouched. reason is optional free text (at most 200
// characters). Errors: ErrDeviceNotFound, ErrDeviceAlreadyRevoked, a
// *RequestError (field "reason"); on any error nothing changes.
func (s *Service) RevokeDevice(ctx context.Context, deviceID, reason string) (*Device, error) {
	if err := checkText("reason", reason, maxDeviceReasonLen, false); err != nil {
		return nil, err
	}
	var out *Device
	err := retry(ctx, func() error {
		d, rev, err := s.loadDevice(ctx, deviceID)
		if err != nil {
			return err
		}
		if !d.RevokedAt.IsZero() {
			return fmt.Errorf("%w: %s at %s", ErrDeviceAlreadyRevoked, d.ID, d.RevokedAt.Format(time.RFC3339))
		}
		d.RevokedAt, d.RevocationReason = s.now().UTC(), reason
		var b txnBuilder
		b.cond(deviceKey(d.ID), rev)
		b.put(deviceKey(d.ID), d, 0)
		dev, err := d.toDevice()
		if err != nil {
			return err
		}
		if err := b.commitAction(ctx, s.store, dev); err != nil {
			return err
		}
		out = dev
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserDetail returns a user with their devices (in enrollment order,
// revoked ones included) and credentials (sorted by id). Errors:
// ErrUserNotFound.
func (s *Service) UserDetail(ctx context.Context, userID string) (*UserDetail, error) {
	u, _, err := s.loadUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := &UserDetail{User: u.toUser(s.now()), Devices: []*Device{}}
	for _, id := range u.Devices {
		d, _, err := s.loadDevice(ctx, id)
		if errors.Is(err, ErrDeviceNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		dev, err := d.toDevice()
		if err != nil {
			return nil, err
		}
		out.Devices = append(out.Devices, dev)
	}
	out.Credentials, err = s.Credentials(ctx, CredentialFilter{UserID: u.ID})
	if err != nil {
		return nil, err
	}
	return out, nil
}
