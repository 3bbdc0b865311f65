package protocol_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// fuzzDeviceKey is a fixed P-256 device key (private scalar 7): the
// fuzzed headers are verified against it.
func fuzzDeviceKey() *ecdsa.PublicKey {
	x, y := elliptic.P256().ScalarBaseMult(big.NewInt(7).Bytes())
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
}

// FuzzParseDeviceHeaders: any X-Device, X-Timestamp, X-Nonce and
// X-Signature either parse into headers that say exactly what was sent
// (a device id, unix seconds without leading zeros, 16 to 64 bytes of
// hex, base64) or are refused as missing or malformed; parsed headers
// verify against a device key, or fail as a bad signature, without a
// panic. Seeds in testdata/fuzz/FuzzParseDeviceHeaders.
func FuzzParseDeviceHeaders(f *testing.F) {
	f.Add("dev_0123456789abcdef", "1764950000", "00112233445566778899aabbccddeeff", "MEUCIQDx")
	pub := fuzzDeviceKey()
	f.Fuzz(func(t *testing.T, device, ts, nonce, sig string) {
		hdr := http.Header{}
		for k, v := range map[string]string{protocol.HeaderDevice: device, protocol.HeaderTimestamp: ts,
			protocol.HeaderNonce: nonce, protocol.HeaderSignature: sig} {
			if v != "" {
				hdr.Set(k, v)
			}
		}
		h, err := protocol.ParseDeviceHeaders(hdr)
		if err != nil {
			if h != nil {
				t.Fatal("headers returned with an error")
			}
			if !errors.Is(err, protocol.ErrMissingHeaders) && !errors.Is(err, protocol.ErrMalformedHeaders) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.Device != hdr.Get(protocol.HeaderDevice) || !protocol.ValidID(h.Device) {
			t.Fatalf("device %q from %q", h.Device, hdr.Get(protocol.HeaderDevice))
		}
		if h.TimestampRaw != hdr.Get(protocol.HeaderTimestamp) || strconv.FormatInt(h.Timestamp.Unix(), 10) != h.TimestampRaw {
			t.Fatalf("timestamp %v from %q", h.Timestamp, h.TimestampRaw)
		}
		if b, err := hex.DecodeString(h.Nonce); err != nil || len(b) < protocol.MinNonceBytes || len(b) > protocol.MaxNonceBytes ||
			h.Nonce != hdr.Get(protocol.HeaderNonce) {
			t.Fatalf("nonce %q", h.Nonce)
		}
		if b, err := base64.StdEncoding.DecodeString(hdr.Get(protocol.HeaderSignature)); err != nil || string(b) != string(h.Signature) {
			t.Fatalf("signature %x", h.Signature)
		}
		if err := h.Verify(pub, "GET", "/v1/me/credentials", nil); err != nil && !errors.Is(err, protocol.ErrBadSignature) {
			t.Fatalf("verify: %v", err)
		}
	})
}
