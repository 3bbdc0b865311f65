package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ukeygate/ukeygate/config"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// LoadMasterKey returns the 32-byte master key: cfg.MasterKey when set
// (UKEYGATE_MASTER_KEY: 64 hex digits or standard/URL base64, padded or
// not), otherwise the file cfg.MasterKeyPath(), which must hold exactly 32
// raw bytes and must not be readable or writable by group or others.
// Every failure wraps ErrMasterKey and says what to do.
func LoadMasterKey(cfg config.Config) ([]byte, error) {
	if cfg.MasterKey != "" {
		return ParseMasterKey(cfg.MasterKey)
	}
	path := cfg.MasterKeyPath()
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: master key file %s is missing: run `ukeygate init` (or set UKEYGATE_MASTER_KEY)", ErrMasterKey, path)
	case err != nil:
		return nil, fmt.Errorf("%w: master key file %s: %w", ErrMasterKey, path, unwrapPath(err))
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: master key file %s is not a regular file", ErrMasterKey, path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%w: master key file %s has mode %04o, readable by group or others: run `chmod 600 %s`", ErrMasterKey, path, fi.Mode().Perm(), path)
	case fi.Size() != MasterKeySize:
		return nil, fmt.Errorf("%w: master key file %s holds %d bytes, want exactly %d raw bytes (as written by `ukeygate init`)", ErrMasterKey, path, fi.Size(), MasterKeySize)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: master key file %s: %w", ErrMasterKey, path, unwrapPath(err))
	}
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("%w: master key file %s holds %d bytes, want exactly %d", ErrMasterKey, path, len(key), MasterKeySize)
	}
	return key, nil
}

// ParseMasterKey decodes a master key given as text: 64 hex digits, or
// 32 bytes in standard or URL-safe base64 (padding optional). The error
// wraps ErrMasterKey and never repeats the text.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == MasterKeySize {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: master_key (UKEYGATE_MASTER_KEY) must be %d bytes as 64 hex digits or base64", ErrMasterKey, MasterKeySize)
}

// CreateMasterKey makes data_dir (0700) and writes a new random 32-byte
// master key to cfg.MasterKeyPath() with mode 0600. It never overwrites an
// existing file: that fails with ErrMasterKeyExists. It returns the path
// written.
func CreateMasterKey(cfg config.Config) (string, error) {
	path := cfg.MasterKeyPath()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("server: cannot create data_dir %s: %w", cfg.DataDir, unwrapPath(err))
	}
	return path, CreateMasterKeyFile(path)
}

// CreateMasterKeyFile writes a new random 32-byte master key to path
// (mode 0600, its directory created 0700). It never overwrites an
// existing file: that fails with ErrMasterKeyExists.
func CreateMasterKeyFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("server: cannot create the directory of %s: %w", path, unwrapPath(err))
	}
	key := make([]byte, MasterKeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("server: reading random bytes: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s: refusing to overwrite it (the data encrypted under it would be lost); remove it by hand only if that is what you want", ErrMasterKeyExists, path)
	}
	if err != nil {
		return fmt.Errorf("server: cannot create master key file %s: %w", path, unwrapPath(err))
	}
	_, werr := f.Write(key)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("server: cannot write master key file %s: %w", path, err)
	}
	return nil
}

// LoadMasterKeyFile reads a master key file with the rules of
// LoadMasterKey (exactly 32 raw bytes, mode 0600 or stricter).
func LoadMasterKeyFile(path string) ([]byte, error) {
	return LoadMasterKey(config.Config{MasterKeyFile: path})
}

// unwrapPath drops the *fs.PathError wrapper whose path the caller's
// message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
