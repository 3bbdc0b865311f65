package portal

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

// Client talks to a gateway on behalf of one portal (one app key). It is
// safe for concurrent use; its fields must not change after the first call.
//
// Keep it on the backend: the app key authorises creating sessions and
// reading their results. The browser only ever gets what CreateSession
// returns minus nothing secret (the watch token is scoped to one session and
// expires with it).
type Client struct {
	// BaseURL is the gateway's public URL, e.g. "https://ukey.example.com".
	BaseURL string
	// AppKey is the portal's API key (Authorization: Bearer).
	AppKey string
	// HTTP is the client used for every request; nil means a client with a
	// 60 s timeout. A long-poll waits the session's watch.poll_wait (at
	// most 55 s; 25 s from a server that does not give it), so a client
	// of your own must allow that plus a margin.
	HTTP *http.Client
	// Origin, when set, is sent as the Origin header of websocket and
	// long-poll watches (the gateway may check it against the app's
	// registered origins).
	Origin string
	// Transport chooses how Watch follows a session: "" or "auto"
	// (websocket, falling back to long-poll when it cannot connect) or
	// "longpoll".
	Transport string
	// InlinePDFBytes is how many bytes of PDF a seal session request may
	// carry inline: when its documents' PDFs together hold more,
	// CreateSession uploads them first (Upload) and names them by id.
	// 0 means DefaultInlinePDFBytes (under the gateway's default
	// session.max_data_bytes, 512 KiB); set it to that setting if it
	// differs.
	InlinePDFBytes int
}

// DefaultInlinePDFBytes is Client.InlinePDFBytes when it is 0.
const DefaultInlinePDFBytes = 384 << 10

// maxResponseBytes bounds what the client reads of an answer (an error
// answer: protocol.MaxErrorBytes).
const maxResponseBytes = 64 << 20

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
	if c.AppKey == "" || strings.ContainsAny(c.AppKey, "\r\n ") {
		return fmt.Errorf("%w: AppKey is empty or contains spaces or line breaks", ErrInvalidConfig)
	}
	switch c.Transport {
	case "", "auto", "longpoll":
	default:
		return fmt.Errorf("%w: Transport %q is not auto or longpoll", ErrInvalidConfig, c.Transport)
	}
	return nil
}

// resolve turns a URL the gateway gave (absolute, or relative to BaseURL)
// or an API path ("/v1/…", appended to BaseURL, keeping its path prefix)
// into an absolute URL.
func (c *Client) resolve(ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %q: %v", ErrProtocol, ref, err)
	}
	if r.IsAbs() {
		return r, nil
	}
	base := strings.TrimRight(c.BaseURL, "/")
	if strings.HasPrefix(ref, "/") {
		u, err := url.Parse(base + ref)
		if err != nil {
			return nil, fmt.Errorf("%w: URL %q: %v", ErrProtocol, ref, err)
		}
		return u, nil
	}
	b, err := url.Parse(base + "/")
	if err != nil {
		return nil, fmt.Errorf("%w: BaseURL: %v", ErrInvalidConfig, err)
	}
	return b.ResolveReference(r), nil
}

// sessionPath is the API path of a session, or ErrInvalidArgument.
func sessionPath(id, suffix string) (string, error) {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/?#%") {
		return "", fmt.Errorf("%w: session id %q", ErrInvalidArgument, id)
	}
	return "/v1/sessions/" + url.PathEscape(id) + suffix, nil
}

// do sends one request authorised by the app key and decodes a 2xx JSON
// answer into out (when not nil). Any other status is an *APIError.
func (c *Client) do(ctx context.Context, method, ref string, in, out any) error {
	if err := c.check(); err != nil {
		return err
	}
	u, err := c.resolve(ref)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AppKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("portal: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

// decodeResponse turns a non-2xx answer into an *APIError and decodes a
// 2xx JSON body into out.
func decodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ReadAPIError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, protocol.MaxErrorBytes))
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("portal: reading the answer: %w", err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("%w: answer larger than %d bytes", ErrProtocol, maxResponseBytes)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return nil
}

// ReadAPIError builds the *APIError of a failed answer of any gateway
// endpoint (the error envelope is the same everywhere), for callers that
// make their own requests.
func ReadAPIError(resp *http.Response) error { return protocol.ReadAPIError(resp) }

// CreateSession asks the gateway for a new scan session (POST /v1/sessions).
// Hand the browser widget the returned Session as JSON (it holds no app
// secret) and keep its ID to fetch and verify the result later.
func (c *Client) CreateSession(ctx context.Context, req SessionRequest) (*Session, error) {
	switch req.Kind {
	case KindLogin, KindSign, KindDecrypt, KindSeal, KindCertificate:
	default:
		return nil, fmt.Errorf("%w: kind %q is not login, sign, decrypt, seal or certificate", ErrInvalidArgument, req.Kind)
	}
	if req.Kind == KindSeal {
		docs, err := c.uploadLarge(ctx, req.Documents)
		if err != nil {
			return nil, err
		}
		req.Documents = docs
	}
	var s Session
	if err := c.do(ctx, http.MethodPost, "/v1/sessions", req, &s); err != nil {
		return nil, err
	}
	if s.ID == "" || s.Watch.Token == "" {
		return nil, fmt.Errorf("%w: session without id or watch token", ErrProtocol)
	}
	return &s, nil
}

// GetSession reads a session with its events and, once completed, its
// result (GET /v1/sessions/{id}).
func (c *Client) GetSession(ctx context.Context, id string) (*Session, error) {
	p, err := sessionPath(id, "")
	if err != nil {
		return nil, err
	}
	var s Session
	if err := c.do(ctx, http.MethodGet, p, nil, &s); err != nil {
		return nil, err
	}
	if s.ID == "" {
		return nil, fmt.Errorf("%w: session without id", ErrProtocol)
	}
	return &s, nil
}

// CancelSession ends a waiting or scanned session as cancelled
// (DELETE /v1/sessions/{id}).
func (c *Client) CancelSession(ctx context.Context, id string) error {
	p, err := sessionPath(id, "")
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil)
}

// Verify asks the gateway to check a raw signature (with the signer's
// certificate) or a CMS SignedData against its registered issuers: chain,
// key usage and revocation (POST /v1/verify). A signature that does not
// verify is a VerifyResponse with Valid false, not an error.
func (c *Client) Verify(ctx context.Context, req VerifyRequest) (*VerifyResponse, error) {
	var v VerifyResponse
	if err := c.do(ctx, http.MethodPost, "/v1/verify", req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// VerifyPDF asks the gateway to check every signature of a signed (sealed)
// PDF: byte ranges, signer chain, key usage and revocation against its
// issuers, changes after each signature, and the GB/T 38540 seal each
// carries, revocation included (POST /v1/verify with pdf). A PDF that is
// not valid is a VerifyResponse with Valid false, not an error.
func (c *Client) VerifyPDF(ctx context.Context, pdf []byte) (*VerifyResponse, error) {
	if len(pdf) == 0 {
		return nil, fmt.Errorf("%w: empty pdf", ErrInvalidArgument)
	}
	return c.Verify(ctx, VerifyRequest{PDF: pdf})
}

// Encrypt has the gateway build a CMS EnvelopedData of data to the
// encryption credential of user (at issuer, or the gateway's choice when
// empty) (POST /v1/encrypt). Only that user's phone can open it.
func (c *Client) Encrypt(ctx context.Context, user, issuer string, data []byte) ([]byte, error) {
	if user == "" {
		return nil, fmt.Errorf("%w: empty user", ErrInvalidArgument)
	}
	in := protocol.EncryptRequest{User: user, Issuer: issuer, Data: data}
	var out protocol.EncryptResponse
	if err := c.do(ctx, http.MethodPost, "/v1/encrypt", in, &out); err != nil {
		return nil, err
	}
	if len(out.CMS) == 0 {
		return nil, fmt.Errorf("%w: empty cms", ErrProtocol)
	}
	return out.CMS, nil
}

// QRPNG fetches the session's QR code as a PNG of about size pixels
// (0 = the gateway's default), authorised by the app key.
func (c *Client) QRPNG(ctx context.Context, s *Session, size int) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: nil session", ErrInvalidArgument)
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrInvalidArgument)
	}
	// The image is fetched from BaseURL with the app key, never from a URL
	// the answer named (the key goes to the configured gateway only).
	p, err := sessionPath(s.ID, "/qr.png")
	if err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	u, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	if size > 0 {
		q := u.Query()
		q.Set("size", strconv.Itoa(size))
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AppKey)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("portal: GET %s: %w", u.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, ReadAPIError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("portal: reading the QR image: %w", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, fmt.Errorf("%w: QR image is not a PNG", ErrProtocol)
	}
	return b, nil
}
