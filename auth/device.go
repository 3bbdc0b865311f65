package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// pfxNonces is where consumed nonces live: nonces/<device>/<nonce hex>.
const pfxNonces = "nonces/"

// DeviceKeys finds an enrolled device's SM2 public key and its user. It
// returns an error wrapping ErrDeviceUnknown for an unknown device, and one
// wrapping ErrDeviceRevoked for a revoked device, together with the
// device's public key when it has it (so that only a request the device
// really signed learns that it is revoked; others get ErrBadSignature).
type DeviceKeys interface {
	DeviceKey(ctx context.Context, deviceID string) (pub crypto.PublicKey, userID string, err error)
}

// DeviceRecords is a DeviceKeys that also names the stored record each
// answer came from. The verifier then consumes a request's nonce only
// while that record is still at the revision it answered from (a
// condition in the nonce's own transaction, or in the transaction of the
// request's action: storage.Guard), so an answer from a cached copy of a
// device revoked on another node lets nothing through. A DeviceKeys whose
// answers may come from a cache must be one.
type DeviceRecords interface {
	DeviceKeys
	DeviceRecord(ctx context.Context, deviceID string) (pub crypto.PublicKey, userID string, rec RecordRef, err error)
}

// RecordRef names a stored record at one revision.
type RecordRef struct {
	Key      string
	Revision int64
}

// DeviceConfig tunes the device request checks. Start from
// DefaultDeviceConfig.
type DeviceConfig struct {
	// ClockSkew is the largest accepted distance between X-Timestamp and
	// the server clock. Nonces are remembered for NonceTTL: twice as long
	// plus a margin for the disagreement between the nodes' clocks.
	ClockSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultDeviceConfig allows 300 s of clock skew.
func DefaultDeviceConfig() DeviceConfig {
	return DeviceConfig{ClockSkew: 300 * time.Second}
}

// Validate names the first bad setting.
func (c DeviceConfig) Validate() error {
	if c.ClockSkew < time.Second || c.ClockSkew > 24*time.Hour {
		return fmt.Errorf("%w: device.clock_skew: %s outside [1s, 24h]", ErrInvalidConfig, c.ClockSkew)
	}
	return nil
}

// MinNonceMargin is the least time NonceTTL adds to twice the clock skew.
const MinNonceMargin = 60 * time.Second

// NonceTTL is how long a consumed nonce is remembered: 2×ClockSkew plus a
// margin of max(ClockSkew, MinNonceMargin).
//
// Why more than 2×ClockSkew: a request is accepted while its timestamp is
// within ClockSkew of the clock of the node that receives it, so one node
// accepts it for up to 2×ClockSkew. In a cluster the nodes' clocks
// disagree: a request that node A (clock δ ahead) accepts near the future
// edge of its window stays acceptable to node B for up to 2×ClockSkew + δ
// after A recorded the nonce, and the store (an etcd lease, granted before
// the commit) forgets the nonce on its own timeline. The margin keeps the
// nonce for nodes up to max(ClockSkew, 60 s) apart; nodes further apart
// also disagree about which timestamps are fresh and need their clocks
// fixed.
func (c DeviceConfig) NonceTTL() time.Duration {
	return 2*c.ClockSkew + max(c.ClockSkew, MinNonceMargin)
}

// DeviceVerifier checks device-signed requests.
type DeviceVerifier struct {
	store storage.Store
	keys  DeviceKeys
	cfg   DeviceConfig
}

// NewDeviceVerifier returns a verifier that finds device keys with keys and
// records consumed nonces in store.
func NewDeviceVerifier(store storage.Store, keys DeviceKeys, cfg DeviceConfig) (*DeviceVerifier, error) {
	if store == nil || keys == nil {
		return nil, fmt.Errorf("%w: nil store or device keys", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &DeviceVerifier{store: store, keys: keys, cfg: cfg}, nil
}

// VerifyDeviceRequest checks r's device signature over body (the whole
// request body, already read) and returns the device and its user. Checks,
// in order: headers present and well formed (ErrMissingHeaders,
// ErrMalformedHeaders), timestamp within the skew (ErrStaleTimestamp),
// device known (ErrDeviceUnknown), signature (ErrBadSignature), device
// not revoked (ErrDeviceRevoked), and only then the nonce is consumed
// (ErrReplayedNonce if it was used before) — unless ctx carries a slot of
// storage.DeferOnce: then the nonce is put in it, to be consumed in the
// transaction of the request's action (storage.TxnOnce, Once.Settle).
func (v *DeviceVerifier) VerifyDeviceRequest(ctx context.Context, r *http.Request, body []byte) (deviceID, userID string, err error) {
	h, err := protocol.ParseDeviceHeaders(r.Header)
	if err != nil {
		return "", "", err
	}
	now := v.cfg.Now()
	if d := now.Sub(h.Timestamp); d > v.cfg.ClockSkew || d < -v.cfg.ClockSkew {
		return "", "", ErrStaleTimestamp
	}
	pub, userID, rec, err := v.lookup(ctx, h.Device)
	revoked := errors.Is(err, ErrDeviceRevoked)
	switch {
	case revoked && pub == nil:
		return "", "", ErrDeviceRevoked
	case revoked:
	case errors.Is(err, ErrDeviceUnknown):
		return "", "", ErrDeviceUnknown
	case err != nil:
		return "", "", fmt.Errorf("auth: device lookup: %w", err)
	}
	if err := h.Verify(pub, r.Method, r.URL.RequestURI(), body); err != nil {
		return "", "", err
	}
	if revoked {
		return "", "", ErrDeviceRevoked
	}
	nonceKey := pfxNonces + h.Device + "/" + strings.ToLower(h.Nonce)
	guard := v.guard(h.Device, pub, userID, rec)
	if storage.SetOnceGuarded(ctx, v.store, nonceKey, []byte(h.TimestampRaw), v.cfg.NonceTTL(), ErrReplayedNonce, guard) {
		// The request's action consumes the nonce in its own transaction
		// (storage.TxnOnce), or its handler alone (Once.Settle), under
		// the guard.
		return h.Device, userID, nil
	}
	for range maxGuardAttempts {
		ops := []storage.Op{storage.IfAbsent(nonceKey)}
		if guard != nil {
			ops = append(ops, storage.IfRevision(guard.Key, guard.Revision))
		}
		ops = append(ops, storage.Put(nonceKey, []byte(h.TimestampRaw), v.cfg.NonceTTL()))
		_, err = v.store.Txn(ctx, ops...)
		if err == nil {
			return h.Device, userID, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return "", "", fmt.Errorf("auth: recording nonce: %w", err)
		}
		if guard == nil {
			return "", "", ErrReplayedNonce
		}
		if _, gerr := v.store.Get(ctx, nonceKey); gerr == nil {
			return "", "", ErrReplayedNonce
		}
		if guard.Revision, err = guard.Recheck(ctx); err != nil {
			return "", "", err
		}
	}
	return "", "", fmt.Errorf("auth: recording nonce: the device record kept changing: %w", storage.ErrConflict)
}

// maxGuardAttempts bounds the attempts to record a nonce while the
// device's record keeps changing (each change is read and checked again).
const maxGuardAttempts = 5

// lookup asks v.keys for the device, with the record it answered from
// when it can tell (DeviceRecords).
func (v *DeviceVerifier) lookup(ctx context.Context, id string) (crypto.PublicKey, string, RecordRef, error) {
	if dr, ok := v.keys.(DeviceRecords); ok {
		return dr.DeviceRecord(ctx, id)
	}
	pub, userID, err := v.keys.DeviceKey(ctx, id)
	return pub, userID, RecordRef{}, err
}

// guard is the condition a verified request of device id is consumed
// under: its record unchanged since rec, or, once it changed, a device
// still enrolled for the same user with the same key (nil when the
// lookup named no record). Anything else refuses the request: revoked
// (ErrDeviceRevoked), gone (ErrDeviceUnknown), a new key or user
// (ErrBadSignature: the request was checked against the old key).
func (v *DeviceVerifier) guard(id string, pub crypto.PublicKey, userID string, rec RecordRef) *storage.Guard {
	if rec.Key == "" {
		return nil
	}
	return &storage.Guard{Key: rec.Key, Revision: rec.Revision, Recheck: func(ctx context.Context) (int64, error) {
		pub2, user2, rec2, err := v.lookup(ctx, id)
		switch {
		case errors.Is(err, ErrDeviceRevoked):
			return 0, ErrDeviceRevoked
		case errors.Is(err, ErrDeviceUnknown):
			return 0, ErrDeviceUnknown
		case err != nil:
			return 0, fmt.Errorf("auth: device lookup: %w", err)
		case rec2.Key != rec.Key || user2 != userID || !samePublicKey(pub, pub2):
			return 0, ErrBadSignature
		}
		return rec2.Revision, nil
	}}
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && ea.Equal(b)
}
