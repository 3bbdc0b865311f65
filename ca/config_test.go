package ca

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage/storagetest"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		key    string
		change func(*Config)
	}{
		{"public_url", func(c *Config) { c.PublicURL = "" }},
		{"public_url", func(c *Config) { c.PublicURL = "ftp://x" }},
		{"public_url", func(c *Config) { c.PublicURL = "https://" }},
		{"public_url", func(c *Config) { c.PublicURL = "https://x/?a=b" }},
		{"activation_ttl", func(c *Config) { c.ActivationTTL = time.Second }},
		{"crl_next_update", func(c *Config) { c.CRLNextUpdate = 0 }},
		{"default_validity_days", func(c *Config) { c.DefaultValidityDays = 0 }},
		{"pin_max_tries", func(c *Config) { c.PINMaxTries = 0 }},
		{"pin_lock_base", func(c *Config) { c.PINLockBase = 0 }},
		{"pin_lock_max", func(c *Config) { c.PINLockMax = time.Second }},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		tc.change(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: got %v, want ErrInvalidConfig naming %s", tc.key, err, tc.key)
		}
	}
}

func TestNew(t *testing.T) {
	st := storagetest.MustOpen(t)
	if _, err := New(st, make([]byte, 16), DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("short master key: %v", err)
	}
	if _, err := New(nil, testMasterKey(), DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil store: %v", err)
	}
	bad := DefaultConfig()
	bad.PINMaxTries = -1
	if _, err := New(st, testMasterKey(), bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	// A trailing slash on the public URL does not double in CRL URLs.
	c := DefaultConfig()
	c.PublicURL = "https://gw.example/base/"
	if got := c.crlURL("x"); got != "https://gw.example/base/v1/issuers/x/crl" {
		t.Fatalf("crlURL = %s", got)
	}
}

// TestWrongMasterKey: a service opened with another master key cannot use
// the issuer keys (no certificate is issued with a key it cannot unwrap)
// and hashes activation codes differently.
func TestWrongMasterKey(t *testing.T) {
	f := newFixture(t)
	f.generated(t, "root", "SM2", nil)
	_, code, err := f.svc.AddUser(f.ctx, UserRequest{Name: "X"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(f.store, make([]byte, 32), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CRL(f.ctx, "root"); err == nil {
		t.Fatal("CRL signed with an issuer key unwrapped under the wrong master key")
	}
	if _, _, err := other.Enroll(f.ctx, code, devicePEM(t), "p", testPIN); !errors.Is(err, ErrActivationInvalid) {
		t.Fatalf("activation code under another master key: %v", err)
	}
}
