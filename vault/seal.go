package vault

import (
	"bytes"
	"encoding/hex"
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Sealed-value format, version 1 (a storage format: never change it, add
// a new version instead):
//
//	magic "\xffuk1" || key id (8 bytes) || gmcrypto.Wrap(sealKey, value, ad = storage key)
//
// The magic cannot start a JSON document or UTF-8 text, so a value written
// before sealing existed is told apart from a sealed one.
var sealMagic = []byte("\xffuk1")

// keyIDLen is the length of a key id in a sealed value.
const keyIDLen = 8

// Purposes of the keys derived from a master key.
const (
	purposeKeyID   = "ukeygate/vault/key-id/v1"
	purposeSeal    = "ukeygate/vault/seal/v1"
	purposeDataKEK = "ukeygate/vault/data-key/v1"
)

// DataKeySize is the length of the data key.
const DataKeySize = 32

// keyID identifies a master key without revealing it.
type keyID [keyIDLen]byte

func (id keyID) String() string { return hex.EncodeToString(id[:]) }

// masterKeys are the keys derived from one master key.
type masterKeys struct {
	id   keyID
	seal []byte // seals values
	kek  []byte // wraps the data key
}

func deriveKeys(master []byte) (*masterKeys, error) {
	raw, err := gmcrypto.DeriveKey(master, purposeKeyID, nil)
	if err != nil {
		return nil, err
	}
	mk := &masterKeys{}
	copy(mk.id[:], raw)
	if mk.seal, err = gmcrypto.DeriveKey(master, purposeSeal, nil); err != nil {
		return nil, err
	}
	if mk.kek, err = gmcrypto.DeriveKey(master, purposeDataKEK, nil); err != nil {
		return nil, err
	}
	return mk, nil
}

func (mk *masterKeys) zero() {
	gmcrypto.Zero(mk.seal)
	gmcrypto.Zero(mk.kek)
}

// KeyID returns the id of master as the keyring and backups show it (16
// hex digits). It reveals nothing about the key.
func KeyID(master []byte) (string, error) {
	mk, err := deriveKeys(master)
	if err != nil {
		return "", err
	}
	defer mk.zero()
	return mk.id.String(), nil
}

func (mk *masterKeys) sealValue(key string, value []byte) ([]byte, error) {
	w, err := gmcrypto.Wrap(mk.seal, value, []byte(key))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sealMagic)+keyIDLen+len(w))
	out = append(out, sealMagic...)
	out = append(out, mk.id[:]...)
	return append(out, w...), nil
}

// sealedWith reports the key id a stored value is sealed under; ok is
// false for a value that is not sealed.
func sealedWith(value []byte) (id keyID, ok bool) {
	if len(value) < len(sealMagic)+keyIDLen || !bytes.HasPrefix(value, sealMagic) {
		return id, false
	}
	copy(id[:], value[len(sealMagic):])
	return id, true
}

// keySet is the master keys a view can open values with.
type keySet map[keyID]*masterKeys

// open returns the plaintext of the sealed value stored at key.
func (ks keySet) open(key string, value []byte) ([]byte, error) {
	id, ok := sealedWith(value)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not sealed", ErrSealed, key)
	}
	mk := ks[id]
	if mk == nil {
		return nil, fmt.Errorf("%w: %s is sealed under master key %s, which this node does not hold", ErrSealed, key, id)
	}
	pt, err := gmcrypto.Unwrap(mk.seal, value[len(sealMagic)+keyIDLen:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is damaged or was moved from another key", ErrSealed, key)
	}
	return pt, nil
}
