package crypto

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Wrapped-key format, version 1 (a storage format: never change it, add a
// new version instead):
//
//	0x01 || nonce (12 bytes, random) || SM4-GCM(kek, nonce, plaintext, ad) (ciphertext || 16-byte tag)
//
// The associated data ad is passed to GCM verbatim; the version byte is not
// authenticated separately, Unwrap accepts only version 1.
const (
	wrapVersion1 = 0x01
	wrapNonceLen = 12
	wrapTagLen   = 16
	// KeySize is the length of an SM4 key: a KEK for Wrap and the output
	// of DeriveKey and DerivePINKey.
	KeySize = 16
)

// Minimum lengths of secrets given to the key derivations.
const (
	MinMasterKeyLen = 32
	MinSaltLen      = 16
)

func newSM4GCM(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, fmt.Errorf("%w: KEK must be %d bytes, got %d", ErrInvalidInput, KeySize, len(kek))
	}
	b, err := sm4.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return cipher.NewGCM(b)
}

// Wrap encrypts plaintext (typically a private key) under the 16-byte SM4
// key kek with SM4-GCM, binding the associated data ad (typically the
// record id). See the format above.
func Wrap(kek, plaintext, ad []byte) ([]byte, error) {
	aead, err := newSM4GCM(kek)
	if err != nil {
		return nil, err
	}
	return wrapWith(aead, plaintext, ad)
}

func wrapWith(aead cipher.AEAD, plaintext, ad []byte) ([]byte, error) {
	out := make([]byte, 1+wrapNonceLen, 1+wrapNonceLen+len(plaintext)+wrapTagLen)
	out[0] = wrapVersion1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("crypto: random nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+wrapNonceLen], plaintext, ad), nil
}

// Unwrap reverses Wrap. Any failure (wrong KEK or KEK length, wrong ad,
// unknown version, truncated or altered input) is ErrDecryption.
func Unwrap(kek, wrapped, ad []byte) ([]byte, error) {
	if len(wrapped) < 1+wrapNonceLen+wrapTagLen || wrapped[0] != wrapVersion1 {
		return nil, ErrDecryption
	}
	aead, err := newSM4GCM(kek)
	if err != nil {
		return nil, ErrDecryption
	}
	return unwrapWith(aead, wrapped, ad)
}

func unwrapWith(aead cipher.AEAD, wrapped, ad []byte) ([]byte, error) {
	if len(wrapped) < 1+wrapNonceLen+wrapTagLen || wrapped[0] != wrapVersion1 {
		return nil, ErrDecryption
	}
	pt, err := aead.Open(nil, wrapped[1:1+wrapNonceLen], wrapped[1+wrapNonceLen:], ad)
	if err != nil {
		return nil, ErrDecryption
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// Wrapper is Wrap and Unwrap under one KEK (the same format, each
// interchangeable with them) with its SM4-GCM built once, for a key that
// wraps many values (building it costs more than wrapping a small one).
// It is safe for concurrent use; it keeps the key's schedule until it is
// collected.
type Wrapper struct {
	aead cipher.AEAD
}

// NewWrapper makes the Wrapper of kek (KeySize bytes, else
// ErrInvalidInput); kek itself is not kept.
func NewWrapper(kek []byte) (*Wrapper, error) {
	aead, err := newSM4GCM(kek)
	if err != nil {
		return nil, err
	}
	return &Wrapper{aead: aead}, nil
}

// Wrap is Wrap(kek, plaintext, ad).
func (w *Wrapper) Wrap(plaintext, ad []byte) ([]byte, error) { return wrapWith(w.aead, plaintext, ad) }

// Unwrap is Unwrap(kek, wrapped, ad).
func (w *Wrapper) Unwrap(wrapped, ad []byte) ([]byte, error) { return unwrapWith(w.aead, wrapped, ad) }

// DeriveKey derives a 16-byte SM4 key for purpose from the master key
// (at least 32 bytes, else ErrInvalidInput) with HKDF (RFC 5869) over
// HMAC-SM3: HKDF-SM3(ikm = master, salt = salt, info = purpose, L = 16).
// purpose must not be empty; salt may be nil.
func DeriveKey(master []byte, purpose string, salt []byte) ([]byte, error) {
	if len(master) < MinMasterKeyLen {
		return nil, fmt.Errorf("%w: master key must be at least %d bytes", ErrInvalidInput, MinMasterKeyLen)
	}
	if purpose == "" {
		return nil, fmt.Errorf("%w: empty key purpose", ErrInvalidInput)
	}
	k, err := hkdf.Key(sm3.New, master, salt, purpose, KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypto: HKDF: %w", err)
	}
	return k, nil
}

// PINIterations is the PBKDF2 iteration count of DerivePINKey. It is part
// of the stored-credential format: changing it makes every wrapped
// credential unreadable, so a new value needs a new version label.
// 4096 iterations cost about 2 ms of CPU on the project's 2-core machine
// (two SM3 compressions per iteration; more wall time under load).
const PINIterations = 4096

// pinLabel separates the PIN password from every other use of the master key.
const pinLabel = "ukeygate/pin/v1"

// DerivePINKey derives the 16-byte SM4 key that wraps a credential's
// private key from the server master key (at least 32 bytes), the
// credential's random salt (at least 16 bytes) and the user's PIN (not
// empty); otherwise ErrInvalidInput. The construction, a storage format:
//
//	password = HMAC-SM3(key = master, msg = "ukeygate/pin/v1" || PIN)   (32 bytes, PIN as UTF-8 bytes)
//	key      = PBKDF2-HMAC-SM3(password, salt, c = PINIterations = 4096, dkLen = 16)
//
// Binding the master key means a stolen database alone does not allow an
// offline PIN search; the iterations slow one down if the master key leaks
// too. A wrong PIN yields a different key, so Unwrap fails.
func DerivePINKey(master, salt []byte, pin string) ([]byte, error) {
	if len(master) < MinMasterKeyLen {
		return nil, fmt.Errorf("%w: master key must be at least %d bytes", ErrInvalidInput, MinMasterKeyLen)
	}
	if len(salt) < MinSaltLen {
		return nil, fmt.Errorf("%w: salt must be at least %d bytes", ErrInvalidInput, MinSaltLen)
	}
	if pin == "" {
		return nil, fmt.Errorf("%w: empty PIN", ErrInvalidInput)
	}
	m := hmac.New(sm3.New, master)
	m.Write([]byte(pinLabel))
	m.Write([]byte(pin))
	password := m.Sum(nil)
	defer Zero(password)
	// Our own PBKDF2 takes the password as bytes, so the defer above
	// clears it (security review, finding 7: the standard library's
	// pbkdf2.Key takes a string, a copy nothing can clear).
	return pbkdf2HMACSM3(password, salt, PINIterations, KeySize), nil
}

// DerivePassphraseKey derives a KeySize key from a person's passphrase
// with PBKDF2-HMAC-SM3 and iter iterations (at least 1): the escrow
// custodians' share files use it. The same function as the standard
// library's pbkdf2.Key(sm3.New, …), but nothing derived from the
// passphrase outlives the call (see pbkdf2HMACSM3); the caller clears
// passphrase when done.
func DerivePassphraseKey(passphrase, salt []byte, iter int) ([]byte, error) {
	if iter < 1 {
		return nil, fmt.Errorf("%w: passphrase key: %d iterations", ErrInvalidInput, iter)
	}
	return pbkdf2HMACSM3(passphrase, salt, iter, KeySize), nil
}

// Equal reports whether a and b are equal, in time that depends only on
// their lengths.
func Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Zero overwrites b with zeros.
func Zero(b []byte) {
	clear(b)
}

// RandomBytes returns n bytes from the system's secure random source; a
// negative n is ErrInvalidInput.
func RandomBytes(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: negative length", ErrInvalidInput)
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("crypto: random: %w", err)
	}
	return b, nil
}
