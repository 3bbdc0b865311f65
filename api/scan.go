package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
)

// Phone side of the scan sessions: scan, confirm, reject. Every request is
// device-signed.

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
	// PIN is required for a usual credential and absent for a cosign one
	// (its PIN is folded into the phone's share).
	PIN  string `json:"pin,omitempty"`
	Code string `json:"code"`
	// Cosign is the phone's answer to the cosign challenge of the first
	// confirm request of a cosign credential (the second request).
	Cosign *cosign.Answer `json:"cosign,omitempty"`
	// Seal is the seal chosen for a seal session (one of the scan
	// answer's seals); empty when the portal named it.
	Seal string `json:"seal,omitempty"`
}

// Validate checks the request's shape.
func (q *ConfirmRequest) Validate() error {
	return firstError(
		required("credential", q.Credential),
		maxBytes("credential", q.Credential, 128),
		maxBytes("pin", q.PIN, maxPINLen),
		required("code", q.Code),
		maxBytes("code", q.Code, 8),
		optionalID("seal", q.Seal),
	)
}

// CosignChallengeResponse answers (202) the first confirm request of a
// cosign credential: the session stays scanned, and Cosign is the
// challenge (cosign.Challenge) the phone answers in its second request.
type CosignChallengeResponse struct {
	ID     string          `json:"id"`
	State  session.State   `json:"state"`
	Cosign json.RawMessage `json:"cosign"`
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
		// Seals are the user's active seals a seal session may draw,
		// bound to one of Credentials (only the portal's, if it named one).
		Seals []ScannedSeal `json:"seals,omitempty"`
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
		// Seal is the seal the portal asked for (empty: the user chooses).
		Seal string `json:"seal,omitempty"`
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
		// Pages, Placements and Straddle: a seal session's PDF, its page
		// count and where the seal goes.
		Pages      int              `json:"pages,omitempty"`
		Placements []seal.Placement `json:"placements,omitempty"`
		Straddle   *seal.Straddle   `json:"straddle,omitempty"`
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
	case session.KindSeal:
		v.Seal = s.Request.Seal
		for _, d := range s.Request.Documents {
			n := len(d.PDF)
			v.Documents = append(v.Documents, ScannedDocument{Name: d.Name, Size: &n,
				Digest: hex.EncodeToString(session.DocumentDigest(d)), DigestAlg: "sm3",
				Pages: d.Pages, Placements: d.Placements, Straddle: d.Straddle})
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
	var seals []ScannedSeal
	if before.Kind == session.KindSeal {
		if seals, err = a.usableSeals(r.Context(), before, userID, creds); err != nil {
			return err
		}
	}
	sess, err := a.sessions.Scan(r.Context(), id, nonce, deviceID, userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ScanResponse{Session: scannedView(sess, app.Name, choices), Credentials: creds, Seals: seals})
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
	if req.Cosign != nil && req.PIN != "" {
		return invalid("pin", "not with a cosign answer")
	}
	creq := session.ConfirmRequest{
		SessionID: id, DeviceID: deviceID, UserID: userID,
		CredentialID: req.Credential, PIN: req.PIN, Code: req.Code, SealID: req.Seal,
	}
	if req.Cosign != nil {
		if len(req.Cosign.Sign) > cosign.MaxSignatures {
			return invalid("cosign", "at most %d signatures", cosign.MaxSignatures)
		}
		if creq.Cosign, err = json.Marshal(req.Cosign); err != nil {
			return err
		}
	}
	sess, challenge, err := a.confirmer().Step(r.Context(), creq)
	if err != nil {
		return err
	}
	if challenge != nil {
		// First request of a cosign credential: the phone computes its
		// half and confirms again with the answer.
		writeJSON(w, http.StatusAccepted, CosignChallengeResponse{ID: id, State: session.StateScanned, Cosign: challenge})
		return nil
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
