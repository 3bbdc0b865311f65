package phone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// Wire types of the scan-session endpoints (package protocol).
type (
	// ScanResult answers Scan: what the phone shows before the user
	// confirms, the user's credentials that fit the request and, for a
	// seal session, the user's seals it may draw.
	ScanResult = protocol.ScanResponse
	// Seal is one of the user's seals.
	Seal = protocol.ScannedSeal
	// ScannedSession is a scanned session as the phone sees it.
	ScannedSession = protocol.ScannedSession
	// ScannedDocument is one document of a sign or seal session.
	ScannedDocument = protocol.ScannedDocument
	// Placement is where a seal goes (seal.Placement).
	Placement = seal.Placement
	// Straddle is a seal across the right edges of pages (骑缝章).
	Straddle = seal.Straddle
	// FileText is what the gateway read in a seal session's PDF
	// (ScannedDocument.FileText).
	FileText = seal.Excerpt
	// PageSketch is the gateway's drawing of a page to seal
	// (ScannedDocument.Sketches).
	PageSketch = protocol.PageSketch
	// ScannedCiphertext describes what a decrypt session opens.
	ScannedCiphertext = protocol.ScannedCiphertext
)

// sessionPath is the path of a session endpoint, or an error for an id
// that cannot be one.
func sessionPath(id, suffix string) (string, error) {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/?#%") {
		return "", fmt.Errorf("%w: %q", ErrBadSessionID, id)
	}
	return "/v1/sessions/" + url.PathEscape(id) + suffix, nil
}

// Scan sends a scanned QR payload (POST /v1/scan). The session is then
// bound to this device: it shows what the portal asks and which of the
// user's credentials fit. Nothing is signed or decrypted until Confirm.
func (c *Client) Scan(ctx context.Context, payload string) (*ScanResult, error) {
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return nil, fmt.Errorf("%w: empty payload", ErrBadPayload)
	}
	var out ScanResult
	if err := c.Do(ctx, http.MethodPost, "/v1/scan", protocol.ScanRequest{Payload: payload}, &out); err != nil {
		return nil, err
	}
	if out.Session.ID == "" || len(out.Session.CodeChoices) == 0 {
		return nil, fmt.Errorf("%w: scan answer without session id or code choices", ErrBadResponse)
	}
	if out.Credentials == nil {
		out.Credentials = []Credential{}
	}
	return &out, nil
}

// Confirm approves a scanned session (POST /v1/sessions/{id}/confirm) with
// the chosen credential, the PIN and the matching code the user picked;
// the gateway performs the operation and the portal gets the result. It
// returns the session's new state ("completed").
func (c *Client) Confirm(ctx context.Context, sessionID, credentialID, pin, code string) (protocol.State, error) {
	return c.ConfirmSeal(ctx, sessionID, credentialID, "", pin, code)
}

// ConfirmSeal is Confirm for a seal session, with the seal the user chose
// (one of the scan's Seals; empty when the portal named it).
func (c *Client) ConfirmSeal(ctx context.Context, sessionID, credentialID, sealID, pin, code string) (protocol.State, error) {
	p, err := sessionPath(sessionID, "/confirm")
	if err != nil {
		return "", err
	}
	var out protocol.CosignChallengeResponse // or the plain state (200)
	seed, isCosign := c.State.Cosign[credentialID]
	req := protocol.ConfirmRequest{Credential: credentialID, PIN: pin, Code: code, Seal: sealID}
	if isCosign {
		// Two requests: the first gets the gateway's challenge, the
		// second carries the phone's half; the PIN stays on the phone.
		req.PIN = ""
	}
	if err := c.Do(ctx, http.MethodPost, p, req, &out); err != nil {
		return "", err
	}
	if isCosign {
		var ch cosign.Challenge
		if len(out.Cosign) == 0 || string(out.Cosign) == "null" || json.Unmarshal(out.Cosign, &ch) != nil {
			return "", fmt.Errorf("%w: no cosign challenge for a cosign credential", ErrBadResponse)
		}
		ans, err := ch.Answer(&cosign.PhoneSecret{Seed: seed}, pin, cosign.Binding{Session: sessionID, Credential: credentialID})
		if err != nil {
			return "", err
		}
		req.Cosign = ans
		out = protocol.CosignChallengeResponse{}
		if err := c.Do(ctx, http.MethodPost, p, req, &out); err != nil {
			return "", err
		}
	}
	if out.State == "" {
		return "", fmt.Errorf("%w: confirm answer without state", ErrBadResponse)
	}
	return out.State, nil
}

// HandOver confirms a scanned certificate session: the certificates of
// the chosen credentials (1 to 8, any of the scan's Credentials) go to the
// portal, with the user's id. No PIN: no key is used; the request is
// signed by the device like every other. It returns the session's new
// state ("completed").
func (c *Client) HandOver(ctx context.Context, sessionID string, credentialIDs []string, code string) (protocol.State, error) {
	p, err := sessionPath(sessionID, "/confirm")
	if err != nil {
		return "", err
	}
	if len(credentialIDs) == 0 {
		return "", ErrNoChoice
	}
	var out protocol.SessionState
	req := protocol.ConfirmRequest{Credentials: credentialIDs, Code: code}
	if err := c.Do(ctx, http.MethodPost, p, req, &out); err != nil {
		return "", err
	}
	if out.State == "" {
		return "", fmt.Errorf("%w: confirm answer without state", ErrBadResponse)
	}
	return out.State, nil
}

// Reject refuses a scanned session (POST /v1/sessions/{id}/reject) and
// returns its new state ("rejected").
func (c *Client) Reject(ctx context.Context, sessionID string) (protocol.State, error) {
	p, err := sessionPath(sessionID, "/reject")
	if err != nil {
		return "", err
	}
	var out protocol.SessionState
	if err := c.Do(ctx, http.MethodPost, p, protocol.RejectRequest{}, &out); err != nil {
		return "", err
	}
	if out.State == "" {
		return "", fmt.Errorf("%w: reject answer without state", ErrBadResponse)
	}
	return out.State, nil
}

// LastScan is what the state file remembers of the last scanned session,
// so that a later confirm or reject can default to it.
type LastScan struct {
	SessionID string    `json:"session_id"`
	Kind      string    `json:"kind"`
	AppName   string    `json:"app_name"`
	Origin    string    `json:"origin"`
	ExpiresAt time.Time `json:"expires_at"`
	// Credentials are the ids of the credentials that fit, in the
	// server's order.
	Credentials []string `json:"credentials,omitempty"`
	// CodeChoices are the three matching codes the scan offered; a
	// confirm with any other code would fail the session.
	CodeChoices []string `json:"code_choices,omitempty"`
	// Seals are the ids of the seals a seal session offered; Seal the
	// one its portal named.
	Seals []string `json:"seals,omitempty"`
	Seal  string   `json:"seal,omitempty"`
}

// Remember records r as the state's last scan.
func (s *State) Remember(r *ScanResult) {
	ls := &LastScan{
		SessionID: r.Session.ID, Kind: string(r.Session.Kind), AppName: r.Session.App.Name,
		Origin: r.Session.Origin, ExpiresAt: r.Session.ExpiresAt,
		CodeChoices: append([]string(nil), r.Session.CodeChoices...),
	}
	for _, c := range r.Credentials {
		ls.Credentials = append(ls.Credentials, c.ID)
	}
	for _, sl := range r.Seals {
		ls.Seals = append(ls.Seals, sl.ID)
	}
	ls.Seal = r.Session.Seal
	s.LastScan = ls
}
