package ca

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config tunes the CA. Start from DefaultConfig.
type Config struct {
	// PublicURL is the gateway's external base URL (http or https, no query);
	// CRL distribution points are <PublicURL>/v1/issuers/<id>/crl.
	PublicURL string
	// ActivationTTL is how long an activation code stays valid.
	ActivationTTL time.Duration
	// CRLNextUpdate is the span between a CRL's thisUpdate and nextUpdate. A
	// CRL is re-signed once half of it has passed, or after a revocation.
	CRLNextUpdate time.Duration
	// DefaultValidityDays is the certificate validity of a profile that does
	// not set one.
	DefaultValidityDays int
	// PINMaxTries is how many wrong PINs in a row lock a user's keys.
	PINMaxTries int
	// PINLockBase is the first lock's length; each further wrong PIN
	// doubles it, up to PINLockMax.
	PINLockBase time.Duration
	PINLockMax  time.Duration
	// Now returns the current time; nil means time.Now. Tests move it.
	Now func() time.Time
}

// DefaultConfig returns the defaults: public URL http://127.0.0.1:8080,
// activation codes valid 72 h, CRLs valid 24 h, certificates 730 days, PIN
// locked after 5 wrong tries for 30 s doubling up to 1 h.
func DefaultConfig() Config {
	return Config{
		PublicURL:           "http://127.0.0.1:8080",
		ActivationTTL:       72 * time.Hour,
		CRLNextUpdate:       24 * time.Hour,
		DefaultValidityDays: 730,
		PINMaxTries:         5,
		PINLockBase:         30 * time.Second,
		PINLockMax:          time.Hour,
	}
}

// Validate reports the first bad setting, naming its key.
func (c Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case c.PublicURL == "":
		return bad("public_url", "empty")
	case err != nil:
		return bad("public_url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("public_url", "scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return bad("public_url", "no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return bad("public_url", "must not carry a query, fragment or user info")
	}
	if c.ActivationTTL < time.Minute || c.ActivationTTL > 365*24*time.Hour {
		return bad("activation_ttl", "%s outside [1m, 8760h]", c.ActivationTTL)
	}
	if c.CRLNextUpdate < time.Minute || c.CRLNextUpdate > 366*24*time.Hour {
		return bad("crl_next_update", "%s outside [1m, 8784h]", c.CRLNextUpdate)
	}
	if c.DefaultValidityDays < 1 || c.DefaultValidityDays > maxValidityDays {
		return bad("default_validity_days", "%d outside [1, %d]", c.DefaultValidityDays, maxValidityDays)
	}
	if c.PINMaxTries < 1 || c.PINMaxTries > 100 {
		return bad("pin_max_tries", "%d outside [1, 100]", c.PINMaxTries)
	}
	if c.PINLockBase <= 0 {
		return bad("pin_lock_base", "must be positive, got %s", c.PINLockBase)
	}
	if c.PINLockMax < c.PINLockBase {
		return bad("pin_lock_max", "%s is below pin_lock_base %s", c.PINLockMax, c.PINLockBase)
	}
	return nil
}

// crlURL is the CRL distribution point of an issuer.
func (c Config) crlURL(issuerID string) string {
	return strings.TrimRight(c.PublicURL, "/") + "/v1/issuers/" + issuerID + "/crl"
}

// maxValidityDays caps every validity (CA and end entity): 30 years.
const maxValidityDays = 30 * 366
