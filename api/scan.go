package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/session"
)

// Phone side of the scan sessions: scan, confirm, reject. Every request is
// device-signed.

// auditTimeout bounds the audit append of a key use; it runs even if the
// phone hangs up (the key was used).
const auditTimeout = 10 * time.Second

// ScanRequest is the body of POST /v1/scan.
type ScanRequest struct {
	Payload string `json:"payload"`
}

// Validate checks the request's shape.
func (q *ScanRequest) Validate() error {
	return firstError(required("payload", q.Payload), maxBytes("payload", q.Payload, 4*qrlogin.MaxPayloadLen))
}

// ConfirmRequest is the body of POST /v1/sessions/{id}/confirm.
type ConfirmRequest struct {
	Credential string `json:"credential"`
	PIN        string `json:"pin"`
	Code       string `json:"code"`
}

// Validate checks the request's shape.
func (q *ConfirmRequest) Validate() error {
	return firstError(
		required("credential", q.Credential),
		maxBytes("credential", q.Credential, 128),
		required("pin", q.PIN),
		maxBytes("pin", q.PIN, maxPINLen),
		required("code", q.Code),
		maxBytes("code", q.Code, 8),
	)
}

// RejectRequest is the (optional, empty) body of POST
// /v1/sessions/{id}/reject.
type RejectRequest struct{}

// Validate accepts the empty object.
func (q *RejectRequest) Validate() error { return nil }

// Answers of the phone endpoints.
type (
	// ScanResponse answers POST /v1/scan: what the phone shows before the
	// user confirms, and the user's credentials that fit.
	ScanResponse struct {
		Session     ScannedSession   `json:"session"`
		Credentials []*ca.Credential `json:"credentials"`
	}
	// ScannedSession is the session as the phone sees it.
	ScannedSession struct {
		ID          string          `json:"id"`
		Kind        session.Kind    `json:"kind"`
		App         ScannedApp      `json:"app"`
		Origin      string          `json:"origin"`
		Desktop     session.Desktop `json:"desktop"`
		Display     session.Display `json:"display"`
		CodeChoices []string        `json:"code_choices"`
		ExpiresAt   time.Time       `json:"expires_at"`
		// Issuer and Alg are what the portal asked for (empty: any).
		Issuer string `json:"issuer,omitempty"`
		Alg    string `json:"alg,omitempty"`
		// Format is the signature format of a sign session.
		Format    string            `json:"format,omitempty"`
		Documents []ScannedDocument `json:"documents,omitempty"`
		// Ciphertext describes what a decrypt session opens.
		Ciphertext *ScannedCiphertext `json:"ciphertext,omitempty"`
	}
	// ScannedApp names the portal.
	ScannedApp struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	// ScannedDocument is one document to sign: its size (when the portal
	// sent the data) and a digest to show: hex SM3 of the data
	// (digest_alg "sm3"), or the digest the portal gave (digest_alg
	// "given").
	ScannedDocument struct {
		Name      string `json:"name"`
		Size      *int   `json:"size,omitempty"`
		Digest    string `json:"digest"`
		DigestAlg string `json:"digest_alg"`
	}
	// ScannedCiphertext describes the ciphertext of a decrypt session.
	ScannedCiphertext struct {
		Format    string `json:"format"`
		Size      int    `json:"size"`
		SM3       string `json:"sm3"`
		ReturnKey bool   `json:"return_key,omitempty"`
	}
)

// signedDevice reads the body and checks the device signature over it.
func (a *API) signedDevice(w http.ResponseWriter, r *http.Request) (body []byte, deviceID, userID string, err error) {
	body, err = a.readBody(w, r)
	if err != nil {
		return nil, "", "", err
	}
	deviceID, userID, err = a.devices.VerifyDeviceRequest(r.Context(), r, body)
	if err != nil {
		return nil, "", "", err
	}
	return body, deviceID, userID, nil
}

// fittingCredentials lists userID's active credentials that can serve s.
func (a *API) fittingCredentials(ctx context.Context, s *session.Session, userID string) ([]*ca.Credential, error) {
	all, err := a.ca.Credentials(ctx, ca.CredentialFilter{UserID: userID, State: ca.StateActive})
	if err != nil {
		return nil, err
	}
	out := []*ca.Credential{}
	for _, c := range all {
		if session.CredentialFits(s, c.IssuerID, string(c.Alg), string(c.Purpose)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func scannedView(s *session.Session, appName string, choices [3]string) ScannedSession {
	v := ScannedSession{
		ID: s.ID, Kind: s.Kind, App: ScannedApp{ID: s.AppID, Name: appName},
		Origin: s.Origin, Desktop: s.Desktop, Display: s.Request.Display,
		CodeChoices: choices[:], ExpiresAt: s.ExpiresAt,
		Issuer: s.Request.Issuer, Alg: s.Request.Alg,
	}
	switch s.Kind {
	case session.KindSign:
		v.Format = s.Request.Format
		for _, d := range s.Request.Documents {
			sd := ScannedDocument{Name: d.Name, Digest: hex.EncodeToString(session.DocumentDigest(d)), DigestAlg: "given"}
			if d.Data != nil {
				n := len(d.Data)
				sd.Size, sd.DigestAlg = &n, "sm3"
			}
			v.Documents = append(v.Documents, sd)
		}
	case session.KindDecrypt:
		v.Ciphertext = &ScannedCiphertext{
			Format: s.Request.CiphertextFormat, Size: len(s.Request.Ciphertext),
			SM3: hex.EncodeToString(gmcrypto.SM3(s.Request.Ciphertext)), ReturnKey: s.Request.ReturnKey,
		}
	}
	return v
}

func (a *API) scan(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	var req ScanRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	id, nonce, err := qrlogin.Parse(req.Payload, a.sessions.Config().PublicURL)
	if err != nil {
		return err
	}
	// The nonce is checked first: a payload with a made-up nonce learns
	// nothing about the session (its app, its user, its state), only the
	// not-found of an unknown id. Then everything the answer needs is read
	// before the scan binds the session, so that a failure here leaves it
	// scannable.
	before, err := a.sessions.CheckNonce(r.Context(), id, nonce)
	if err != nil {
		return err
	}
	app, err := a.enabledApp(r.Context(), before.AppID)
	if err != nil {
		return err
	}
	creds, err := a.fittingCredentials(r.Context(), before, userID)
	if err != nil {
		return err
	}
	choices, err := session.CodeChoices(before.Code)
	if err != nil {
		return err
	}
	sess, err := a.sessions.Scan(r.Context(), id, nonce, deviceID, userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ScanResponse{Session: scannedView(sess, app.Name, choices), Credentials: creds})
	return nil
}

// enabledApp returns the app a session belongs to, or auth.ErrAppDisabled
// when the operator has disabled it since the session was created.
func (a *API) enabledApp(ctx context.Context, id string) (*auth.App, error) {
	app, err := a.apps.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if app.Disabled() {
		return nil, fmt.Errorf("%w: %s", auth.ErrAppDisabled, app.ID)
	}
	return app, nil
}

// keyUse is what the audit log records of one confirm attempt.
type keyUse struct {
	sess     *session.Session
	deviceID string
	credID   string
	issuerID string
}

// record appends the attempt to the audit log: outcome ok or failed, with
// the digest of what was (or would have been) signed or decrypted and, on
// failure, a short reason.
func (a *API) record(ctx context.Context, u keyUse, digest []byte, outcome, detail string) error {
	if digest == nil {
		digest = session.RequestDigest(u.sess)
	}
	e := audit.Entry{
		Action:       string(u.sess.Kind),
		Actor:        "device:" + u.deviceID,
		UserID:       u.sess.UserID,
		CredentialID: u.credID,
		AppID:        u.sess.AppID,
		SessionID:    u.sess.ID,
		IssuerID:     u.issuerID,
		Outcome:      outcome,
		Detail:       detail,
	}
	if digest != nil {
		e.Digest = hex.EncodeToString(digest)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if _, err := a.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("api: audit: %w", err)
	}
	return nil
}

// recordFailure audits a failed attempt; the attempt's own error is what
// the phone gets, so an audit failure is only logged.
func (a *API) recordFailure(ctx context.Context, u keyUse, detail string) {
	if err := a.record(ctx, u, nil, audit.OutcomeFailed, detail); err != nil {
		a.log.ErrorContext(ctx, "audit of a failed confirm", "session", u.sess.ID, "detail", detail, "err", err)
	}
}

// recordKeyUseFailure audits a key use whose result was not delivered,
// with the digest of what was signed or decrypted; an audit failure is
// only logged.
func (a *API) recordKeyUseFailure(ctx context.Context, u keyUse, digest []byte, detail string) {
	if err := a.record(ctx, u, digest, audit.OutcomeFailed, detail); err != nil {
		a.log.ErrorContext(ctx, "audit of a discarded result", "session", u.sess.ID, "detail", detail, "err", err)
	}
}

// now is the clock of the operations (the session service's).
func (a *API) now() time.Time {
	if c := a.sessions.Config().Now; c != nil {
		return c()
	}
	return time.Now()
}

func (a *API) confirm(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	if a.audit == nil {
		return ErrAuditUnavailable
	}
	body, deviceID, userID, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return err
	}
	var req ConfirmRequest
	if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
		return err
	}
	ctx := r.Context()
	// okUse is the key use audited "ok", once the operation succeeded;
	// if the session then does not complete, a "failed" entry follows.
	var okUse *keyUse
	var okDigest []byte
	sess, err := a.sessions.Confirm(ctx, id, deviceID, func(s *session.Session) (json.RawMessage, error) {
		use := keyUse{sess: s, deviceID: deviceID, credID: req.Credential}
		// A session of an app disabled since it was created is not
		// served: the error is not final, the session stays scanned
		// until it expires.
		if _, err := a.enabledApp(ctx, s.AppID); err != nil {
			return nil, err
		}
		if err := session.CheckCode(s, req.Code); err != nil {
			a.recordFailure(ctx, use, "wrong_code")
			return nil, err
		}
		cred, err := a.ca.Credential(ctx, req.Credential)
		switch {
		case errors.Is(err, ca.ErrCredentialNotFound), err == nil && cred.UserID != userID:
			return nil, fmt.Errorf("%w: %s", ca.ErrCredentialNotFound, req.Credential)
		case err != nil:
			return nil, err
		case cred.State != ca.StateActive || cred.Certificate == nil:
			return nil, fmt.Errorf("%w: %s is %s", ca.ErrCredentialNotActive, cred.ID, cred.State)
		case !session.CredentialFits(s, cred.IssuerID, string(cred.Alg), string(cred.Purpose)):
			return nil, fmt.Errorf("%w: %s (%s %s %s)", ErrCredentialMismatch, cred.ID, cred.IssuerID, cred.Alg, cred.Purpose)
		}
		use.issuerID = cred.IssuerID
		iss, err := a.ca.Issuer(ctx, cred.IssuerID)
		if err != nil {
			return nil, err
		}
		// Right before the key is used: the session is still this
		// confirm's (not expired, cancelled or taken over), and the
		// largest result this credential can produce can be stored.
		if err := a.sessions.CheckConfirm(ctx, s, session.ResultBound(s, cred.Certificate, iss.Chain)); err != nil {
			var oe *session.OpError
			if errors.As(err, &oe) {
				a.recordFailure(ctx, use, oe.Reason)
			}
			return nil, err
		}
		key, unlocked, err := a.ca.UnlockKey(ctx, userID, cred.ID, req.PIN)
		if err != nil {
			var pe *ca.PINError
			if errors.As(err, &pe) {
				detail := "wrong_pin"
				if pe.Locked {
					detail = "pin_locked"
					a.pinLockouts.Inc()
				}
				a.recordFailure(ctx, use, detail)
			}
			return nil, err
		}
		defer gmcrypto.ZeroKey(key)
		out, err := session.Perform(s, session.OpKey{
			CredentialID: unlocked.ID, UserID: unlocked.UserID, Key: key,
			Certificate: unlocked.Certificate, Chain: iss.Chain,
		}, a.now())
		if err != nil {
			detail := "operation_failed"
			var oe *session.OpError
			if errors.As(err, &oe) {
				detail = oe.Reason
			}
			a.recordFailure(ctx, use, detail)
			return nil, err
		}
		// The key was used: the audit says "ok" only for a result that
		// can still be delivered (the session is still this confirm's and
		// the result fits), else why it was discarded.
		if err := a.sessions.CheckConfirm(ctx, s, len(out.Result)); err != nil {
			detail := "result_discarded"
			var oe *session.OpError
			if errors.As(err, &oe) {
				detail = oe.Reason
			}
			a.recordKeyUseFailure(ctx, use, out.Digest, detail)
			return nil, err
		}
		// A key use that cannot be audited does not complete: the error is
		// not final, the session stays confirmable.
		if err := a.record(ctx, use, out.Digest, audit.OutcomeOK, ""); err != nil {
			return nil, err
		}
		okUse, okDigest = &use, out.Digest
		return out.Result, nil
	})
	if err != nil {
		if okUse != nil {
			// The completing write lost (the session was cancelled or
			// expired in the last instant): the audited result was
			// thrown away.
			a.recordKeyUseFailure(ctx, *okUse, okDigest, "result_discarded")
		}
		return err
	}
	writeJSON(w, http.StatusOK, SessionState{ID: sess.ID, State: sess.State})
	return nil
}

func (a *API) reject(w http.ResponseWriter, r *http.Request) error {
	if err := a.sessionsReady(); err != nil {
		return err
	}
	body, deviceID, _, err := a.signedDevice(w, r)
	if err != nil {
		return err
	}
	id, err := sessionPathID(r)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		var req RejectRequest
		if err := decodeBody(r.Header.Get("Content-Type"), body, &req); err != nil {
			return err
		}
	}
	sess, err := a.sessions.Reject(r.Context(), id, deviceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SessionState{ID: sess.ID, State: sess.State})
	return nil
}
