package phone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
)

// Client speaks the phone side of the v1 protocol.
type Client struct {
	// BaseURL is the gateway, e.g. "https://gw.example.cn"; empty means
	// State.ServerURL.
	BaseURL string
	// HTTP is the HTTP client; nil means http.DefaultClient.
	HTTP *http.Client
	// State is the device state; Enroll fills it (save it afterwards).
	State *State
	// Now is the clock requests are signed with; nil means time.Now.
	Now func() time.Time
	// Persist, when set, saves State; the client calls it when State
	// holds something that must survive before a request goes (the seed
	// of a cosign credential request, whose answer may be lost), and
	// sends nothing if it fails. Without it that is the caller's risk.
	Persist func(*State) error
}

// maxResponse bounds a response body.
const maxResponse = 16 << 20

// Wire types of the phone endpoints (package protocol).
type (
	// User is the enrolled user.
	User = protocol.User
	// Device is the enrolled device.
	Device = protocol.Device
	// Enrollment is the answer to Enroll.
	Enrollment = protocol.Enrollment
	// Credential is one of the user's credentials.
	Credential = protocol.Credential
)

func (c *Client) base() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	if c.State != nil {
		return strings.TrimRight(c.State.ServerURL, "/")
	}
	return ""
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Enroll creates the device key (if the state has none), enrolls it with
// the one-time activation code, device name and initial PIN, and records
// the device and user in the state. The caller saves the state.
func (c *Client) Enroll(ctx context.Context, activationCode, deviceName, pin string) (*Enrollment, error) {
	if c.State == nil {
		c.State = &State{}
	}
	if c.State.DeviceID != "" {
		return nil, ErrAlreadyEnrolled
	}
	if c.State.PrivateKeyPEM == "" {
		if err := c.State.generateKey(); err != nil {
			return nil, err
		}
	}
	key, err := c.State.Key()
	if err != nil {
		return nil, err
	}
	pubPEM, err := gmcrypto.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return nil, err
	}
	req := protocol.EnrollRequest{
		ActivationCode:  activationCode,
		DevicePublicKey: string(pubPEM),
		DeviceName:      deviceName,
		PIN:             pin,
	}
	var out Enrollment
	if err := c.send(ctx, http.MethodPost, "/v1/enroll", req, &out, false); err != nil {
		return nil, err
	}
	if out.Device.ID == "" || out.User.ID == "" {
		return nil, fmt.Errorf("%w: enrollment without device or user id", ErrBadResponse)
	}
	c.State.DeviceID, c.State.DeviceName = out.Device.ID, out.Device.Name
	c.State.UserID, c.State.UserName = out.User.ID, out.User.Name
	if c.State.ServerURL == "" {
		c.State.ServerURL = c.base()
	}
	return &out, nil
}

// Credentials lists the user's credentials.
func (c *Client) Credentials(ctx context.Context) ([]Credential, error) {
	var out protocol.CredentialList
	if err := c.Do(ctx, http.MethodGet, "/v1/me/credentials", nil, &out); err != nil {
		return nil, err
	}
	return out.Credentials, nil
}

// RequestCredential asks for a new credential (a key pair the gateway
// generates and wraps under the PIN) from issuer: alg "SM2" or "RSA",
// purpose "sign" or "encrypt".
func (c *Client) RequestCredential(ctx context.Context, issuer, alg, purpose, pin string) (*Credential, error) {
	req := protocol.CredentialRequest{Issuer: issuer, Alg: alg, Purpose: purpose, PIN: pin}
	var out protocol.CredentialCreated
	if err := c.Do(ctx, http.MethodPost, "/v1/me/credentials", req, &out); err != nil {
		return nil, err
	}
	if out.Credential == nil {
		return nil, fmt.Errorf("%w: no credential in the answer", ErrBadResponse)
	}
	return out.Credential, nil
}

// RenewCredential renews the active credential credentialID (POST
// /v1/me/credentials/{id}/renew): a new certificate for the same key, or
// with newKey a new key pair where the issuer's profile allows it. The
// answer is the successor (pending at an external issuer).
func (c *Client) RenewCredential(ctx context.Context, credentialID, pin string, newKey bool) (*Credential, error) {
	var out protocol.Renewed
	if err := c.Do(ctx, http.MethodPost, "/v1/me/credentials/"+url.PathEscape(credentialID)+"/renew", protocol.RenewRequest{PIN: pin, NewKey: newKey}, &out); err != nil {
		return nil, err
	}
	if out.Credential.ID == "" {
		return nil, fmt.Errorf("%w: no credential in the answer", ErrBadResponse)
	}
	return &out.Credential, nil
}

// RequestCosignCredential asks issuer for a two-party SM2 credential
// (purpose "sign" or "encrypt"): the phone makes its half of the key from a
// fresh seed and pin, the gateway its own; the seed is kept in State.Cosign
// under the new credential's id (save the state afterwards: without it the
// credential is lost for good).
func (c *Client) RequestCosignCredential(ctx context.Context, issuer, purpose, pin string) (*Credential, error) {
	if !c.State.Enrolled() {
		return nil, ErrNotEnrolled
	}
	slot := issuer + "/" + purpose
	binding := cosign.CredentialRequestBinding(c.State.UserID)
	var sec *cosign.PhoneSecret
	var kg *cosign.KeyGenRequest
	if seed := c.State.CosignPending[slot]; len(seed) > 0 {
		// A request whose answer never came: the same share again, so
		// the gateway answers the credential it made, if it made one.
		sec = &cosign.PhoneSecret{Seed: seed}
		k, err := cosign.PhoneKeyGenAgain(sec, binding, pin)
		if err != nil {
			return nil, err
		}
		kg = k
	} else {
		s, k, err := cosign.PhoneKeyGen(binding, pin)
		if err != nil {
			return nil, err
		}
		sec, kg = s, k
		if c.State.CosignPending == nil {
			c.State.CosignPending = map[string][]byte{}
		}
		c.State.CosignPending[slot] = sec.Seed
		if c.Persist != nil {
			if err := c.Persist(c.State); err != nil {
				delete(c.State.CosignPending, slot)
				return nil, fmt.Errorf("phone: keeping the new share before the request: %w", err)
			}
		}
	}
	req := protocol.CredentialRequest{Issuer: issuer, Alg: protocol.AlgSM2, Purpose: purpose, PIN: pin, Mode: protocol.CredentialModeCosign, Cosign: kg}
	var out struct {
		Credential *Credential `json:"credential"`
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/me/credentials", req, &out); err != nil {
		// Kept aside (a refusal too: the share formed nothing, and the
		// next request for this slot sends it again).
		return nil, err
	}
	if out.Credential == nil || out.Credential.ID == "" {
		return nil, fmt.Errorf("%w: no credential in the answer", ErrBadResponse)
	}
	if c.State.Cosign == nil {
		c.State.Cosign = map[string][]byte{}
	}
	id := out.Credential.ID
	c.State.Cosign[id] = sec.Seed
	delete(c.State.CosignPending, slot)
	if ch := out.Credential.Cosign; ch != nil {
		// External issuer: the CSR is signed two-party now.
		ans, err := ch.Answer(sec, pin, cosign.Binding{Session: "csr", Credential: id})
		if err != nil {
			return nil, err
		}
		out.Credential = nil
		if err := c.Do(ctx, http.MethodPost, "/v1/me/credentials/"+url.PathEscape(id)+"/cosign", map[string]any{"cosign": ans}, &out); err != nil {
			return nil, err
		}
		if out.Credential == nil {
			return nil, fmt.Errorf("%w: no credential in the answer", ErrBadResponse)
		}
	}
	return out.Credential, nil
}

// ChangePIN changes the user's PIN (every key is re-wrapped by the
// server). Each cosign credential this phone holds is re-shared with the
// new PIN (its key never formed); on success the new seeds replace the old
// ones in State (save it afterwards).
func (c *Client) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	for slot := range c.State.CosignPending {
		// Its share would not be re-shared, and the gateway refuses a
		// change that leaves one of the user's cosign credentials behind.
		return fmt.Errorf("%w: the two-party credential request at %s was never answered: request it again (the same share is sent) before changing the PIN", ErrCosignPending, slot)
	}
	req := protocol.PINRequest{OldPIN: oldPIN, NewPIN: newPIN}
	next := map[string][]byte{}
	if len(c.State.Cosign) > 0 {
		reshare := map[string]*cosign.ReshareRequest{}
		for id, seed := range c.State.Cosign {
			sec, r, err := cosign.PhoneChangePIN(&cosign.PhoneSecret{Seed: seed}, oldPIN, newPIN, cosign.ReshareBinding(id))
			if err != nil {
				return err
			}
			reshare[id], next[id] = r, sec.Seed
		}
		req.Cosign = reshare
	}
	if err := c.Do(ctx, http.MethodPut, "/v1/me/pin", req, nil); err != nil {
		return err
	}
	for id, seed := range next {
		c.State.Cosign[id] = seed
	}
	return nil
}

// Do sends a device-signed request: body (nil for none) is sent as JSON,
// the answer is decoded into out (nil to discard). path is the request URI
// under the base URL, query string included. A refusal is an *APIError.
//
// Scan, Confirm and Reject of scan sessions are built on Do.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	return c.send(ctx, method, path, body, out, true)
}

func (c *Client) send(ctx context.Context, method, path string, body, out any, signed bool) error {
	base := c.base()
	if base == "" {
		return fmt.Errorf("phone: no server URL")
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("phone: path %q must start with /", path)
	}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("phone: encoding the request: %w", err)
		}
	}
	u, err := url.Parse(base + path)
	if err != nil {
		return fmt.Errorf("phone: bad URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if raw == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if signed {
		if !c.State.Enrolled() {
			return ErrNotEnrolled
		}
		key, err := c.State.Key()
		if err != nil {
			return err
		}
		if err := protocol.SignRequest(req, raw, c.State.DeviceID, key, c.now()); err != nil {
			return err
		}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("phone: reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		return protocol.ParseAPIError(resp.StatusCode, b)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return nil
}
