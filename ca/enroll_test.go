package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func TestAddUserValidation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		req   UserRequest
		field string
	}{
		{"no name", UserRequest{}, "name"},
		{"control char", UserRequest{Name: "a\nb"}, "name"},
		{"padded", UserRequest{Name: " a"}, "name"},
		{"long name", UserRequest{Name: strings.Repeat("名", maxNameLen+1)}, "name"},
		{"bad phone", UserRequest{Name: "a", Phone: "call me"}, "phone"},
		{"plus inside phone", UserRequest{Name: "a", Phone: "86+1"}, "phone"},
		{"bad utf8", UserRequest{Name: "a", Organization: "\xff"}, "organization"},
		{"bidi override in the name", UserRequest{Name: "某某\u202e司公限有"}, "name"},
		{"zero-width space in the organisation", UserRequest{Name: "a", Organization: "某某\u200b建设"}, "organization"},
		{"long id", UserRequest{Name: "a", IDNumber: strings.Repeat("1", maxIDNumberLen+1)}, "id_number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, _, err := f.svc.AddUser(f.ctx, tc.req)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("got %v, want a RequestError on %s", err, tc.field)
			}
			if f.snapshot(t) != before {
				t.Fatal("store changed")
			}
		})
	}
}

var codeFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$`)

func TestEnroll(t *testing.T) {
	f := newFixture(t)
	u, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "赵六", Phone: "+8613800138000"})
	if err != nil {
		t.Fatal(err)
	}
	if !codeFormat.MatchString(code) {
		t.Fatalf("activation code %q: want 4 groups of 5 Crockford base32 characters (100 bits)", code)
	}
	if u.Enrolled || !u.ActivationExpiresAt.Equal(f.clock.Now().UTC().Add(72*time.Hour)) {
		t.Fatalf("new user %+v", u)
	}
	norm, _ := normalizeCode(code)
	if snap := f.snapshot(t); strings.Contains(snap, norm) || strings.Contains(snap, code) {
		t.Fatal("the activation code is stored in clear")
	}

	devKey := devicePEM(t)
	refusals := []struct {
		name   string
		code   string
		key    []byte
		device string
		pin    string
		want   error
	}{
		{"short pin", code, devKey, "phone", "12345", ErrWeakPIN},
		{"long pin", code, devKey, "phone", "1357913579135", ErrWeakPIN},
		{"same digits", code, devKey, "phone", "777777", ErrWeakPIN},
		{"run up", code, devKey, "phone", "345678", ErrWeakPIN},
		{"run down", code, devKey, "phone", "987654", ErrWeakPIN},
		{"run wrapping", code, devKey, "phone", "890123", ErrWeakPIN},
		{"letters", code, devKey, "phone", "12a456", ErrWeakPIN},
		{"rsa device key", code, rsaPublicPEM(t), "phone", testPIN, ErrDeviceKey},
		{"garbage key", code, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "phone", testPIN, ErrMalformedPEM},
		{"no key", code, nil, "phone", testPIN, gmcrypto.ErrMalformed},
		{"no device name", code, devKey, "", testPIN, ErrInvalidRequest},
		{"unknown code", "AAAAA-AAAAA-AAAAA-AAAAA", devKey, "phone", testPIN, ErrActivationInvalid},
		{"short code", "AAAAA", devKey, "phone", testPIN, ErrActivationInvalid},
		{"code with symbols", "AAAAA-AAAAA-AAAAA-AAAA!", devKey, "phone", testPIN, ErrActivationInvalid},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := f.snapshot(t)
			_, _, err := f.svc.Enroll(f.ctx, tc.code, tc.key, tc.device, tc.pin)
			wantErr(t, tc.name, err, tc.want)
			if f.snapshot(t) != before {
				t.Fatal("store changed")
			}
		})
	}

	// Typed loosely (lowercase, spaces): still the same code.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	eu, dev, err := f.svc.Enroll(f.ctx, typed, devKey, "Mate 60", testPIN)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if !eu.Enrolled || eu.ID != u.ID || dev.UserID != u.ID || dev.Name != "Mate 60" {
		t.Fatalf("enrolled user %+v device %+v", eu, dev)
	}
	got, err := f.svc.Device(f.ctx, dev.ID)
	if err != nil || !sameKey(got.PublicKey, mustPublic(t, devKey)) {
		t.Fatalf("Device: %+v %v", got, err)
	}
	if _, err := f.svc.Device(f.ctx, "dev_missing"); !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("Device(missing): %v", err)
	}
	if uu, _ := f.svc.User(f.ctx, u.ID); !uu.Enrolled || len(uu.Devices) != 1 {
		t.Fatalf("User after enroll: %+v", uu)
	}

	before := f.snapshot(t)
	_, _, err = f.svc.Enroll(f.ctx, code, devicePEM(t), "second phone", "135791")
	wantErr(t, "second use", err, ErrActivationUsed)
	if f.snapshot(t) != before {
		t.Fatal("a refused second use changed the store")
	}
}

func rsaPublicPEM(t *testing.T) []byte {
	t.Helper()
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gmcrypto.MarshalPublicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustPublic(t *testing.T, p []byte) any {
	t.Helper()
	k, err := gmcrypto.ParseDevicePublicKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEnrollExpired(t *testing.T) {
	f := newFixture(t)
	_, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "Late"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(72*time.Hour + time.Second)
	before := f.snapshot(t)
	_, _, err = f.svc.Enroll(f.ctx, code, devicePEM(t), "phone", testPIN)
	wantErr(t, "expired code", err, ErrActivationExpired)
	if f.snapshot(t) != before {
		t.Fatal("store changed")
	}
}

// TestEnrollRace has many callers use one code at once: exactly one wins.
func TestEnrollRace(t *testing.T) {
	f := newFixture(t)
	_, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "Racer"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = devicePEM(t)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = f.svc.Enroll(f.ctx, code, keys[i], "phone", testPIN)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrActivationUsed), errors.Is(err, ErrConflict):
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d enrollments succeeded with one code, want 1", wins)
	}
	devs, _, _ := f.store.List(f.ctx, pfxDevices)
	if len(devs) != 1 {
		t.Fatalf("%d devices stored, want 1", len(devs))
	}
}

// TestEnrollP256: a browser's ECDSA P-256 device key enrolls beside SM2
// and comes back as the same key; a P-384 key is refused.
func TestEnrollP256(t *testing.T) {
	f := newFixture(t)
	_, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "钱七"})
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der384, _ := x509.MarshalPKIXPublicKey(p384.Public())
	_, _, err = f.svc.Enroll(f.ctx, code, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der384}), "phone", testPIN)
	wantErr(t, "P-384 device key", err, ErrDeviceKey)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	_, dev, err := f.svc.Enroll(f.ctx, code, pemKey, "Safari on iPhone", testPIN)
	if err != nil {
		t.Fatalf("Enroll with a P-256 key: %v", err)
	}
	if dev.KeyAlg != "P-256" || dev.PublicKeyPEM != string(pemKey) {
		t.Fatalf("device key %q %q", dev.KeyAlg, dev.PublicKeyPEM)
	}
	got, err := f.svc.Device(f.ctx, dev.ID)
	if err != nil || !key.PublicKey.Equal(got.PublicKey) {
		t.Fatalf("Device: %+v %v", got, err)
	}
}
