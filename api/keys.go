package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
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

// Credential returns the user's active credential with its issuer's chain,
// or a superseded encryption credential (marked Superseded: it serves
// decrypt sessions only). Another user's credential is not found, like an
// unknown one.
func (k caKeys) Credential(ctx context.Context, userID, credentialID string) (*session.Credential, error) {
	cred, err := k.ca.Credential(ctx, credentialID)
	switch {
	case errors.Is(err, ca.ErrCredentialNotFound), err == nil && cred.UserID != userID:
		// An organisation's credential the user may use through a
		// delegation; else not found, like an unknown one.
		return k.delegated(ctx, userID, credentialID)
	case err != nil:
		return nil, err
	case !(cred.State == ca.StateActive || supersededEncryption(cred)) || cred.Certificate == nil:
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
		Cosign:     cred.Mode == ca.CredentialModeCosign,
		Superseded: cred.State == ca.StateSuperseded,
	}, nil
}

// supersededEncryption reports whether c is a renewed encryption
// credential (its key still decrypts).
func supersededEncryption(c *ca.Credential) bool {
	return c.State == ca.StateSuperseded && c.Purpose == ca.PurposeEncrypt && c.Mode != ca.CredentialModeCosign
}

// ChooseRecipient is the credential a CMS envelope of decrypt session s is
// addressed to: c if the envelope names c's certificate, else the newest
// of the credentials c renewed whose certificate it names (still
// decryptable: superseded, not revoked), else c. A raw ciphertext names no
// one: c. Through a delegation, the one chosen must be one whose copy the
// same delegation keeps (ca.DelegatedCredential); the others are passed
// over as the owner's revoked ones are.
func (k caKeys) ChooseRecipient(ctx context.Context, s *session.Session, c *session.Credential) (*session.Credential, error) {
	ct := s.Request.Ciphertext
	if s.Request.CiphertextFormat != protocol.CipherCMS || len(ct) == 0 || gmcrypto.CMSAddressedTo(ct, c.Certificate) {
		return c, nil
	}
	preds, err := k.ca.Predecessors(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range preds {
		if !supersededEncryption(p) || p.UserID != c.UserID || !gmcrypto.CMSAddressedTo(ct, p.Certificate) {
			continue
		}
		if c.Delegation == nil {
			return k.Credential(ctx, c.UserID, p.ID)
		}
		dc, err := k.delegated(ctx, c.Delegation.DelegateID, p.ID)
		switch {
		case errors.Is(err, ca.ErrCredentialNotFound), errors.Is(err, ca.ErrCredentialNotActive),
			errors.Is(err, ca.ErrDelegationRevoked), errors.Is(err, ca.ErrDelegationExpired), errors.Is(err, ca.ErrDelegationNotActive):
			// No usable copy of p (another, revoked delegation's story
			// included): as for the owner's revoked ones.
			continue
		case err != nil:
			return nil, err
		case dc.Delegation == nil || dc.Delegation.ID != c.Delegation.ID:
			continue
		}
		return dc, nil
	}
	return c, nil
}

// delegated is the organisation's credential credentialID as delegate
// userID may use it (ca.DelegatedCredential), with the delegation.
func (k caKeys) delegated(ctx context.Context, userID, credentialID string) (*session.Credential, error) {
	dc, err := k.ca.DelegatedCredential(ctx, userID, credentialID)
	if err != nil {
		return nil, err
	}
	iss, err := k.ca.Issuer(ctx, dc.Credential.IssuerID)
	if err != nil {
		return nil, err
	}
	cred, d := dc.Credential, dc.Delegation
	return &session.Credential{
		ID: cred.ID, UserID: cred.UserID, IssuerID: cred.IssuerID,
		Alg: string(cred.Alg), Purpose: string(cred.Purpose),
		Certificate: cred.Certificate, Chain: iss.Chain,
		Delegation: &session.Delegation{ID: d.ID, DelegateID: userID, Kinds: d.Kinds, Apps: d.Apps},
		Superseded: cred.State == ca.StateSuperseded,
	}, nil
}

// Use unwraps the key with the PIN (ca.UnlockKey; through a delegation,
// ca.UnlockDelegatedKey with the delegate's own PIN, or for an encryption
// credential ca.UnlockDelegatedDecryptKey, which also opens the
// delegation's copies of superseded keys), runs op and zeroes
// the key. A wrong or locked PIN is a *session.KeyError around the
// *ca.PINError.
func (k caKeys) Use(ctx context.Context, c *session.Credential, pin string, op func(session.OpKey) (*session.Output, error)) (*session.Output, error) {
	var key crypto.Signer
	var unlocked *ca.Credential
	var err error
	delegate := ""
	if c.Delegation != nil {
		delegate = c.Delegation.DelegateID
		if c.Purpose == string(ca.PurposeEncrypt) {
			key, unlocked, err = k.ca.UnlockDelegatedDecryptKey(ctx, delegate, c.Delegation.ID, c.ID, pin)
		} else {
			key, unlocked, err = k.ca.UnlockDelegatedKey(ctx, delegate, c.Delegation.ID, pin)
		}
		if err == nil && unlocked.ID != c.ID {
			gmcrypto.ZeroKey(key)
			return nil, fmt.Errorf("%w: %s", ca.ErrCredentialNotFound, c.ID)
		}
	} else if c.Purpose == string(ca.PurposeEncrypt) {
		// An encryption key only decrypts: a renewed one still may.
		key, unlocked, err = k.ca.UnlockDecryptKey(ctx, c.UserID, c.ID, pin)
	} else {
		key, unlocked, err = k.ca.UnlockKey(ctx, c.UserID, c.ID, pin)
	}
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
		Certificate: unlocked.Certificate, Chain: c.Chain, Delegate: delegate,
	})
}

// auditRecorder is the session.Recorder of the audit log.
type auditRecorder struct{ log *audit.Log }

// RecordKeyUse appends the key use: outcome ok or failed, the digest and,
// on failure, the short reason.
func (r auditRecorder) RecordKeyUse(ctx context.Context, u session.KeyUse) error {
	if _, err := r.log.Append(ctx, keyUseEntry(u)); err != nil {
		return fmt.Errorf("api: audit: %w", err)
	}
	return nil
}

// RecordKeyUseWith appends the key use in the transaction of ops (the
// session's completion); a failed condition of ops is storage.ErrConflict.
func (r auditRecorder) RecordKeyUseWith(ctx context.Context, u session.KeyUse, ops []storage.Op) error {
	_, err := r.log.AppendWith(ctx, keyUseEntry(u), ops)
	if err != nil && !errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("api: audit: %w", err)
	}
	return err
}

// keyUseEntry is the audit entry of u.
func keyUseEntry(u session.KeyUse) audit.Entry {
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
		OnBehalfOf:   u.OnBehalfOf,
		Delegation:   u.DelegationID,
	}
	if u.OK {
		e.Outcome, e.Detail = audit.OutcomeOK, ""
	}
	if u.Digest != nil {
		e.Digest = hex.EncodeToString(u.Digest)
	}
	return e
}

// confirmer is the confirm sequence over the CA's keys and the audit log;
// a session of an app disabled since it was created is not served (the
// error is not final, the session stays scanned until it expires).
func (a *API) confirmer() *session.Confirmer {
	return &session.Confirmer{
		Sessions: a.sessions,
		Keys:     caKeys{ca: a.ca, pinLockouts: a.pinLockouts},
		Audit:    auditRecorder{log: a.audit},
		Cosign:   caKeys{ca: a.ca, pinLockouts: a.pinLockouts},
		Admit: func(ctx context.Context, s *session.Session) error {
			_, err := a.enabledApp(ctx, s.AppID)
			return err
		},
		Log:     a.log,
		Seals:   caSeals{a: a},
		Uploads: uploadSource{a.uploads},
	}
}

// CosignStart begins a two-party exchange with the gateway's share of c
// (refused while the user's PIN is locked).
func (k caKeys) CosignStart(ctx context.Context, c *session.Credential, sessionID string, w session.CosignWork) ([]byte, json.RawMessage, error) {
	share, _, err := k.ca.CosignShare(ctx, c.UserID, c.ID)
	if err != nil {
		return nil, nil, k.keyError(err)
	}
	var ch cosign.Challenge
	var st cosignState
	if w.Ciphertext != nil {
		ds, err := cosign.GatewayDecryptStart(cosign.Binding{Session: sessionID, Credential: c.ID}, share, w.Ciphertext, w.Format)
		if err != nil {
			// A C1 that is not a point: the ciphertext cannot be opened.
			return nil, nil, session.OperationFailed(session.ReasonDecryptionFailed, gmcrypto.ErrDecryption)
		}
		ch.Decrypt = ds.Start()
		if st.Decrypt, err = ds.MarshalBinary(); err != nil {
			return nil, nil, err
		}
	}
	for _, e := range w.Digests {
		ss, err := cosign.GatewaySignStart(cosign.Binding{Session: sessionID, Credential: c.ID, Digest: e})
		if err != nil {
			return nil, nil, err
		}
		ch.Sign = append(ch.Sign, ss.Start())
		b, err := ss.MarshalBinary()
		if err != nil {
			return nil, nil, err
		}
		st.Sign = append(st.Sign, b)
	}
	stb, err := json.Marshal(st)
	if err != nil {
		return nil, nil, err
	}
	chb, err := json.Marshal(ch)
	if err != nil {
		return nil, nil, err
	}
	return stb, chb, nil
}

// cosignState is the gateway's secret state of one exchange (sealed by
// the session between the two requests).
type cosignState struct {
	Sign    [][]byte `json:"sign,omitempty"`
	Decrypt []byte   `json:"decrypt,omitempty"`
}

// CosignFinish completes the exchange and verifies every result against
// the certificate; a result that does not verify counts against the PIN
// lockout (ca.CosignOutcome) like a wrong PIN, and a verified one resets
// it.
func (k caKeys) CosignFinish(ctx context.Context, c *session.Credential, state []byte, answer json.RawMessage) (*session.CosignOutcome, error) {
	var st cosignState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("api: cosign state: %w", err)
	}
	var ans cosign.Answer
	if err := json.Unmarshal(answer, &ans); err != nil {
		return nil, cosign.ErrMalformed
	}
	if len(ans.Sign) != len(st.Sign) || (ans.Decrypt == nil) != (st.Decrypt == nil) {
		return nil, fmt.Errorf("%w: the answer does not match the challenge", cosign.ErrTranscript)
	}
	share, _, err := k.ca.CosignShare(ctx, c.UserID, c.ID)
	if err != nil {
		return nil, k.keyError(err)
	}
	pub, ok := c.Certificate.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, gmcrypto.ErrKeyMismatch
	}
	var out session.CosignOutcome
	invalid := false
	for i, raw := range st.Sign {
		ss, err := cosign.ParseSignState(raw)
		if err != nil {
			return nil, err
		}
		sig, err := ss.Finish(share, pub, ans.Sign[i])
		switch {
		case errors.Is(err, gmcrypto.ErrVerification):
			invalid = true
		case err != nil:
			return nil, err
		}
		out.Signatures = append(out.Signatures, sig)
	}
	if st.Decrypt != nil {
		ds, err := cosign.ParseDecryptState(st.Decrypt)
		if err != nil {
			return nil, err
		}
		pt, err := ds.Finish(ans.Decrypt)
		switch {
		case errors.Is(err, gmcrypto.ErrDecryption):
			invalid = true
		case err != nil:
			return nil, err
		}
		out.Plaintext = pt
	}
	if err := k.ca.CosignOutcome(ctx, c.UserID, !invalid); err != nil {
		clear(out.Plaintext)
		return nil, k.keyError(err)
	}
	return &out, nil
}

// keyError turns a *ca.PINError into the *session.KeyError the confirm
// audits (and counts a lockout in the metric).
func (k caKeys) keyError(err error) error {
	var pe *ca.PINError
	if errors.As(err, &pe) {
		reason := "wrong_pin"
		if pe.Locked {
			reason = "pin_locked"
			k.pinLockouts.Inc()
		}
		return &session.KeyError{Reason: reason, Err: err}
	}
	return err
}
