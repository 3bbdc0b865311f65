package session

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/qrlogin"
)

// Config configures a Service. The first four fields come from the
// configuration file (session.ttl, session.max_ttl, session.retention,
// public_url); the rest are wiring and test hooks.
type Config struct {
	// TTL is the lifetime of a session created without an explicit TTL.
	TTL time.Duration
	// MaxTTL bounds the TTL a portal may ask for.
	MaxTTL time.Duration
	// Retention is how long a session's records (state, events, result)
	// stay readable after its expiry time, whatever its outcome. Every key
	// of a session carries the same store TTL, ending at
	// ExpiresAt + Retention, so the store deletes them by itself.
	Retention time.Duration
	// PublicURL is the gateway's public base URL; QR payloads live under it
	// (see qrlogin.CheckPublicURL for its limits).
	PublicURL string

	// ExpiryInterval is how often the background expirer looks for
	// sessions past their expiry time.
	ExpiryInterval time.Duration
	// SweepInterval is how often the expirer rescans the whole expiry index
	// instead of only the seconds that passed since its last run (catches
	// entries written by a node whose clock is behind).
	SweepInterval time.Duration
	// WatchBuffer is how many events a watcher may lag behind before it is
	// dropped (its channel closed with ErrSlowWatcher).
	WatchBuffer int

	// ResultKey (required by New, gmcrypto.KeySize bytes) seals every
	// completed session's result at rest: decrypted plaintexts, content
	// keys, signatures. Derive it from the master key with
	// gmcrypto.DeriveKey(master, ResultKeyPurpose, nil); every node
	// sharing the store must use the same one. It is wiring, not a file
	// setting: Validate does not look at it, and Service.Config leaves it
	// out.
	ResultKey []byte

	// Now is the clock (nil: time.Now). Tests inject their own.
	Now func() time.Time
	// Registerer receives the Service's metrics (nil: no metrics).
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults: TTL 120 s, MaxTTL 600 s, Retention
// 10 min, public URL http://127.0.0.1:8080, expirer every second with a full
// sweep every minute, watchers 16 events deep, the system clock, no metrics.
func DefaultConfig() Config {
	return Config{
		TTL:            120 * time.Second,
		MaxTTL:         600 * time.Second,
		Retention:      10 * time.Minute,
		PublicURL:      "http://127.0.0.1:8080",
		ExpiryInterval: time.Second,
		SweepInterval:  time.Minute,
		WatchBuffer:    16,
	}
}

// Limits of the settings.
const (
	// MinTTL is the shortest session TTL.
	MinTTL = time.Second
	// MaxMaxTTL bounds session.max_ttl: a QR code is not a long-lived
	// credential.
	MaxMaxTTL = time.Hour
)

// Validate names the first bad setting; the error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	switch {
	case c.MaxTTL < MinTTL || c.MaxTTL > MaxMaxTTL:
		return bad("session.max_ttl %s must be between %s and %s", c.MaxTTL, MinTTL, MaxMaxTTL)
	case c.TTL < MinTTL || c.TTL > c.MaxTTL:
		return bad("session.ttl %s must be between %s and session.max_ttl (%s)", c.TTL, MinTTL, c.MaxTTL)
	case c.TTL%time.Second != 0 || c.MaxTTL%time.Second != 0:
		return bad("session.ttl and session.max_ttl must be whole seconds (got %s, %s)", c.TTL, c.MaxTTL)
	case c.Retention < time.Second || c.Retention > 7*24*time.Hour:
		return bad("session.retention %s must be between 1s and 168h", c.Retention)
	case c.ExpiryInterval <= 0:
		return bad("session expiry interval %s must be positive", c.ExpiryInterval)
	case c.SweepInterval <= 0:
		return bad("session sweep interval %s must be positive", c.SweepInterval)
	case c.WatchBuffer < 1:
		return bad("session watch buffer %d must be at least 1", c.WatchBuffer)
	}
	if err := qrlogin.CheckPublicURL(c.PublicURL); err != nil {
		return bad("public_url: %v", err)
	}
	return nil
}
