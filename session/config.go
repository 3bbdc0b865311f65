package session

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/storage"
)

// Config configures a Service. The first five fields come from the
// configuration file (session.ttl, session.max_ttl, session.retention,
// session.max_data_bytes, public_url); the rest are wiring and test hooks.
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
	// MaxDataBytes caps the binary inputs of one session: the sum of its
	// documents' data and its ciphertext, in bytes (before base64). A
	// larger request is refused at creation with ErrTooLarge, so that
	// every accepted session can complete in one store write (see
	// MaxWriteBytes).
	MaxDataBytes int
	// PublicURL is the gateway's public base URL; QR payloads live under it
	// (see qrlogin.CheckPublicURL for its limits).
	PublicURL string

	// ExpiryInterval is how often the background expirer looks for
	// sessions past their expiry time.
	ExpiryInterval time.Duration
	// SweepInterval is how often the expirer rescans every due second of
	// the expiry index instead of only the seconds that passed since its
	// last run (catches entries written by a node whose clock is behind).
	SweepInterval time.Duration
	// WatchBuffer is kept for configuration compatibility (it must be at
	// least 1) and no longer used: the hub holds one pending slot per
	// watcher and a watcher that lags re-lists the stored events instead
	// of being dropped.
	WatchBuffer int
	// MaxWriteBytes bounds the values one transition writes (the record
	// and the new event) in one store transaction. The default fits etcd's
	// default request limit (1.5 MiB) with a margin; a write over it is
	// refused with ErrTooLarge before it reaches the store, and a confirm
	// checks before the key is used that its result will fit.
	MaxWriteBytes int

	// ResultKey (required by New, gmcrypto.KeySize bytes) seals every
	// completed session's result at rest: decrypted plaintexts, content
	// keys, signatures. Derive it from the master key with
	// gmcrypto.DeriveKey(master, ResultKeyPurpose, nil); every node
	// sharing the store must use the same one. It is wiring, not a file
	// setting: Validate does not look at it, and Service.Config leaves it
	// out.
	ResultKey []byte

	// Outbox, when set, queues every event for delivery in the event's
	// own transaction (package webhook); nil: no outbox.
	Outbox Outbox

	// Now is the clock (nil: time.Now). Tests inject their own.
	Now func() time.Time
	// Registerer receives the Service's metrics (nil: no metrics).
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults: TTL 120 s, MaxTTL 600 s, Retention
// 10 min, MaxDataBytes 512 KiB, public URL http://127.0.0.1:8080, expirer
// every second with a full sweep every minute, watchers 16 events deep,
// MaxWriteBytes DefaultMaxWriteBytes, the system clock, no metrics.
func DefaultConfig() Config {
	return Config{
		TTL:            120 * time.Second,
		MaxTTL:         600 * time.Second,
		Retention:      10 * time.Minute,
		MaxDataBytes:   DefaultMaxDataBytes,
		PublicURL:      "http://127.0.0.1:8080",
		ExpiryInterval: time.Second,
		SweepInterval:  time.Minute,
		WatchBuffer:    16,
		MaxWriteBytes:  DefaultMaxWriteBytes,
	}
}

// Limits of the settings.
const (
	// MinTTL is the shortest session TTL.
	MinTTL = time.Second
	// MaxMaxTTL bounds session.max_ttl: a QR code is not a long-lived
	// credential.
	MaxMaxTTL = time.Hour
	// MinRetention and MaxRetention bound session.retention.
	MinRetention = time.Second
	MaxRetention = 7 * 24 * time.Hour

	// DefaultMaxDataBytes is the default session.max_data_bytes.
	DefaultMaxDataBytes = 512 << 10
	// MinMaxDataBytes and MaxMaxDataBytes bound session.max_data_bytes.
	// At the upper bound, a cms-attached signature (which holds the data
	// again) or a decrypted plaintext, sealed and base64-encoded twice in
	// the completed event, still fits DefaultMaxWriteBytes.
	MinMaxDataBytes = 1 << 10
	MaxMaxDataBytes = 640 << 10

	// DefaultMaxWriteBytes is the default Config.MaxWriteBytes: etcd
	// refuses requests over 1.5 MiB unless told otherwise.
	DefaultMaxWriteBytes = 1400 << 10
	// MinMaxWriteBytes is the smallest Config.MaxWriteBytes.
	MinMaxWriteBytes = 64 << 10

	// ClaimTTL is how long a confirm's claim on a session lasts: a node
	// that dies while confirming blocks other confirms of the session for
	// at most this long.
	ClaimTTL = 30 * time.Second
)

// writeReserve is what MaxWriteBytes keeps beside the inputs' share: the
// ended record, the certificates, names and signatures of the result.
const writeReserve = 64 << 10

// maxDataFor is the largest MaxDataBytes whose completion fits one write
// of writeBytes: the result may hold the inputs once more (cms-attached,
// a plaintext), stored base64 (4/3) of the sealed base64 JSON (4/3).
func maxDataFor(writeBytes int) int {
	return (writeBytes - writeReserve) * 9 / 16
}

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
	case c.Retention < MinRetention || c.Retention > MaxRetention:
		return bad("session.retention %s must be between %s and %s", c.Retention, MinRetention, MaxRetention)
	case c.MaxWriteBytes < MinMaxWriteBytes || c.MaxWriteBytes > storage.MaxValueLen:
		return bad("session write limit %d must be between %d and %d bytes", c.MaxWriteBytes, MinMaxWriteBytes, storage.MaxValueLen)
	case c.MaxDataBytes < MinMaxDataBytes || c.MaxDataBytes > MaxMaxDataBytes:
		return bad("session.max_data_bytes %d must be between %d and %d", c.MaxDataBytes, MinMaxDataBytes, MaxMaxDataBytes)
	case c.MaxDataBytes > maxDataFor(c.MaxWriteBytes):
		return bad("session.max_data_bytes %d is too large for one store write of %d bytes (at most %d)", c.MaxDataBytes, c.MaxWriteBytes, maxDataFor(c.MaxWriteBytes))
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
