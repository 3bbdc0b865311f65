package qrlogin

import (
	"fmt"
	"net/url"
	"strings"
)

// Limits of the QR payload. A payload is
//
//	<public_url>/q/<id>.<nonce>
//
// with id and nonce IDLen and NonceLen characters of the URL-safe base64
// alphabet: 36 characters after public_url, so public_url (without a
// trailing slash) may have at most MaxPublicURLLen = 64 characters and
// every payload fits MaxPayloadLen = 100.
const (
	MaxPayloadLen   = 100
	IDLen           = 16
	NonceLen        = 16
	MaxPublicURLLen = MaxPayloadLen - len(PathPrefix) - IDLen - 1 - NonceLen
	// PathPrefix is the path under public_url that QR payloads use; the
	// gateway may serve a page there for phones that open the URL with a
	// plain camera app.
	PathPrefix = "/q/"
)

// CheckPublicURL reports why u cannot be the base of QR payloads: it must
// be an absolute http or https URL of printable ASCII, with a host, no
// user info, query or fragment, and at most MaxPublicURLLen characters
// once a trailing slash is removed.
func CheckPublicURL(u string) error {
	base := strings.TrimSuffix(u, "/")
	switch {
	case base == "":
		return fmt.Errorf("%w: empty", ErrInvalidPublicURL)
	case len(base) > MaxPublicURLLen:
		return fmt.Errorf("%w: %d characters, at most %d allowed (QR payloads must stay within %d)", ErrInvalidPublicURL, len(base), MaxPublicURLLen, MaxPayloadLen)
	}
	for i := 0; i < len(base); i++ {
		if base[i] <= ' ' || base[i] >= 0x7f {
			return fmt.Errorf("%w: only printable ASCII without spaces is allowed", ErrInvalidPublicURL)
		}
	}
	p, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPublicURL, err)
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Errorf("%w: scheme must be http or https", ErrInvalidPublicURL)
	case p.Host == "" || p.Opaque != "":
		return fmt.Errorf("%w: no host", ErrInvalidPublicURL)
	case p.User != nil:
		return fmt.Errorf("%w: user info is not allowed", ErrInvalidPublicURL)
	case p.RawQuery != "" || p.ForceQuery || strings.Contains(base, "#"):
		return fmt.Errorf("%w: query and fragment are not allowed", ErrInvalidPublicURL)
	case p.Scheme+"://"+p.Host+p.EscapedPath() != base:
		return fmt.Errorf("%w: not in canonical form (%q)", ErrInvalidPublicURL, p.Scheme+"://"+p.Host+p.EscapedPath())
	}
	return nil
}

// Encode returns the QR payload of session id with its one-time nonce,
// under publicURL (a trailing slash is ignored). The inputs are trusted:
// publicURL passed CheckPublicURL and id and nonce come from the session
// package; Parse(Encode(u, id, nonce), u) returns them.
func Encode(publicURL, sessionID, nonce string) string {
	return strings.TrimSuffix(publicURL, "/") + PathPrefix + sessionID + "." + nonce
}

// Parse extracts the session id and nonce from a scanned payload. It is
// strict: the payload must start with exactly publicURL + "/q/" (same
// scheme, host, port and path, byte for byte), followed by IDLen URL-safe
// base64 characters, a dot and NonceLen more, and nothing else. Anything
// else is ErrInvalidPayload.
func Parse(payload, publicURL string) (id, nonce string, err error) {
	if len(payload) > MaxPayloadLen {
		return "", "", fmt.Errorf("%w: longer than %d characters", ErrInvalidPayload, MaxPayloadLen)
	}
	rest, ok := strings.CutPrefix(payload, strings.TrimSuffix(publicURL, "/")+PathPrefix)
	if !ok || publicURL == "" {
		return "", "", fmt.Errorf("%w: not a QR code of this gateway", ErrInvalidPayload)
	}
	if len(rest) != IDLen+1+NonceLen || rest[IDLen] != '.' {
		return "", "", fmt.Errorf("%w: malformed session reference", ErrInvalidPayload)
	}
	id, nonce = rest[:IDLen], rest[IDLen+1:]
	if !urlSafe(id) || !urlSafe(nonce) {
		return "", "", fmt.Errorf("%w: malformed session reference", ErrInvalidPayload)
	}
	return id, nonce, nil
}

// urlSafe reports whether s uses only the URL-safe base64 alphabet.
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
