package auth

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// storeSnapshot is every key of st with its revision.
func storeSnapshot(t *testing.T, st storage.Store) map[string]int64 {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Revision
	}
	return m
}

func sameSnapshot(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestAppsRotateKey(t *testing.T) {
	ctx := context.Background()
	st := storagetest.MustOpen(t)
	apps := NewApps(st)
	app, oldKey, err := apps.Create(ctx, "招标平台", []string{"https://bid.example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, err := apps.Create(ctx, "other", nil)
	if err != nil {
		t.Fatal(err)
	}

	rotated, newKey, err := apps.RotateKey(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newKey == oldKey || len(newKey) != len(oldKey) || rotated.ID != app.ID || rotated.Name != app.Name ||
		rotated.KeyRotatedAt.IsZero() || rotated.Disabled() {
		t.Fatalf("rotated %+v, key %q", rotated, newKey)
	}
	if _, err := apps.Authenticate(ctx, oldKey); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old key after rotation: %v, want ErrInvalidToken", err)
	}
	got, err := apps.Authenticate(ctx, newKey)
	if err != nil || got.ID != app.ID || len(got.Origins) != 1 {
		t.Fatalf("new key: %+v %v", got, err)
	}
	if got, err := apps.Authenticate(ctx, otherKey); err != nil || got.ID != other.ID {
		t.Fatalf("another app's key after the rotation: %+v %v", got, err)
	}
	// Exactly one key index per app: the old hash is gone.
	idx, _, err := st.List(ctx, pfxAppsByKey)
	if err != nil || len(idx) != 2 {
		t.Fatalf("key index %d entries, %v; want 2", len(idx), err)
	}
	// Neither key is stored.
	all, _, _ := st.List(ctx, "")
	for _, kv := range all {
		if bytes.Contains(kv.Value, []byte(newKey)) || bytes.Contains([]byte(kv.Key), []byte(newKey)) {
			t.Fatalf("the new key is stored in clear under %s", kv.Key)
		}
	}

	refusals := []struct {
		name string
		id   string
		want error
	}{
		{"unknown", "app_unknown", ErrAppNotFound},
		{"malformed", "APP/../x", ErrAppNotFound},
		{"empty", "", ErrAppNotFound},
	}
	for _, tc := range refusals {
		before := storeSnapshot(t, st)
		if _, key, err := apps.RotateKey(ctx, tc.id); !errors.Is(err, tc.want) || key != "" {
			t.Fatalf("%s: %q %v, want %v", tc.name, key, err, tc.want)
		}
		if _, err := apps.Disable(ctx, tc.id); !errors.Is(err, tc.want) {
			t.Fatalf("%s: disable: %v, want %v", tc.name, err, tc.want)
		}
		if !sameSnapshot(before, storeSnapshot(t, st)) {
			t.Fatalf("%s: store changed", tc.name)
		}
	}
}

func TestAppsDisable(t *testing.T) {
	ctx := context.Background()
	st := storagetest.MustOpen(t)
	apps := NewApps(st)
	app, key, err := apps.Create(ctx, "portal", []string{"https://p.example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := apps.Disable(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Disabled() || d.ID != app.ID {
		t.Fatalf("disabled app %+v", d)
	}
	if _, err := apps.Authenticate(ctx, key); !errors.Is(err, ErrAppDisabled) {
		t.Fatalf("key of a disabled app: %v, want ErrAppDisabled", err)
	}
	if got, err := apps.Get(ctx, app.ID); err != nil || !got.Disabled() {
		t.Fatalf("Get after disable: %+v %v", got, err)
	}
	list, err := apps.List(ctx)
	if err != nil || len(list) != 1 || !list[0].Disabled() {
		t.Fatalf("List after disable: %v %v", list, err)
	}
	before := storeSnapshot(t, st)
	if _, err := apps.Disable(ctx, app.ID); !errors.Is(err, ErrAppAlreadyDisabled) {
		t.Fatalf("second disable: %v", err)
	}
	if _, k, err := apps.RotateKey(ctx, app.ID); !errors.Is(err, ErrAppAlreadyDisabled) || k != "" {
		t.Fatalf("rotate a disabled app: %q %v", k, err)
	}
	if !sameSnapshot(before, storeSnapshot(t, st)) {
		t.Fatal("refused calls changed the store")
	}
}

// TestAppsRotateConcurrent: of rotations racing on one app, only the last
// committed key works and the key index holds exactly one entry.
func TestAppsRotateConcurrent(t *testing.T) {
	ctx := context.Background()
	st := storagetest.MustOpen(t)
	apps := NewApps(st)
	app, _, err := apps.Create(ctx, "busy", nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 4)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, keys[i], errs[i] = apps.RotateKey(ctx, app.ID)
		}()
	}
	wg.Wait()
	works := 0
	for i, k := range keys {
		if errs[i] != nil {
			if !errors.Is(errs[i], storage.ErrConflict) {
				t.Fatal(errs[i])
			}
			continue
		}
		if _, err := apps.Authenticate(ctx, k); err == nil {
			works++
		} else if !errors.Is(err, ErrInvalidToken) {
			t.Fatal(err)
		}
	}
	idx, _, err := st.List(ctx, pfxAppsByKey)
	if works != 1 || err != nil || len(idx) != 1 {
		t.Fatalf("%d working keys, %d index entries (%v); want 1 and 1", works, len(idx), err)
	}
}

// TestVerifyRevokedDevice: a revoked device's correctly signed request is
// ErrDeviceRevoked; a request not signed by it learns nothing
// (ErrBadSignature); a lookup without the key is ErrDeviceRevoked.
func TestVerifyRevokedDevice(t *testing.T) {
	ctx := context.Background()
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := deviceKeysFunc(func(_ context.Context, id string) (crypto.PublicKey, string, error) {
		switch id {
		case "dev_ok":
			return key.Public(), "usr_a", nil
		case "dev_revoked":
			return key.Public(), "usr_a", fmt.Errorf("%w: %s", ErrDeviceRevoked, id)
		case "dev_revoked_nokey":
			return nil, "", fmt.Errorf("%w: %s", ErrDeviceRevoked, id)
		}
		return nil, "", fmt.Errorf("%w: %s", ErrDeviceUnknown, id)
	})
	st := storagetest.MustOpen(t)
	v, err := NewDeviceVerifier(st, keys, DefaultDeviceConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		device string
		signer crypto.Signer
		want   error
	}{
		{"dev_ok", key, nil},
		{"dev_revoked", key, ErrDeviceRevoked},
		{"dev_revoked", stranger, ErrBadSignature},
		{"dev_revoked_nokey", key, ErrDeviceRevoked},
		{"dev_gone", key, ErrDeviceUnknown},
	}
	for _, tc := range tests {
		body := []byte(`{"x":1}`)
		req, err := http.NewRequest(http.MethodPost, "http://gw.example.test/v1/me/credentials?a=b", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := protocol.SignRequest(req, body, tc.device, tc.signer, time.Now()); err != nil {
			t.Fatal(err)
		}
		before := storeSnapshot(t, st)
		dev, user, err := v.VerifyDeviceRequest(ctx, req, body)
		if tc.want == nil {
			if err != nil || dev != tc.device || user != "usr_a" {
				t.Fatalf("%s: %q %q %v", tc.device, dev, user, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) || dev != "" || user != "" {
			t.Fatalf("%s signed by %p: %q %q %v, want %v", tc.device, tc.signer, dev, user, err, tc.want)
		}
		if !sameSnapshot(before, storeSnapshot(t, st)) {
			t.Fatalf("%s: a refused request consumed its nonce", tc.device)
		}
	}
}

// deviceKeysFunc adapts a function to DeviceKeys.
type deviceKeysFunc func(ctx context.Context, deviceID string) (crypto.PublicKey, string, error)

func (f deviceKeysFunc) DeviceKey(ctx context.Context, id string) (crypto.PublicKey, string, error) {
	return f(ctx, id)
}
