package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// Client calls the operator API of one gateway with the admin token. It is
// safe for concurrent use; its fields must not change after the first
// call.
type Client struct {
	// BaseURL is the gateway's URL, e.g. "http://127.0.0.1:8080"; a path
	// prefix is kept.
	BaseURL string
	// Token is the admin token (Authorization: Bearer).
	Token string
	// HTTP is the client of every request; nil means one with a 60 s
	// timeout.
	HTTP *http.Client
}

// maxAnswerBytes bounds what the client reads of an answer (an error
// answer: protocol.MaxErrorBytes).
const maxAnswerBytes = 64 << 20

var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// check validates the fields of c.
func (c *Client) check() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: BaseURL %q must be an absolute http(s) URL", ErrInvalidConfig, c.BaseURL)
	}
	if c.Token == "" || strings.ContainsAny(c.Token, "\r\n ") {
		return fmt.Errorf("%w: Token is empty or contains spaces or line breaks", ErrInvalidConfig)
	}
	return nil
}

// Do sends in (nil for no body) as JSON to method path ("/v1/admin/…",
// with its query) and returns the 2xx answer's body, decoded into out
// when out is not nil. Any other status is an *APIError; no answer at all
// is ErrUnreachable. The typed methods are built on it; callers that print
// the gateway's own JSON use it directly.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%w: path %q does not start with /", ErrInvalidArgument, path)
	}
	body := io.Reader(http.NoBody)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnreachable, method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	return readAnswer(resp, out)
}

// readAnswer turns a non-2xx answer into an *APIError and returns a 2xx
// body, decoded into out when out is not nil.
func readAnswer(resp *http.Response, out any) ([]byte, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
	if len(b) > maxAnswerBytes {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrProtocol, maxAnswerBytes)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
	}
	return b, nil
}

// readAPIError reads the error envelope of a non-2xx answer; a body not
// in that form becomes the message (cut to 200 bytes).
func readAPIError(resp *http.Response) *APIError { return protocol.ReadAPIError(resp) }

// idPath is prefix + id + suffix with id path-escaped, or
// ErrInvalidArgument for an empty id.
func idPath(prefix, id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: empty id", ErrInvalidArgument)
	}
	return prefix + url.PathEscape(id) + suffix, nil
}

// post sends in to prefix+id+suffix and decodes the answer into out.
func (c *Client) post(ctx context.Context, prefix, id, suffix string, in, out any) error {
	path, err := idPath(prefix, id, suffix)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodPost, path, in, out)
	return err
}

// withQuery is path with the non-empty values of params as its query.
func withQuery(path string, params url.Values) string {
	for k, v := range params {
		if len(v) == 0 || v[0] == "" {
			delete(params, k)
		}
	}
	if len(params) == 0 {
		return path
	}
	return path + "?" + params.Encode()
}

// AddIssuer registers an issuer (POST /v1/admin/issuers).
func (c *Client) AddIssuer(ctx context.Context, req IssuerRequest) (*Issuer, error) {
	var iss Issuer
	if _, err := c.Do(ctx, http.MethodPost, "/v1/admin/issuers", req, &iss); err != nil {
		return nil, err
	}
	return &iss, nil
}

// Issuers lists the registered issuers (GET /v1/admin/issuers).
func (c *Client) Issuers(ctx context.Context) ([]*Issuer, error) {
	var out struct {
		Issuers []*Issuer `json:"issuers"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/v1/admin/issuers", nil, &out); err != nil {
		return nil, err
	}
	return out.Issuers, nil
}

// AddApp registers a portal app (POST /v1/admin/apps); the answer holds
// its API key, shown only here.
func (c *Client) AddApp(ctx context.Context, req AppRequest) (*App, error) {
	var app App
	if _, err := c.Do(ctx, http.MethodPost, "/v1/admin/apps", req, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// Apps lists the portal apps (GET /v1/admin/apps).
func (c *Client) Apps(ctx context.Context) ([]*App, error) {
	var out struct {
		Apps []*App `json:"apps"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/v1/admin/apps", nil, &out); err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// RotateApp gives an app a new API key, answered once; the old key stops
// working (POST /v1/admin/apps/{id}/rotate).
func (c *Client) RotateApp(ctx context.Context, id string) (*App, error) {
	var app App
	if err := c.post(ctx, "/v1/admin/apps/", id, "/rotate", nil, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// DisableApp disables an app for good (POST /v1/admin/apps/{id}/disable).
func (c *Client) DisableApp(ctx context.Context, id string) (*App, error) {
	var app App
	if err := c.post(ctx, "/v1/admin/apps/", id, "/disable", nil, &app); err != nil {
		return nil, err
	}
	return &app, nil
}

// AddUser creates a user (POST /v1/admin/users); the answer holds their
// one-time activation code.
func (c *Client) AddUser(ctx context.Context, req UserRequest) (*UserActivation, error) {
	var u UserActivation
	if _, err := c.Do(ctx, http.MethodPost, "/v1/admin/users", req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Users lists the users (GET /v1/admin/users).
func (c *Client) Users(ctx context.Context) ([]*User, error) {
	var out struct {
		Users []*User `json:"users"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/v1/admin/users", nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// User shows a user with their devices and credentials
// (GET /v1/admin/users/{id}).
func (c *Client) User(ctx context.Context, id string) (*UserDetail, error) {
	path, err := idPath("/v1/admin/users/", id, "")
	if err != nil {
		return nil, err
	}
	var d UserDetail
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// NewActivationCode gives a user a fresh activation code for a lost or
// new phone; older unused codes stop working
// (POST /v1/admin/users/{id}/activation).
func (c *Client) NewActivationCode(ctx context.Context, userID string) (*UserActivation, error) {
	var u UserActivation
	if err := c.post(ctx, "/v1/admin/users/", userID, "/activation", nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// RevokeDevice revokes an enrolled phone; reason is free text, "" for
// none (POST /v1/admin/devices/{id}/revoke).
func (c *Client) RevokeDevice(ctx context.Context, id, reason string) (*Device, error) {
	var in any
	if reason != "" {
		in = protocol.DeviceRevokeRequest{Reason: reason}
	}
	var out struct {
		Device *Device `json:"device"`
	}
	if err := c.post(ctx, "/v1/admin/devices/", id, "/revoke", in, &out); err != nil {
		return nil, err
	}
	if out.Device == nil {
		return nil, fmt.Errorf("%w: no device in the answer", ErrProtocol)
	}
	return out.Device, nil
}

// Credentials lists the credentials f selects (GET /v1/admin/credentials).
func (c *Client) Credentials(ctx context.Context, f CredentialFilter) ([]*Credential, error) {
	path := withQuery("/v1/admin/credentials", url.Values{
		"state": {f.State}, "user": {f.UserID}, "issuer": {f.IssuerID}})
	var out struct {
		Credentials []*Credential `json:"credentials"`
	}
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Credentials, nil
}

// ImportCertificate completes a pending credential of an external issuer
// with the certificate the CA issued for its CSR
// (POST /v1/admin/credentials/{id}/certificate).
func (c *Client) ImportCertificate(ctx context.Context, id, certificatePEM string) (*Credential, error) {
	return c.credentialAction(ctx, id, "/certificate", protocol.ImportRequest{CertificatePEM: certificatePEM})
}

// RevokeCredential revokes a credential; reason is an RFC 5280 reason
// name (keyCompromise, superseded, …), "" for unspecified
// (POST /v1/admin/credentials/{id}/revoke).
func (c *Client) RevokeCredential(ctx context.Context, id, reason string) (*Credential, error) {
	return c.credentialAction(ctx, id, "/revoke", protocol.RevokeRequest{Reason: reason})
}

func (c *Client) credentialAction(ctx context.Context, id, suffix string, in any) (*Credential, error) {
	var out struct {
		Credential *Credential `json:"credential"`
	}
	if err := c.post(ctx, "/v1/admin/credentials/", id, suffix, in, &out); err != nil {
		return nil, err
	}
	if out.Credential == nil {
		return nil, fmt.Errorf("%w: no credential in the answer", ErrProtocol)
	}
	return out.Credential, nil
}

// Audit reads one page of the audit log (GET /v1/admin/audit).
func (c *Client) Audit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	q := url.Values{"user": {f.UserID}, "session": {f.SessionID}, "app": {f.AppID}, "action": {f.Action},
		"actor": {f.Actor}, "on_behalf_of": {f.OnBehalfOf}}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339))
	}
	if f.AfterSeq > 0 {
		q.Set("after", strconv.FormatInt(f.AfterSeq, 10))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var page AuditPage
	if _, err := c.Do(ctx, http.MethodGet, withQuery("/v1/admin/audit", q), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// AllAudit reads every entry f selects after f.AfterSeq, page by page
// (f.Limit entries a page).
func (c *Client) AllAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var all []AuditEntry
	for {
		page, err := c.Audit(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Entries...)
		if page.NextAfter == 0 || len(page.Entries) == 0 {
			return all, nil
		}
		if page.NextAfter <= f.AfterSeq {
			return nil, fmt.Errorf("%w: the audit paging does not advance (after %d)", ErrProtocol, f.AfterSeq)
		}
		f.AfterSeq = page.NextAfter
	}
}

// VerifyAudit has the gateway verify the audit log's chain and sealed head
// (GET /v1/admin/audit/verify); a broken log is an *APIError with code
// audit_tampered.
func (c *Client) VerifyAudit(ctx context.Context) (*AuditVerification, error) {
	var v AuditVerification
	if _, err := c.Do(ctx, http.MethodGet, "/v1/admin/audit/verify", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// AuditSegment fetches the next audit segment to export, at most limit
// entries (GET /v1/admin/audit/segment); nothing is recorded until its
// anchor is handed to ArchiveAudit.
func (c *Client) AuditSegment(ctx context.Context, limit int) (*AuditSegment, error) {
	var out AuditSegment
	if _, err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/admin/audit/segment?limit=%d", limit), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveAudit records a stored segment's anchor (POST /v1/admin/audit/archive).
func (c *Client) ArchiveAudit(ctx context.Context, a AuditAnchor) (*AuditArchive, error) {
	var out AuditArchive
	if _, err := c.Do(ctx, http.MethodPost, "/v1/admin/audit/archive", a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditArchived lists the recorded anchors and the pruned marker (GET
// /v1/admin/audit/archive).
func (c *Client) AuditArchived(ctx context.Context) (*AuditArchive, error) {
	var out AuditArchive
	if _, err := c.Do(ctx, http.MethodGet, "/v1/admin/audit/archive", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddSeal makes a seal for a user (POST /v1/admin/seals).
func (c *Client) AddSeal(ctx context.Context, req SealRequest) (*Seal, error) {
	var out Seal
	if _, err := c.Do(ctx, http.MethodPost, "/v1/admin/seals", req, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("%w: no seal in the answer", ErrProtocol)
	}
	return &out, nil
}

// Seals lists the seals of owner, or every seal for "" (GET
// /v1/admin/seals).
func (c *Client) Seals(ctx context.Context, owner string) ([]*Seal, error) {
	var out struct {
		Seals []*Seal `json:"seals"`
	}
	if _, err := c.Do(ctx, http.MethodGet, withQuery("/v1/admin/seals", url.Values{"owner": {owner}}), nil, &out); err != nil {
		return nil, err
	}
	return out.Seals, nil
}

// RevokeSeal revokes a seal; reason is an RFC 5280 reason name, "" for
// unspecified (POST /v1/admin/seals/{id}/revoke).
func (c *Client) RevokeSeal(ctx context.Context, id, reason string) (*Seal, error) {
	var out Seal
	if err := c.post(ctx, "/v1/admin/seals/", id, "/revoke", map[string]string{"reason": reason}, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, fmt.Errorf("%w: no seal in the answer", ErrProtocol)
	}
	return &out, nil
}
