package api

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
)

// The confirm of a scan session runs in package session
// (session.Confirmer); this file gives it the CA's keys and the audit log.

// caKeys is the session.KeySide of the keys the CA holds, wrapped under
// the users' PINs.
type caKeys struct {
	ca *ca.Service
	// pinLockouts counts the confirms refused because the PIN is locked.
	pinLockouts prometheus.Counter
}

// Credential returns the user's active credential with its issuer's chain.
// Another user's credential is not found, like an unknown one.
func (k caKeys) Credential(ctx context.Context, userID, credentialID string) (*session.Credential, error) {
	cred, err := k.ca.Credential(ctx, credentialID)
	switch {
	case errors.Is(err, ca.ErrCredentialNotFound), err == nil && cred.UserID != userID:
		return nil, fmt.Errorf("%w: %s", ca.ErrCredentialNotFound, credentialID)
	case err != nil:
		return nil, err
	case cred.State != ca.StateActive || cred.Certificate == nil:
		return nil, fmt.Errorf("%w: %s is %s", ca.ErrCredentialNotActive, cred.ID, cred.State)
	}
	iss, err := k.ca.Issuer(ctx, cred.IssuerID)
	if err != nil {
		return nil, err
	}
	return &session.Credential{
		ID: cred.ID, UserID: cred.UserID, IssuerID: cred.IssuerID,
		Alg: string(cred.Alg), Purpose: string(cred.Purpose),
		Certificate: cred.Certificate, Chain: iss.Chain,
	}, nil
}

// Use unwraps the key with the PIN (ca.UnlockKey), runs op and zeroes the
// key. A wrong or locked PIN is a *session.KeyError around the
// *ca.PINError.
func (k caKeys) Use(ctx context.Context, c *session.Credential, pin string, op func(session.OpKey) (*session.Output, error)) (*session.Output, error) {
	key, unlocked, err := k.ca.UnlockKey(ctx, c.UserID, c.ID, pin)
	if err != nil {
		var pe *ca.PINError
		if errors.As(err, &pe) {
			reason := "wrong_pin"
			if pe.Locked {
				reason = "pin_locked"
				k.pinLockouts.Inc()
			}
			return nil, &session.KeyError{Reason: reason, Err: err}
		}
		return nil, err
	}
	defer gmcrypto.ZeroKey(key)
	return op(session.OpKey{
		CredentialID: unlocked.ID, UserID: unlocked.UserID, Key: key,
		Certificate: unlocked.Certificate, Chain: c.Chain,
	})
}

// auditRecorder is the session.Recorder of the audit log.
type auditRecorder struct{ log *audit.Log }

// RecordKeyUse appends the key use: outcome ok or failed, the digest and,
// on failure, the short reason.
func (r auditRecorder) RecordKeyUse(ctx context.Context, u session.KeyUse) error {
	e := audit.Entry{
		Action:       string(u.Session.Kind),
		Actor:        "device:" + u.DeviceID,
		UserID:       u.Session.UserID,
		CredentialID: u.CredentialID,
		AppID:        u.Session.AppID,
		SessionID:    u.Session.ID,
		IssuerID:     u.IssuerID,
		Outcome:      audit.OutcomeFailed,
		Detail:       u.Detail,
	}
	if u.OK {
		e.Outcome, e.Detail = audit.OutcomeOK, ""
	}
	if u.Digest != nil {
		e.Digest = hex.EncodeToString(u.Digest)
	}
	if _, err := r.log.Append(ctx, e); err != nil {
		return fmt.Errorf("api: audit: %w", err)
	}
	return nil
}

// confirmer is the confirm sequence over the CA's keys and the audit log;
// a session of an app disabled since it was created is not served (the
// error is not final, the session stays scanned until it expires).
func (a *API) confirmer() *session.Confirmer {
	return &session.Confirmer{
		Sessions: a.sessions,
		Keys:     caKeys{ca: a.ca, pinLockouts: a.pinLockouts},
		Audit:    auditRecorder{log: a.audit},
		Admit: func(ctx context.Context, s *session.Session) error {
			_, err := a.enabledApp(ctx, s.AppID)
			return err
		},
		Log: a.log,
	}
}
