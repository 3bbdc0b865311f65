package protocol

import (
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
)

// Device-signed requests: every phone request (except enrollment) carries
// four headers and a signature with the device key (SM2, or ECDSA P-256)
// over the canonical string of the request (CanonicalRequestHash); see
// docs/protocol.md, "Phone: device-signed requests".

// The device request headers.
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

// Errors of the device headers, checked with errors.Is.
var (
	// ErrMissingHeaders: a device request lacks one of X-Device,
	// X-Timestamp, X-Nonce, X-Signature (or has one twice).
	ErrMissingHeaders = errors.New("protocol: missing device signature headers")
	// ErrMalformedHeaders: a device header is present but not well formed
	// (timestamp not an integer, nonce not hex of 16 to 64 bytes, bad
	// device id, signature not base64).
	ErrMalformedHeaders = errors.New("protocol: malformed device signature headers")
	// ErrBadSignature: the device signature does not verify. Deliberately
	// vague.
	ErrBadSignature = errors.New("protocol: bad device signature")
)

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

// DeviceHeaders are the parsed device headers of a request.
type DeviceHeaders struct {
	Device string
	// TimestampRaw is X-Timestamp as sent (it is what was signed);
	// Timestamp its value.
	TimestampRaw string
	Timestamp    time.Time
	// Nonce is X-Nonce as sent (hex).
	Nonce     string
	Signature []byte
}

// ParseDeviceHeaders reads and checks the shape of the four device
// headers: each present exactly once (else ErrMissingHeaders, naming the
// missing ones), and well formed (else ErrMalformedHeaders, naming the
// header).
func ParseDeviceHeaders(hdr http.Header) (*DeviceHeaders, error) {
	get := func(name string) (string, bool) {
		vs := hdr.Values(name)
		if len(vs) != 1 || vs[0] == "" {
			return "", false
		}
		return vs[0], true
	}
	var h DeviceHeaders
	var missing []string
	var sig string
	for _, f := range []struct {
		name string
		dst  *string
	}{{HeaderDevice, &h.Device}, {HeaderTimestamp, &h.TimestampRaw}, {HeaderNonce, &h.Nonce}, {HeaderSignature, &sig}} {
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
	if !ValidID(h.Device) {
		return nil, bad(HeaderDevice, "not a device id")
	}
	ts, err := strconv.ParseInt(h.TimestampRaw, 10, 64)
	if err != nil || ts < 0 || strconv.FormatInt(ts, 10) != h.TimestampRaw {
		return nil, bad(HeaderTimestamp, "not unix seconds")
	}
	h.Timestamp = time.Unix(ts, 0)
	if n := len(h.Nonce); n < 2*MinNonceBytes || n > 2*MaxNonceBytes || n%2 != 0 {
		return nil, bad(HeaderNonce, fmt.Sprintf("must be %d to %d bytes in hex", MinNonceBytes, MaxNonceBytes))
	}
	if _, err := hex.DecodeString(h.Nonce); err != nil {
		return nil, bad(HeaderNonce, "not hex")
	}
	if len(sig) > maxSignatureLen {
		return nil, bad(HeaderSignature, "too long")
	}
	h.Signature, err = base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return nil, bad(HeaderSignature, "not base64")
	}
	return &h, nil
}

// Verify checks the device signature of h over the request (method,
// request URI as sent, body) under the device's public key pub (SM2 or
// P-256). Any failure — a key of another kind included — is
// ErrBadSignature.
func (h *DeviceHeaders) Verify(pub crypto.PublicKey, method, requestURI string, body []byte) error {
	bodyHash, err := gmcrypto.DeviceBodyHash(pub, body)
	if err != nil {
		return ErrBadSignature
	}
	msg := CanonicalRequestHash(method, requestURI, h.TimestampRaw, h.Nonce, bodyHash)
	if gmcrypto.VerifyDevice(pub, msg, h.Signature) != nil {
		return ErrBadSignature
	}
	return nil
}
