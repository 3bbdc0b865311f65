package protocol_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjsm3 "github.com/tjfoc/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

func rsaKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSignRequestIndependent checks SignRequest's signature with tjfoc/gmsm
// over a canonical string built here by hand.
func TestSignRequestIndependent(t *testing.T) {
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"a":1}`)
	req := httptest.NewRequest("POST", "http://gw.example/v1/scan?x=1&y=%20", bytes.NewReader(body))
	now := time.Unix(1700000000, 0)
	if err := protocol.SignRequest(req, body, "dev_abc", key, now); err != nil {
		t.Fatal(err)
	}
	nonce := req.Header.Get(protocol.HeaderNonce)
	if len(nonce) != 32 || req.Header.Get(protocol.HeaderTimestamp) != "1700000000" || req.Header.Get(protocol.HeaderDevice) != "dev_abc" {
		t.Fatalf("headers %v", req.Header)
	}
	// Hash and verify with tjfoc to stay independent of our own code.
	msg := "POST\n/v1/scan?x=1&y=%20\n1700000000\n" + nonce + "\n" + hex.EncodeToString(tjsm3.Sm3Sum(body))
	sig, err := base64.StdEncoding.DecodeString(req.Header.Get(protocol.HeaderSignature))
	if err != nil {
		t.Fatal(err)
	}
	p := key.Public().(*ecdsa.PublicKey)
	tp := &tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: new(big.Int).Set(p.X), Y: new(big.Int).Set(p.Y)}
	if !tp.Verify([]byte(msg), sig) {
		t.Fatal("tjfoc/gmsm does not verify the device signature")
	}
	if !sm2.VerifyASN1WithSM2(p, nil, []byte(msg), sig) {
		t.Fatal("emmansun does not verify the device signature")
	}
	if err := protocol.SignRequest(req, body, "dev_abc", rsaKey(t), now); !errors.Is(err, gmcrypto.ErrUnsupported) {
		t.Fatalf("RSA device key: %v", err)
	}
}

// TestDeviceHeaders: a signed request parses and verifies; every header
// that is missing, doubled or malformed is refused with its error, and a
// change to the method, URI or body breaks the signature.
func TestDeviceHeaders(t *testing.T) {
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"payload":"x"}`)
	signed := func() *http.Request {
		r := httptest.NewRequest("POST", "http://gw.example/v1/scan?a=1", bytes.NewReader(body))
		if err := protocol.SignRequest(r, body, "dev_1", key, time.Unix(1700000000, 0)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := signed()
	h, err := protocol.ParseDeviceHeaders(r.Header)
	if err != nil {
		t.Fatal(err)
	}
	if h.Device != "dev_1" || h.Timestamp.Unix() != 1700000000 {
		t.Fatalf("parsed %+v", h)
	}
	if err := h.Verify(key.Public(), "POST", "/v1/scan?a=1", body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for name, change := range map[string][3]string{
		"method": {"PUT", "/v1/scan?a=1", string(body)},
		"uri":    {"POST", "/v1/scan?a=2", string(body)},
		"body":   {"POST", "/v1/scan?a=1", `{"payload":"y"}`},
	} {
		if err := h.Verify(key.Public(), change[0], change[1], []byte(change[2])); !errors.Is(err, protocol.ErrBadSignature) {
			t.Errorf("%s changed: %v, want ErrBadSignature", name, err)
		}
	}
	if err := h.Verify(rsaKey(t).Public(), "POST", "/v1/scan?a=1", body); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("RSA key: %v", err)
	}
	tests := []struct {
		name string
		edit func(http.Header)
		want error
	}{
		{"no signature", func(h http.Header) { h.Del(protocol.HeaderSignature) }, protocol.ErrMissingHeaders},
		{"two devices", func(h http.Header) { h.Add(protocol.HeaderDevice, "dev_2") }, protocol.ErrMissingHeaders},
		{"device id", func(h http.Header) { h.Set(protocol.HeaderDevice, "Dev 1") }, protocol.ErrMalformedHeaders},
		{"timestamp sign", func(h http.Header) { h.Set(protocol.HeaderTimestamp, "+1700000000") }, protocol.ErrMalformedHeaders},
		{"short nonce", func(h http.Header) { h.Set(protocol.HeaderNonce, "00ff") }, protocol.ErrMalformedHeaders},
		{"nonce not hex", func(h http.Header) { h.Set(protocol.HeaderNonce, "zz112233445566778899aabbccddeeff") }, protocol.ErrMalformedHeaders},
		{"signature not base64", func(h http.Header) { h.Set(protocol.HeaderSignature, "***") }, protocol.ErrMalformedHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed()
			tt.edit(r.Header)
			if _, err := protocol.ParseDeviceHeaders(r.Header); !errors.Is(err, tt.want) {
				t.Fatalf("ParseDeviceHeaders: %v, want %v", err, tt.want)
			}
		})
	}
}
