package auth

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// The device request headers (docs/protocol.md, "Phone: device-signed requests").
const (
	HeaderDevice    = "X-Device"
	HeaderTimestamp = "X-Timestamp"
	HeaderNonce     = "X-Nonce"
	HeaderSignature = "X-Signature"
)

// Nonce limits: at least 16 random bytes, at most 64, hex encoded.
const (
	MinNonceBytes = 16
	MaxNonceBytes = 64
	// maxSignatureLen bounds the base64 X-Signature (a DER SM2 signature is
	// at most 72 bytes, a P-256 one too).
	maxSignatureLen = 256
)

// pfxNonces is where consumed nonces live: nonces/<device>/<nonce hex>.
const pfxNonces = "nonces/"

// DeviceKeys finds an enrolled device's public key (SM2 or P-256) and its user. It
// returns an error wrapping ErrDeviceUnknown for an unknown device, and one
// wrapping ErrDeviceRevoked for a revoked device, together with the
// device's public key when it has it (so that only a request the device
// really signed learns that it is revoked; others get ErrBadSignature).
type DeviceKeys interface {
	DeviceKey(ctx context.Context, deviceID string) (pub crypto.PublicKey, userID string, err error)
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
// (ErrReplayedNonce if it was used before).
func (v *DeviceVerifier) VerifyDeviceRequest(ctx context.Context, r *http.Request, body []byte) (deviceID, userID string, err error) {
	h, err := parseHeaders(r.Header)
	if err != nil {
		return "", "", err
	}
	now := v.cfg.Now()
	if d := now.Sub(time.Unix(h.timestamp, 0)); d > v.cfg.ClockSkew || d < -v.cfg.ClockSkew {
		return "", "", ErrStaleTimestamp
	}
	pub, userID, err := v.keys.DeviceKey(ctx, h.device)
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
	bodyHash, err := gmcrypto.DeviceBodyHash(pub, body)
	if err != nil {
		return "", "", ErrBadSignature
	}
	msg := CanonicalRequestHash(r.Method, r.URL.RequestURI(), h.timestampRaw, h.nonce, bodyHash)
	if gmcrypto.VerifyDevice(pub, msg, h.signature) != nil {
		return "", "", ErrBadSignature
	}
	if revoked {
		return "", "", ErrDeviceRevoked
	}
	_, err = storage.Create(ctx, v.store, pfxNonces+h.device+"/"+strings.ToLower(h.nonce), []byte(strconv.FormatInt(h.timestamp, 10)), v.cfg.NonceTTL())
	if errors.Is(err, storage.ErrConflict) {
		return "", "", ErrReplayedNonce
	}
	if err != nil {
		return "", "", fmt.Errorf("auth: recording nonce: %w", err)
	}
	return h.device, userID, nil
}

type deviceHeaders struct {
	device       string
	timestampRaw string
	timestamp    int64
	nonce        string
	signature    []byte
}

func parseHeaders(hdr http.Header) (*deviceHeaders, error) {
	get := func(name string) (string, bool) {
		vs := hdr.Values(name)
		if len(vs) != 1 || vs[0] == "" {
			return "", false
		}
		return vs[0], true
	}
	var h deviceHeaders
	var missing []string
	var sig string
	for _, f := range []struct {
		name string
		dst  *string
	}{{HeaderDevice, &h.device}, {HeaderTimestamp, &h.timestampRaw}, {HeaderNonce, &h.nonce}, {HeaderSignature, &sig}} {
		v, ok := get(f.name)
		if !ok {
			missing = append(missing, f.name)
		}
		*f.dst = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	bad := func(name, why string) error { return fmt.Errorf("%w: %s: %s", ErrMalformedHeaders, name, why) }
	if !validAppID(h.device) { // same id alphabet as every other id
		return nil, bad(HeaderDevice, "not a device id")
	}
	ts, err := strconv.ParseInt(h.timestampRaw, 10, 64)
	if err != nil || ts < 0 || strconv.FormatInt(ts, 10) != h.timestampRaw {
		return nil, bad(HeaderTimestamp, "not unix seconds")
	}
	h.timestamp = ts
	if n := len(h.nonce); n < 2*MinNonceBytes || n > 2*MaxNonceBytes || n%2 != 0 {
		return nil, bad(HeaderNonce, fmt.Sprintf("must be %d to %d bytes in hex", MinNonceBytes, MaxNonceBytes))
	}
	if _, err := hex.DecodeString(h.nonce); err != nil {
		return nil, bad(HeaderNonce, "not hex")
	}
	if len(sig) > maxSignatureLen {
		return nil, bad(HeaderSignature, "too long")
	}
	h.signature, err = base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, bad(HeaderSignature, "not base64")
	}
	return &h, nil
}

// CanonicalRequest is the string an SM2 device signs:
// METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" hex(SM3(body)), where PATH
// is the request URI (path and query string, as sent).
func CanonicalRequest(method, requestURI, timestamp, nonce string, body []byte) []byte {
	return CanonicalRequestHash(method, requestURI, timestamp, nonce, gmcrypto.SM3(body))
}

// CanonicalRequestHash is the string a device signs, given the hash of the
// body: SM3 for an SM2 device key, SHA-256 for a P-256 one
// (gmcrypto.DeviceBodyHash).
func CanonicalRequestHash(method, requestURI, timestamp, nonce string, bodyHash []byte) []byte {
	var sb strings.Builder
	sb.WriteString(method)
	sb.WriteByte('\n')
	sb.WriteString(requestURI)
	sb.WriteByte('\n')
	sb.WriteString(timestamp)
	sb.WriteByte('\n')
	sb.WriteString(nonce)
	sb.WriteByte('\n')
	sb.WriteString(hex.EncodeToString(bodyHash))
	return []byte(sb.String())
}

// SignRequest signs req (whose body is body) with the device key and sets
// X-Device, X-Timestamp (now), X-Nonce (16 fresh random bytes) and
// X-Signature. The key must be SM2 or P-256. The request's URL must be
// final: its RequestURI (path and query) is what is signed.
func SignRequest(req *http.Request, body []byte, deviceID string, key crypto.Signer, now time.Time) error {
	bodyHash, err := gmcrypto.DeviceBodyHash(key, body)
	if err != nil {
		return fmt.Errorf("%w: the device key must be SM2 or P-256", gmcrypto.ErrUnsupported)
	}
	nb, err := gmcrypto.RandomBytes(MinNonceBytes)
	if err != nil {
		return err
	}
	nonce := hex.EncodeToString(nb)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := gmcrypto.SignDevice(key, CanonicalRequestHash(req.Method, req.URL.RequestURI(), ts, nonce, bodyHash))
	if err != nil {
		return err
	}
	req.Header.Set(HeaderDevice, deviceID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}
