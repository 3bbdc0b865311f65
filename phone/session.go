package phone

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Wire types of the scan-session endpoints (see docs/openapi.yaml).
type (
	// ScanResult answers Scan: what the phone shows before the user
	// confirms, and the user's credentials that fit the request.
	ScanResult struct {
		Session     ScannedSession `json:"session"`
		Credentials []Credential   `json:"credentials"`
		// Seals are the user's seals a seal session may draw (each bound
		// to one of Credentials); the user chooses one unless the portal
		// named it (Session.Seal).
		Seals []Seal `json:"seals,omitempty"`
	}
	// Seal is one of the user's seals.
	Seal struct {
		ID       string  `json:"id"`
		Name     string  `json:"name"`
		Kind     string  `json:"kind"`
		WidthMM  float64 `json:"width_mm"`
		HeightMM float64 `json:"height_mm"`
		ImagePNG []byte  `json:"image_png"`
	}
	// ScannedSession is a scanned session as the phone sees it.
	ScannedSession struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		App  struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"app"`
		// Origin is the page the QR code was shown on.
		Origin  string `json:"origin"`
		Desktop struct {
			IP        string `json:"ip,omitempty"`
			UserAgent string `json:"user_agent,omitempty"`
		} `json:"desktop"`
		Display struct {
			Title   string `json:"title,omitempty"`
			Summary string `json:"summary,omitempty"`
		} `json:"display"`
		// CodeChoices are the three matching codes the user picks from;
		// the right one is shown on the desktop page.
		CodeChoices []string  `json:"code_choices"`
		ExpiresAt   time.Time `json:"expires_at"`
		// Issuer and Alg are what the portal asked for (empty: any).
		Issuer     string             `json:"issuer,omitempty"`
		Alg        string             `json:"alg,omitempty"`
		Format     string             `json:"format,omitempty"`
		Documents  []ScannedDocument  `json:"documents,omitempty"`
		Ciphertext *ScannedCiphertext `json:"ciphertext,omitempty"`
		// Seal is the seal a seal session's portal asked for.
		Seal string `json:"seal,omitempty"`
	}
	// ScannedDocument is one document of a sign session: its size (when
	// the portal sent the data) and a hex digest to show.
	ScannedDocument struct {
		Name      string `json:"name"`
		Size      *int   `json:"size,omitempty"`
		Digest    string `json:"digest"`
		DigestAlg string `json:"digest_alg"`
		// Pages, Placements and Straddle: a seal session's PDF.
		Pages      int         `json:"pages,omitempty"`
		Placements []Placement `json:"placements,omitempty"`
		Straddle   *Straddle   `json:"straddle,omitempty"`
	}
	// Placement is where a seal goes: a page and the seal's centre in
	// millimetres from the page's top-left corner, or a keyword.
	Placement struct {
		Page    int     `json:"page,omitempty"`
		XMM     float64 `json:"x_mm,omitempty"`
		YMM     float64 `json:"y_mm,omitempty"`
		Keyword string  `json:"keyword,omitempty"`
	}
	// Straddle is a seal across the right edges of pages (骑缝章).
	Straddle struct {
		YMM       float64 `json:"y_mm"`
		FirstPage int     `json:"first_page,omitempty"`
		LastPage  int     `json:"last_page,omitempty"`
	}
	// ScannedCiphertext describes what a decrypt session opens.
	ScannedCiphertext struct {
		Format    string `json:"format"`
		Size      int    `json:"size"`
		SM3       string `json:"sm3"`
		ReturnKey bool   `json:"return_key,omitempty"`
	}
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
	if err := c.Do(ctx, http.MethodPost, "/v1/scan", map[string]string{"payload": payload}, &out); err != nil {
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
func (c *Client) Confirm(ctx context.Context, sessionID, credentialID, pin, code string) (string, error) {
	return c.ConfirmSeal(ctx, sessionID, credentialID, "", pin, code)
}

// ConfirmSeal is Confirm for a seal session, with the seal the user chose
// (one of the scan's Seals; empty when the portal named it).
func (c *Client) ConfirmSeal(ctx context.Context, sessionID, credentialID, sealID, pin, code string) (string, error) {
	p, err := sessionPath(sessionID, "/confirm")
	if err != nil {
		return "", err
	}
	var out struct {
		State  string            `json:"state"`
		Cosign *cosign.Challenge `json:"cosign"`
	}
	seed, isCosign := c.State.Cosign[credentialID]
	req := map[string]any{"credential": credentialID, "pin": pin, "code": code}
	if isCosign {
		// Two requests: the first gets the gateway's challenge, the
		// second carries the phone's half; the PIN stays on the phone.
		req = map[string]any{"credential": credentialID, "code": code}
	}
	if sealID != "" {
		req["seal"] = sealID
	}
	if err := c.Do(ctx, http.MethodPost, p, req, &out); err != nil {
		return "", err
	}
	if isCosign {
		if out.Cosign == nil {
			return "", fmt.Errorf("%w: no cosign challenge for a cosign credential", ErrBadResponse)
		}
		ans, err := out.Cosign.Answer(&cosign.PhoneSecret{Seed: seed}, pin, cosign.Binding{Session: sessionID, Credential: credentialID})
		if err != nil {
			return "", err
		}
		req["cosign"] = ans
		out.State, out.Cosign = "", nil
		if err := c.Do(ctx, http.MethodPost, p, req, &out); err != nil {
			return "", err
		}
	}
	if out.State == "" {
		return "", fmt.Errorf("%w: confirm answer without state", ErrBadResponse)
	}
	return out.State, nil
}

// Reject refuses a scanned session (POST /v1/sessions/{id}/reject) and
// returns its new state ("rejected").
func (c *Client) Reject(ctx context.Context, sessionID string) (string, error) {
	p, err := sessionPath(sessionID, "/reject")
	if err != nil {
		return "", err
	}
	var out struct {
		State string `json:"state"`
	}
	if err := c.Do(ctx, http.MethodPost, p, struct{}{}, &out); err != nil {
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
		SessionID: r.Session.ID, Kind: r.Session.Kind, AppName: r.Session.App.Name,
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
