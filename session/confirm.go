package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/storage"
)

// The confirm sequence of a scan session, from the phone's "confirm" to the
// completed session: claim, matching code, credential, PIN unlock,
// Perform, audit record, completion. Confirmer runs it over two small
// interfaces that the caller implements: KeySide (who holds the users'
// keys) and Recorder (the audit log). It speaks no HTTP.

// KeySide is the holder of the users' keys, as a confirm needs it. The api
// implements it over package ca; a key held in another way (a two-party
// SM2 key, say) plugs in here with its own implementation.
//
// Errors of KeySide are returned to the phone as they are (the caller maps
// them to its error codes); they leave the session scanned, so the user may
// try again, unless they are built with OperationFailed (then the session
// fails with that reason).
type KeySide interface {
	// Credential returns credential credentialID of user userID as a
	// confirm uses it: active, with its certificate and its issuer's chain.
	// A credential that does not exist and one of another user must give
	// the same error (the phone must not learn which); one that is not
	// active (pending, revoked, expired) its own error.
	Credential(ctx context.Context, userID, credentialID string) (*Credential, error)
	// Use unlocks the private key of c with the user's PIN, calls op with
	// it and wipes the key once op has returned; it returns what op
	// returned. A PIN that is refused is a *KeyError whose Reason
	// ("wrong_pin", "pin_locked") the audit log records; op is then not
	// called. Use never keeps the key.
	Use(ctx context.Context, c *Credential, pin string, op func(OpKey) (*Output, error)) (*Output, error)
}

// Credential is a user's credential as KeySide.Credential gives it.
type Credential struct {
	// ID and UserID name the credential and its owner.
	ID     string
	UserID string
	// IssuerID, Alg ("SM2", "RSA") and Purpose ("sign", "encrypt") decide
	// whether the credential fits a session (CredentialFits).
	IssuerID string
	Alg      string
	Purpose  string
	// Certificate is the credential's certificate; Chain is its issuer's
	// chain, the issuer's certificate first (may be empty).
	Certificate *smx509.Certificate
	Chain       []*smx509.Certificate
	// Cosign is true for a two-party SM2 credential: it confirms in two
	// requests through the Confirmer's CosignSide (cosign.go), without a
	// PIN at the gateway.
	Cosign bool
	// Delegation is set when the credential is an organisation's (UserID)
	// and the confirming user may use it through a delegation: KeySide.Use
	// then checks the confirming user's own PIN.
	Delegation *Delegation
	// Superseded is set for a renewed encryption credential: its key still
	// opens what was sealed to it, so it serves decrypt sessions only.
	Superseded bool
}

// RecipientChooser is a KeySide that can also pick, for a decrypt
// session, the credential the ciphertext is addressed to among the chosen
// credential and those it renewed (a CMS envelope names its recipient's
// certificate; a phone offered the current credential may confirm with it
// an envelope made for its predecessor). It returns c itself when it
// knows no better one.
type RecipientChooser interface {
	ChooseRecipient(ctx context.Context, s *Session, c *Credential) (*Credential, error)
}

// chooseRecipient is KeySide's RecipientChooser answer for a decrypt
// session (c itself for other kinds and a KeySide that cannot choose). A
// delegated credential is chosen among too: the answer keeps the same
// delegation, whose scope the confirm then checks.
func (c *Confirmer) chooseRecipient(ctx context.Context, s *Session, cred *Credential) (*Credential, error) {
	rc, ok := c.Keys.(RecipientChooser)
	if !ok || s.Kind != KindDecrypt {
		return cred, nil
	}
	return rc.ChooseRecipient(ctx, s, cred)
}

// Delegation is the delegation through which a phone user confirms with
// an organisation's credential: its id, the delegate (the phone user),
// and its scope (empty lists: every kind, every app).
type Delegation struct {
	ID         string
	DelegateID string
	Kinds      []string
	Apps       []string
}

// Covers reports whether d's scope admits session s (its kind and app).
func (d *Delegation) Covers(s *Session) bool {
	return (len(d.Kinds) == 0 || slices.Contains(d.Kinds, string(s.Kind))) &&
		(len(d.Apps) == 0 || slices.Contains(d.Apps, s.AppID))
}

// KeyError is an error of KeySide.Use that refused to unlock the key
// (wrong or locked PIN). Reason is what the audit log records; Err is the
// cause, returned to the caller (errors.As finds it). The session stays
// scanned.
type KeyError struct {
	Reason string
	Err    error
}

func (e *KeyError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// Recorder is the audit log of key uses, as a confirm needs it.
type Recorder interface {
	// RecordKeyUse appends u. An error means the use could not be recorded:
	// a successful key use that cannot be recorded does not complete.
	RecordKeyUse(ctx context.Context, u KeyUse) error
}

// AtomicRecorder is a Recorder that can also commit a key use's entry in
// the same transaction as the caller's store operations. With one, a
// confirm commits its "ok" entry with the session's completion (one write
// instead of two), so a result is audited as delivered exactly when it is.
type AtomicRecorder interface {
	Recorder
	// RecordKeyUseWith appends u in the transaction of ops; if a
	// condition of ops fails it returns storage.ErrConflict and writes
	// nothing. It returns only once the outcome is known.
	RecordKeyUseWith(ctx context.Context, u KeyUse, ops []storage.Op) error
}

// atomicAudit carries, in a confirm's context, the "ok" key use that the
// completion commits (AtomicRecorder).
type atomicAudit struct {
	rec AtomicRecorder
	use *KeyUse
	// guards are the records the key use relied on (the user's PIN state,
	// the credential: storage.AddGuards in package ca), checked in the
	// completion's transaction rather than before the key was used.
	guards *storage.Guards
}

type atomicAuditKey struct{}

// withAtomicAudit returns ctx ready for deliver to leave its "ok" entry
// to the completion, when c.Audit is an AtomicRecorder.
func (c *Confirmer) withAtomicAudit(ctx context.Context) context.Context {
	if ar, ok := c.Audit.(AtomicRecorder); ok {
		ctx, guards := storage.DeferGuards(ctx)
		return context.WithValue(ctx, atomicAuditKey{}, &atomicAudit{rec: ar, guards: guards})
	}
	return ctx
}

// completionCommit is the commit function of the completion of a confirm
// whose ctx holds a delivered key use (withAtomicAudit, deliver), or nil.
func completionCommit(ctx context.Context) func(context.Context, []storage.Op) error {
	a, _ := ctx.Value(atomicAuditKey{}).(*atomicAudit)
	if a == nil {
		return nil
	}
	if a.use == nil {
		if a.guards.Len() > 0 {
			// A key was unlocked under guards but no result was
			// delivered through deliver: complete nothing (fail closed).
			return func(context.Context, []storage.Op) error {
				return fmt.Errorf("%w: a key use without its audit entry", ErrInvalidArgument)
			}
		}
		return nil
	}
	u := *a.use
	if u.Digest == nil {
		u.Digest = RequestDigest(u.Session)
	}
	return func(ctx context.Context, ops []storage.Op) error {
		conds := a.guards.Conds()
		err := a.rec.RecordKeyUseWith(ctx, u, append(ops[:len(ops):len(ops)], conds...))
		if errors.Is(err, storage.ErrConflict) && len(conds) > 0 {
			// The session or a guarded record changed: a record that
			// now refuses the key use ends the completion (the result
			// is discarded); else the change is retried.
			if rerr := a.guards.Recheck(ctx); rerr != nil {
				return rerr
			}
		}
		return err
	}
}

// KeyUse is one confirm attempt, as the audit log records it.
type KeyUse struct {
	// Session is the session confirmed (its Kind is the action).
	Session *Session
	// DeviceID is the phone that confirmed.
	DeviceID string
	// CredentialID is the credential the phone chose; IssuerID its issuer
	// (empty when the attempt failed before the credential was read).
	CredentialID string
	IssuerID     string
	// OnBehalfOf and DelegationID are set for a use of an organisation's
	// credential through a delegation: the organisation and the
	// delegation (the session's UserID is the delegate).
	OnBehalfOf   string
	DelegationID string
	// Digest is what was (or would have been) signed or decrypted: the
	// Output's Digest once the key was used, else RequestDigest (nil for a
	// login that did not run).
	Digest []byte
	// OK is true for a key use whose result is delivered.
	OK bool
	// Detail says why an attempt failed: a snake_case code such as
	// "wrong_code", "wrong_pin", "pin_locked", "decryption_failed",
	// "result_discarded".
	Detail string
}

// Audit details of a confirm that failed outside Perform.
const (
	DetailWrongCode       = "wrong_code"
	DetailResultDiscarded = "result_discarded"
)

// AuditTimeout bounds each audit append of a confirm; it runs even if the
// caller has gone (the key may have been used).
const AuditTimeout = 10 * time.Second

// Confirmer runs the confirm sequence of scan sessions. Sessions, Keys and
// Audit are required.
type Confirmer struct {
	Sessions *Service
	Keys     KeySide
	Audit    Recorder
	// Admit, when set, is asked first, with the claimed session, whether
	// it may still be served (the api: its app has not been disabled
	// since). Its error is returned as is; the session stays scanned.
	Admit func(ctx context.Context, s *Session) error
	// Log gets the audit failures that cannot be returned (the attempt's
	// own error is); nil discards them.
	Log *slog.Logger
	// Cosign, when set, serves two-party credentials (Step).
	Cosign CosignSide
	// Seals gives the seal a seal session draws; required for seal
	// sessions only.
	Seals SealSource
	// Uploads gives the PDFs of seal documents sent as uploads; required
	// for those only.
	Uploads UploadSource
}

// UploadSource reads the uploaded PDF of a seal document: upload uploadID
// of app appID, bound to session sessionID.
type UploadSource interface {
	ReadUpload(ctx context.Context, appID, sessionID, uploadID string) ([]byte, error)
}

// withUploads returns s with the PDF of every uploaded document read from
// c.Uploads and checked against the SM3 the session recorded at creation
// (s itself is not changed). A document that cannot be read fails the
// session: it will not come back.
func (c *Confirmer) withUploads(ctx context.Context, s *Session) (*Session, error) {
	var out *Session
	for i, d := range s.Request.Documents {
		if d.Upload == "" {
			continue
		}
		if c.Uploads == nil {
			return nil, fmt.Errorf("%w: no upload source", ErrInvalidArgument)
		}
		pdf, err := c.Uploads.ReadUpload(ctx, s.AppID, s.ID, d.Upload)
		if err == nil && !bytes.Equal(gmcrypto.SM3(pdf), d.SM3) {
			err = fmt.Errorf("upload %s changed since the session was created", d.Upload)
		}
		if err != nil {
			return nil, OperationFailed(ReasonUploadUnavailable, err)
		}
		if out == nil {
			out = s.clone()
		}
		out.Request.Documents[i].PDF = pdf
	}
	if out == nil {
		return s, nil
	}
	return out, nil
}

// SealSource gives a user's seal for a seal session. A seal that does not
// exist and one of another user must give the same error; one that is
// revoked or expired its own.
type SealSource interface {
	Seal(ctx context.Context, userID, sealID string) (*SealMaterial, *seal.SES, error)
}

// ConfirmRequest is one confirm of the phone user: the device and user the
// request was signed by (the caller checked the signature), and what the
// user chose and typed.
type ConfirmRequest struct {
	SessionID    string
	DeviceID     string
	UserID       string
	CredentialID string
	// CredentialIDs are the credentials a certificate session hands over
	// (CredentialID alone counts as one).
	CredentialIDs []string
	PIN           string
	Code          string
	// Cosign is the phone's answer to a cosign challenge (the second
	// request of a cosign credential's confirm); empty otherwise.
	Cosign json.RawMessage
	// SealID is the seal the user chose for a seal session whose portal
	// named none (if it named one, SealID must be empty or the same).
	SealID string
}

// Confirm runs the whole confirm of req.SessionID with Service.Confirm
// (which claims the session and completes it; see its contract):
//
//  1. Admit (if set);
//  2. the matching code (CheckCode): a wrong one fails the session and is
//     audited "wrong_code";
//  3. the credential (KeySide.Credential), which must fit the session
//     (else ErrCredentialMismatch);
//  4. CheckConfirm with ResultBound: the session is still this confirm's
//     and the largest result can be stored — before the key is used;
//  5. KeySide.Use: the PIN unlocks the key and Perform runs with it; a
//     refused PIN or a failed operation is audited with its reason;
//  6. CheckConfirm with the result's size, then the audit record "ok":
//     only a result that can still be delivered is audited as a success,
//     and one that cannot be audited does not complete;
//  7. the completion (by Service.Confirm); if it loses (the session was
//     cancelled or expired in the last instant) the audited result is
//     recorded as discarded.
//
// With an AtomicRecorder, steps 6 and 7 are one transaction: the "ok"
// entry is committed with the completion, and a completion that loses
// leaves only the "result_discarded" entry. The records the key side
// relied on and left to the completion (storage.AddGuards: in package ca
// the user's PIN state and the credential) are conditions of that
// transaction too; one that changed so that it refuses the key use ends
// the confirm with its refusal, the result discarded.
//
// It returns the completed session, or the first error; errors of
// KeySide and Admit are returned as they are.
func (c *Confirmer) Confirm(ctx context.Context, req ConfirmRequest) (*Session, error) {
	if c.Sessions == nil || c.Keys == nil || c.Audit == nil {
		return nil, fmt.Errorf("%w: a Confirmer needs Sessions, Keys and Audit", ErrInvalidArgument)
	}
	// delivered is the key use audited "ok"; if the session then does not
	// complete, a "failed" entry follows.
	var delivered *KeyUse
	ctx = c.withAtomicAudit(ctx)
	sess, err := c.Sessions.Confirm(ctx, req.SessionID, req.DeviceID, func(s *Session) (json.RawMessage, error) {
		use, out, err := c.run(ctx, s, req)
		if err != nil {
			return nil, err
		}
		delivered = use
		return out.Result, nil
	})
	if err != nil && delivered != nil {
		c.recordFailure(ctx, *delivered, DetailResultDiscarded)
	}
	return sess, err
}

// run is the operation Confirm hands to Service.Confirm: steps 1 to 6
// (a certificate session uses no key: handOver).
func (c *Confirmer) run(ctx context.Context, s *Session, req ConfirmRequest) (*KeyUse, *Output, error) {
	if s.Kind == KindCertificate {
		return c.handOver(ctx, s, req)
	}
	if len(req.CredentialIDs) > 0 {
		return nil, nil, fmt.Errorf("%w: only a certificate session takes several credentials", ErrInvalidArgument)
	}
	use := KeyUse{Session: s, DeviceID: req.DeviceID, CredentialID: req.CredentialID}
	if c.Admit != nil {
		if err := c.Admit(ctx, s); err != nil {
			return nil, nil, err
		}
	}
	if err := CheckCode(s, req.Code); err != nil {
		c.recordFailure(ctx, use, DetailWrongCode)
		return nil, nil, err
	}
	cred, err := c.Keys.Credential(ctx, req.UserID, req.CredentialID)
	if err != nil {
		return nil, nil, err
	}
	if cred, err = c.chooseRecipient(ctx, s, cred); err != nil {
		return nil, nil, err
	}
	use.CredentialID = cred.ID
	if !CredentialFits(s, cred.IssuerID, cred.Alg, cred.Purpose) {
		return nil, nil, fmt.Errorf("%w: %s (%s %s %s)", ErrCredentialMismatch, cred.ID, cred.IssuerID, cred.Alg, cred.Purpose)
	}
	if cred.Superseded && s.Kind != KindDecrypt {
		return nil, nil, fmt.Errorf("%w: %s is superseded: it only decrypts", ErrCredentialMismatch, cred.ID)
	}
	if d := cred.Delegation; d != nil {
		if !d.Covers(s) {
			return nil, nil, fmt.Errorf("%w: delegation %s (kind %s, app %s)", ErrDelegationScope, d.ID, s.Kind, s.AppID)
		}
		use.OnBehalfOf, use.DelegationID = cred.UserID, d.ID
	}
	use.IssuerID = cred.IssuerID
	var mat *SealMaterial
	if s.Kind == KindSeal {
		if mat, err = c.seal(ctx, s, req, cred); err != nil {
			return nil, nil, err
		}
		if s, err = c.withUploads(ctx, s); err != nil {
			if reason, ok := opReason(err); ok {
				c.recordFailure(ctx, use, reason)
			}
			return nil, nil, err
		}
	}
	if err := c.Sessions.CheckConfirm(ctx, s, ResultBound(s, cred.Certificate, cred.Chain)+SealImageEstimate(s, mat)); err != nil {
		if reason, ok := opReason(err); ok {
			c.recordFailure(ctx, use, reason)
		}
		return nil, nil, err
	}
	now := c.Sessions.now()
	out, err := c.Keys.Use(ctx, cred, req.PIN, func(k OpKey) (*Output, error) {
		k.Seal = mat
		out, err := Perform(s, k, now)
		if err != nil {
			detail := defaultOpError
			if reason, ok := opReason(err); ok {
				detail = reason
			}
			c.recordFailure(ctx, use, detail)
		}
		return out, err
	})
	if err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			c.recordFailure(ctx, use, ke.Reason)
		}
		return nil, nil, err
	}
	return c.deliver(ctx, s, use, out)
}

// deliver is the end of a confirm once the key has produced out: the
// result must still fit the session (CheckConfirm), then the audit record
// "ok"; it returns the key use to report as discarded if the completion
// loses.
func (c *Confirmer) deliver(ctx context.Context, s *Session, use KeyUse, out *Output) (*KeyUse, *Output, error) {
	if out == nil {
		return nil, nil, fmt.Errorf("%w: the key side returned no output", ErrInvalidArgument)
	}
	use.Digest = out.Digest
	if err := c.Sessions.CheckConfirm(ctx, s, len(out.Result)); err != nil {
		detail := DetailResultDiscarded
		if reason, ok := opReason(err); ok {
			detail = reason
		}
		c.recordFailure(ctx, use, detail)
		return nil, nil, err
	}
	use.OK = true
	if a, _ := ctx.Value(atomicAuditKey{}).(*atomicAudit); a != nil {
		// Committed with the completion (Service.Confirm).
		a.use = &use
		return &use, out, nil
	}
	if err := c.record(ctx, use); err != nil {
		return nil, nil, err
	}
	return &use, out, nil
}

// opReason is the reason of an *OpError in err's chain.
func opReason(err error) (string, bool) {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Reason, true
	}
	return "", false
}

// record appends u to the audit log (with RequestDigest when u has no
// digest), under AuditTimeout, even if ctx has ended.
func (c *Confirmer) record(ctx context.Context, u KeyUse) error {
	if u.Digest == nil {
		u.Digest = RequestDigest(u.Session)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AuditTimeout)
	defer cancel()
	if err := c.Audit.RecordKeyUse(ctx, u); err != nil {
		return fmt.Errorf("session: audit of a key use: %w", err)
	}
	return nil
}

// recordFailure audits a failed attempt with detail; the attempt's own
// error is what the caller gets, so an audit failure is only logged.
func (c *Confirmer) recordFailure(ctx context.Context, u KeyUse, detail string) {
	u.OK, u.Detail = false, detail
	if err := c.record(ctx, u); err != nil && c.Log != nil {
		c.Log.ErrorContext(ctx, "audit of a failed confirm", "session", u.Session.ID, "detail", detail, "err", err)
	}
}

// seal finds the seal a seal session draws: the portal's choice or the
// user's, which must be the user's, active, and name the credential's
// certificate among its signers.
func (c *Confirmer) seal(ctx context.Context, s *Session, req ConfirmRequest, cred *Credential) (*SealMaterial, error) {
	id := s.Request.Seal
	switch {
	case id != "" && req.SealID != "" && req.SealID != id:
		return nil, fmt.Errorf("%w: the portal asked for seal %s", ErrSealMismatch, id)
	case id == "":
		id = req.SealID
	}
	if id == "" {
		return nil, fmt.Errorf("%w: choose a seal", ErrSealRequired)
	}
	if c.Seals == nil {
		return nil, fmt.Errorf("%w: no seal source", ErrInvalidArgument)
	}
	// A delegate draws the organisation's seal: the seal's owner is the
	// credential's.
	mat, ses, err := c.Seals.Seal(ctx, cred.UserID, id)
	if err != nil {
		return nil, err
	}
	if ses == nil || cred.Certificate == nil || !ses.AllowsSigner(cred.Certificate.Raw) {
		return nil, fmt.Errorf("%w: seal %s is not bound to credential %s", ErrSealMismatch, id, cred.ID)
	}
	return mat, nil
}
