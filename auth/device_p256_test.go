package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestVerifyDeviceRequestP256: a P-256 device (a browser's WebCrypto key)
// signs ECDSA-SHA-256 over the canonical string whose body hash is
// SHA-256; the same string with the SM3 body hash, a signature by another
// key, or an SM2 device claiming the P-256 form are refused.
func TestVerifyDeviceRequestP256(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sm2Key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v, err := NewDeviceVerifier(storagetest.MustOpen(t),
		deviceTable{"dev_web": p256.Public(), "dev_sm2": sm2Key.Public()}, DefaultDeviceConfig())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"payload":"https://gw.example/q/abc.def"}`)
	sign := func(dev string, key crypto.Signer, bodyHash []byte, nonce string) error {
		req := httptest.NewRequest("POST", "http://gw.example/v1/scan?lang=zh", bytes.NewReader(body))
		ts := strconv.FormatInt(now.Unix(), 10)
		msg := "POST\n/v1/scan?lang=zh\n" + ts + "\n" + nonce + "\n" + hex.EncodeToString(bodyHash)
		sig, err := gmcrypto.SignDevice(key, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(protocol.HeaderDevice, dev)
		req.Header.Set(protocol.HeaderTimestamp, ts)
		req.Header.Set(protocol.HeaderNonce, nonce)
		req.Header.Set(protocol.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		_, _, err = v.VerifyDeviceRequest(context.Background(), req, body)
		return err
	}
	sha := sha256.Sum256(body)
	nonce := func(i byte) string { return hex.EncodeToString(bytes.Repeat([]byte{i}, 16)) }
	tests := []struct {
		name string
		dev  string
		key  crypto.Signer
		hash []byte
		want error
	}{
		{"P-256 over SHA-256 body hash", "dev_web", p256, sha[:], nil},
		{"P-256 over SM3 body hash", "dev_web", p256, gmcrypto.SM3(body), ErrBadSignature},
		{"SM2 key signing for the P-256 device", "dev_web", sm2Key, sha[:], ErrBadSignature},
		{"SM2 device over SHA-256 body hash", "dev_sm2", sm2Key, sha[:], ErrBadSignature},
		{"SM2 device over SM3 body hash", "dev_sm2", sm2Key, gmcrypto.SM3(body), nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sign(tc.dev, tc.key, tc.hash, nonce(byte(i+1)))
			if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// SignRequest signs for a P-256 device too, and the nonce is single use.
	req := httptest.NewRequest("PUT", "http://gw.example/v1/me/pin", bytes.NewReader(body))
	if err := protocol.SignRequest(req, body, "dev_web", p256, now); err != nil {
		t.Fatal(err)
	}
	if dev, user, err := v.VerifyDeviceRequest(context.Background(), req, body); err != nil || dev != "dev_web" || user != "usr_dev_web" {
		t.Fatalf("SignRequest with P-256: %s %s %v", dev, user, err)
	}
	if _, _, err := v.VerifyDeviceRequest(context.Background(), req, body); !errors.Is(err, ErrReplayedNonce) {
		t.Fatalf("replay: %v", err)
	}
}
