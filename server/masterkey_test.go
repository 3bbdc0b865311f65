package server

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/config"
)

func TestCreateMasterKey(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "nested", "data")
	path, err := CreateMasterKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(cfg.DataDir, "master.key") {
		t.Fatalf("path %q", path)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, cfg.DataDir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	key, err := LoadMasterKey(cfg)
	if err != nil || len(key) != MasterKeySize || bytes.Equal(key, make([]byte, MasterKeySize)) {
		t.Fatalf("LoadMasterKey() = %x, %v", key, err)
	}

	// A second init refuses and leaves the key alone.
	_, err = CreateMasterKey(cfg)
	if !errors.Is(err, ErrMasterKeyExists) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second CreateMasterKey() = %v, want ErrMasterKeyExists naming %s", err, path)
	}
	again, _ := LoadMasterKey(cfg)
	if !bytes.Equal(again, key) {
		t.Fatal("the existing key was changed")
	}

	// Two fresh keys differ.
	cfg2 := cfg
	cfg2.MasterKeyFile = filepath.Join(t.TempDir(), "keys", "other.key")
	if _, err := CreateMasterKey(cfg2); err != nil {
		t.Fatal(err)
	}
	other, err := LoadMasterKey(cfg2)
	if err != nil || bytes.Equal(other, key) {
		t.Fatalf("second key %x (err %v) equals the first", other, err)
	}
}

func TestLoadMasterKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xA5}, MasterKeySize)
	tests := []struct {
		name    string
		setup   func(t *testing.T, cfg *config.Config)
		wantErr string // "" = success with raw
	}{
		{"file ok", func(t *testing.T, c *config.Config) { write(t, c.MasterKeyPath(), raw, 0o600) }, ""},
		{"file 0400 ok", func(t *testing.T, c *config.Config) { write(t, c.MasterKeyPath(), raw, 0o400) }, ""},
		{"missing", func(*testing.T, *config.Config) {}, "is missing: run `ukeygate init`"},
		{"group readable", func(t *testing.T, c *config.Config) { write(t, c.MasterKeyPath(), raw, 0o640) }, "has mode 0640, readable by group or others: run `chmod 600"},
		{"world readable", func(t *testing.T, c *config.Config) { write(t, c.MasterKeyPath(), raw, 0o604) }, "readable by group or others"},
		{"short", func(t *testing.T, c *config.Config) { write(t, c.MasterKeyPath(), raw[:31], 0o600) }, "holds 31 bytes, want exactly 32"},
		{"hex text in file", func(t *testing.T, c *config.Config) {
			write(t, c.MasterKeyPath(), []byte(hex.EncodeToString(raw)), 0o600)
		}, "holds 64 bytes"},
		{"directory", func(t *testing.T, c *config.Config) {
			if err := os.Mkdir(c.MasterKeyPath(), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file"},
		{"env hex", func(_ *testing.T, c *config.Config) { c.MasterKey = hex.EncodeToString(raw) }, ""},
		{"env hex upper", func(_ *testing.T, c *config.Config) { c.MasterKey = strings.ToUpper(hex.EncodeToString(raw)) }, ""},
		{"env base64", func(_ *testing.T, c *config.Config) { c.MasterKey = base64.StdEncoding.EncodeToString(raw) }, ""},
		{"env base64 raw url", func(_ *testing.T, c *config.Config) { c.MasterKey = base64.RawURLEncoding.EncodeToString(raw) }, ""},
		{"env wins over a bad file", func(t *testing.T, c *config.Config) {
			write(t, c.MasterKeyPath(), raw[:3], 0o666)
			c.MasterKey = hex.EncodeToString(raw)
		}, ""},
		{"env short", func(_ *testing.T, c *config.Config) { c.MasterKey = hex.EncodeToString(raw[:16]) }, "must be 32 bytes"},
		{"env garbage", func(_ *testing.T, c *config.Config) { c.MasterKey = "not a key at all!" }, "must be 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			tt.setup(t, &cfg)
			key, err := LoadMasterKey(cfg)
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(key, raw) {
					t.Fatalf("LoadMasterKey() = %x, %v", key, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadMasterKey() = %v, want ErrMasterKey containing %q", err, tt.wantErr)
			}
			if cfg.MasterKey != "" && strings.Contains(err.Error(), cfg.MasterKey) {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
}

func write(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}
