package privacy

import (
	"fmt"
	"time"
)

// Config is the retention of what the law asks a CA to keep after an
// account is deleted (configuration keys privacy.*). Start from
// DefaultConfig.
type Config struct {
	// CertificateRetention is how long after a deleted user's certificate
	// ends its retained record (issuer, serial, SM3 fingerprint,
	// validity, revocation: no name, no key) is kept; 0 keeps none. The
	// default, five years, is article 24 of the Electronic Signature Law
	// (information about a certificate kept at least five years after it
	// ends). CRL entries are kept whatever this is.
	CertificateRetention time.Duration
	// Compact compacts the store after each deletion (bbolt: the file is
	// rewritten; etcd: the revision history is compacted) so that no old
	// copy of an erased record stays readable in it.
	Compact bool
}

// DefaultConfig: certificates' retained records for 5 years (1826 days)
// after they end; the store compacted after each deletion.
func DefaultConfig() Config {
	return Config{CertificateRetention: 1826 * 24 * time.Hour, Compact: true}
}

// MaxCertificateRetention bounds privacy.certificate_retention (30 years).
const MaxCertificateRetention = 30 * 366 * 24 * time.Hour

// Validate names the first bad setting.
func (c Config) Validate() error {
	if c.CertificateRetention < 0 || c.CertificateRetention > MaxCertificateRetention {
		return fmt.Errorf("%w: privacy.certificate_retention: %s outside [0, %s]", ErrInvalidConfig, c.CertificateRetention, MaxCertificateRetention)
	}
	return nil
}
