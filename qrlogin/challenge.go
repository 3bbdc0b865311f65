package qrlogin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Challenge is what a login signs: the gateway builds it when the phone
// user confirms a login, signs Bytes() with the chosen credential, and
// returns those exact bytes to the portal, which checks them (Check)
// before it trusts the signature.
type Challenge struct {
	Session string // the session id
	App     string // the id of the app (portal) that created the session
	Origin  string // the page origin the session was created for
	Nonce   string // a fresh random value (not the QR nonce)
	Time    time.Time
}

// Limits of a challenge.
const (
	// MaxChallengeLen bounds the encoded challenge.
	MaxChallengeLen = 2048
	// MaxClockSkew is how far in the future a challenge's time may be.
	MaxClockSkew = time.Minute
	// challengeNonceBytes: 128 bits.
	challengeNonceBytes = 16
)

// wireChallenge fixes the field names and their order.
type wireChallenge struct {
	Session string `json:"session"`
	App     string `json:"app"`
	Origin  string `json:"origin"`
	Nonce   string `json:"nonce"`
	Time    string `json:"time"`
}

// NewChallenge returns the challenge of a login of session for app and
// origin at now, with a fresh 128-bit nonce.
func NewChallenge(session, app, origin string, now time.Time) (Challenge, error) {
	b, err := gmcrypto.RandomBytes(challengeNonceBytes)
	if err != nil {
		return Challenge{}, err
	}
	c := Challenge{Session: session, App: app, Origin: origin, Nonce: base64.RawURLEncoding.EncodeToString(b), Time: now}
	if err := c.valid(); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

func (c Challenge) valid() error {
	for _, f := range []struct{ name, v string }{{"session", c.Session}, {"app", c.App}, {"origin", c.Origin}, {"nonce", c.Nonce}} {
		if f.v == "" || !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is empty or not UTF-8", ErrInvalidChallenge, f.name)
		}
	}
	if y := c.Time.UTC().Year(); y < 2000 || y > 9999 {
		return fmt.Errorf("%w: time out of range", ErrInvalidChallenge)
	}
	return nil
}

// Bytes returns the canonical encoding, the exact bytes that are signed:
// a JSON object with the members session, app, origin, nonce and time in
// this order, no white space, no HTML escaping, time as RFC 3339 in UTC
// with whole seconds ("2026-01-02T03:04:05Z").
func (c Challenge) Bytes() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(wireChallenge{ // cannot fail on plain strings
		Session: c.Session,
		App:     c.App,
		Origin:  c.Origin,
		Nonce:   c.Nonce,
		Time:    c.Time.UTC().Truncate(time.Second).Format(time.RFC3339),
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ParseChallenge decodes a challenge and insists that b is exactly its
// canonical encoding (so that what a portal checks is what was signed):
// all five members, no other, in order, no white space. Anything else is
// ErrInvalidChallenge.
func ParseChallenge(b []byte) (Challenge, error) {
	if len(b) > MaxChallengeLen {
		return Challenge{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidChallenge, MaxChallengeLen)
	}
	var w wireChallenge
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Challenge{}, fmt.Errorf("%w: %v", ErrInvalidChallenge, err)
	}
	t, err := time.Parse(time.RFC3339, w.Time)
	if err != nil {
		return Challenge{}, fmt.Errorf("%w: time is not RFC 3339", ErrInvalidChallenge)
	}
	c := Challenge{Session: w.Session, App: w.App, Origin: w.Origin, Nonce: w.Nonce, Time: t.UTC()}
	if err := c.valid(); err != nil {
		return Challenge{}, err
	}
	if !bytes.Equal(c.Bytes(), b) {
		return Challenge{}, fmt.Errorf("%w: not in canonical form", ErrInvalidChallenge)
	}
	return c, nil
}

// Check is what a portal does before it trusts a login signature (the
// portal SDK's VerifyLogin calls it): the challenge must name the session
// it created (required), its own app id and the origin of its page (each
// checked when not empty) (ErrChallengeMismatch), and be at most maxAge
// old at now and not more than MaxClockSkew in the future
// (ErrChallengeExpired). maxAge must be positive.
func (c Challenge) Check(expectSession, expectApp, expectOrigin string, now time.Time, maxAge time.Duration) error {
	switch {
	case maxAge <= 0:
		return fmt.Errorf("%w: maxAge must be positive", ErrChallengeExpired)
	case c.Session != expectSession || expectSession == "":
		return fmt.Errorf("%w: another session", ErrChallengeMismatch)
	case expectApp != "" && c.App != expectApp:
		return fmt.Errorf("%w: another app", ErrChallengeMismatch)
	case expectOrigin != "" && c.Origin != expectOrigin:
		return fmt.Errorf("%w: origin %q, want %q", ErrChallengeMismatch, c.Origin, expectOrigin)
	case c.Nonce == "":
		return fmt.Errorf("%w: no nonce", ErrInvalidChallenge)
	case now.Sub(c.Time) > maxAge:
		return fmt.Errorf("%w: issued %s ago, at most %s allowed", ErrChallengeExpired, now.Sub(c.Time).Round(time.Second), maxAge)
	case c.Time.Sub(now) > MaxClockSkew:
		return fmt.Errorf("%w: issued %s in the future", ErrChallengeExpired, c.Time.Sub(now).Round(time.Second))
	}
	return nil
}
