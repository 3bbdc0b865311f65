package phone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
)

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "phone.json")
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := gmcrypto.MarshalPrivateKeyPEM(key)
	st := &phone.State{ServerURL: "https://gw.example.cn", DeviceID: "dev_1", UserID: "usr_1", PrivateKeyPEM: string(keyPEM)}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file %v, %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir %v, %v", fi, err)
	}
	got, err := phone.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := got.Key()
	if err != nil || !got.Enrolled() || got.DeviceID != "dev_1" || got.ServerURL != st.ServerURL {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	a, _ := gmcrypto.MarshalPublicKey(k.Public())
	b, _ := gmcrypto.MarshalPublicKey(key.Public())
	if !bytes.Equal(a, b) {
		t.Fatal("the key changed on the way")
	}

	rsaKey, _ := gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048)
	rsaPEM, _ := gmcrypto.MarshalPrivateKeyPEM(rsaKey)
	write := func(name string, mode os.FileMode, v any) string {
		p := filepath.Join(dir, name)
		b, ok := v.([]byte)
		if !ok {
			b, _ = json.Marshal(v)
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"group readable", write("g.json", 0o640, st), phone.ErrStateExposed},
		{"world readable", write("w.json", 0o604, st), phone.ErrStateExposed},
		{"not JSON", write("bad.json", 0o600, []byte("{")), phone.ErrBadState},
		{"RSA device key", write("rsa.json", 0o600, phone.State{DeviceID: "d", PrivateKeyPEM: string(rsaPEM)}), phone.ErrBadState},
		{"broken key", write("key.json", 0o600, phone.State{DeviceID: "d", PrivateKeyPEM: "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"}), phone.ErrBadState},
		{"a directory", dir, phone.ErrBadState},
		{"missing", filepath.Join(dir, "none.json"), fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := phone.LoadState(tt.path); !errors.Is(err, tt.want) {
				t.Fatalf("LoadState = %v, want %v", err, tt.want)
			}
		})
	}
	if s, err := phone.LoadOrNewState(filepath.Join(dir, "none.json"), "http://x"); err != nil || s.ServerURL != "http://x" || s.Enrolled() {
		t.Fatalf("LoadOrNewState = %+v, %v", s, err)
	}
}

// addUser creates a user through the operator API and returns the
// activation code.
func addUser(t *testing.T, ts *servertest.TS, name string) string {
	t.Helper()
	op := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
	u, err := op.AddUser(context.Background(), operator.UserRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return u.ActivationCode
}

func TestClient(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	code := addUser(t, ts, "张三")

	c := &phone.Client{BaseURL: ts.URL, State: &phone.State{}}
	if _, err := c.Credentials(ctx); !errors.Is(err, phone.ErrNotEnrolled) {
		t.Fatalf("before enrolling: %v", err)
	}
	enr, err := c.Enroll(ctx, code, "test phone", "135790")
	if err != nil {
		t.Fatal(err)
	}
	if enr.User.Name != "张三" || c.State.DeviceID != enr.Device.ID || c.State.UserID != enr.User.ID || c.State.ServerURL != ts.URL {
		t.Fatalf("enrollment %+v, state %+v", enr, c.State)
	}
	if _, err := c.Enroll(ctx, code, "again", "135790"); !errors.Is(err, phone.ErrAlreadyEnrolled) {
		t.Fatalf("second Enroll: %v", err)
	}
	// The saved state works for a new client that knows only the file.
	path := filepath.Join(t.TempDir(), "phone.json")
	if err := c.State.Save(path); err != nil {
		t.Fatal(err)
	}
	st, err := phone.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	c2 := &phone.Client{State: st}
	if list, err := c2.Credentials(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Credentials = %v, %v", list, err)
	}
	if err := c2.ChangePIN(ctx, "135790", "246813"); err != nil {
		t.Fatal(err)
	}

	// Refusals surface as *APIError with the server's code.
	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"wrong PIN", func() error { return c2.ChangePIN(ctx, "135790", "975310") }, http.StatusForbidden, "wrong_pin"},
		{"unknown issuer", func() error {
			_, err := c2.RequestCredential(ctx, "nothere", "SM2", "sign", "246813")
			return err
		}, http.StatusNotFound, "unknown_issuer"},
		{"clock far behind", func() error {
			late := &phone.Client{State: st, Now: func() time.Time { return time.Now().Add(-time.Hour) }}
			_, err := late.Credentials(ctx)
			return err
		}, http.StatusUnauthorized, "stale_timestamp"},
		{"used activation code", func() error {
			_, err := (&phone.Client{BaseURL: ts.URL}).Enroll(ctx, code, "other", "135790")
			return err
		}, http.StatusGone, "activation_used"},
		{"no such endpoint", func() error { return c2.Do(ctx, "GET", "/v1/me/nothing", nil, nil) }, http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *phone.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status || ae.Code != tt.code || ae.Message == "" {
				t.Fatalf("got %v, want %d %s", err, tt.status, tt.code)
			}
			if phone.Code(err) != tt.code {
				t.Fatalf("Code(%v) = %q, want %q", err, phone.Code(err), tt.code)
			}
		})
	}
}
