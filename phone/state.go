package phone

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// State is what the phone keeps on disk: the server, its device and user
// ids, and the device's SM2 private key.
type State struct {
	ServerURL     string `json:"server_url"`
	DeviceID      string `json:"device_id,omitempty"`
	DeviceName    string `json:"device_name,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	UserName      string `json:"user_name,omitempty"`
	PrivateKeyPEM string `json:"private_key_pem,omitempty"`
	// LastScan is the last session scanned (Remember), the default of a
	// later confirm or reject.
	LastScan *LastScan `json:"last_scan,omitempty"`
	// Cosign holds, per cosign credential id, the phone's seed of its
	// share (docs/cosign.md): with the PIN it gives the phone's half of
	// the key. Losing it loses the credential; nobody can restore it.
	Cosign map[string][]byte `json:"cosign,omitempty"`
	// CosignPending holds, per "issuer/purpose", the seed of a cosign
	// credential request sent but not answered (the answer was lost):
	// asked again, the phone repeats the request with the same share and
	// the gateway answers the credential it made (RequestCosignCredential).
	CosignPending map[string][]byte `json:"cosign_pending,omitempty"`

	key crypto.Signer
}

// maxStateSize bounds a state file.
const maxStateSize = 1 << 20

// Enrolled reports whether the state holds an enrolled device.
func (s *State) Enrolled() bool { return s != nil && s.DeviceID != "" && s.PrivateKeyPEM != "" }

// Key returns the device's private key, parsing it on first use.
func (s *State) Key() (crypto.Signer, error) {
	if s.key != nil {
		return s.key, nil
	}
	if s.PrivateKeyPEM == "" {
		return nil, ErrNotEnrolled
	}
	k, err := gmcrypto.ParsePrivateKeyPEM([]byte(s.PrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: private_key_pem: %w", ErrBadState, err)
	}
	if alg, _ := gmcrypto.KeyAlg(k); alg != gmcrypto.AlgSM2 {
		return nil, fmt.Errorf("%w: the device key is not SM2", ErrBadState)
	}
	s.key = k
	return k, nil
}

// generateKey gives the state a fresh SM2 device key.
func (s *State) generateKey() error {
	k, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		return err
	}
	p, err := gmcrypto.MarshalPrivateKeyPEM(k)
	if err != nil {
		return err
	}
	s.key, s.PrivateKeyPEM = k, string(p)
	return nil
}

// LoadState reads a state file. A file that group or others may access is
// refused with ErrStateExposed; a missing file is an fs.ErrNotExist error.
func LoadState(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadState, path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 %s)", ErrStateExposed, path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxStateSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadState, path, maxStateSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadState, path, err)
	}
	if s.PrivateKeyPEM != "" {
		if _, err := s.Key(); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// Save writes the state to path with mode 0600 (its directory is created
// with mode 0700 if missing). The file is replaced atomically.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".phone-*.json")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// LoadOrNewState loads path, or returns an empty state for server if the
// file does not exist.
func LoadOrNewState(path, server string) (*State, error) {
	s, err := LoadState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{ServerURL: server}, nil
	}
	return s, err
}
