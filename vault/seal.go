package vault

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/emmansun/gmsm/sm4"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Sealed-value format, version 1 (a storage format: never change it, add
// a new version instead):
//
//	magic "\xffuk1" || key id (8 bytes) || 0x01 || nonce (12 bytes) || SM4-GCM(sealKey, nonce, value, ad = storage key)
//
// (the part after the key id is gmcrypto.Wrap's format; the AEAD is built
// once per key here, because building it costs more than sealing a value).
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
	seal cipher.AEAD // SM4-GCM under the seal key: seals values
	kek  []byte      // wraps the data key
}

const (
	wrapVersion = 0x01
	nonceLen    = 12
	tagLen      = 16
)

func deriveKeys(master []byte) (*masterKeys, error) {
	raw, err := gmcrypto.DeriveKey(master, purposeKeyID, nil)
	if err != nil {
		return nil, err
	}
	mk := &masterKeys{}
	copy(mk.id[:], raw)
	sk, err := gmcrypto.DeriveKey(master, purposeSeal, nil)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(sk)
	block, err := sm4.NewCipher(sk)
	if err != nil {
		return nil, err
	}
	if mk.seal, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	if mk.kek, err = gmcrypto.DeriveKey(master, purposeDataKEK, nil); err != nil {
		return nil, err
	}
	return mk, nil
}

// zero clears the key-encryption key (the AEAD keeps its own schedule
// until it is collected).
func (mk *masterKeys) zero() {
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

// sealHead is the length of a sealed value before its ciphertext.
const sealHead = len("\xffuk1") + keyIDLen + 1 + nonceLen

// sealedLen is the length of a value of n bytes once sealed.
func sealedLen(n int) int { return sealHead + n + tagLen }

func (mk *masterKeys) sealValue(key string, value []byte) ([]byte, error) {
	return mk.appendSealed(make([]byte, 0, sealedLen(len(value))), []byte(key), value)
}

// appendSealed appends value sealed at key (its bytes, the additional
// data) to dst, in dst's spare capacity when it has sealedLen(len(value))
// bytes of it. value must not overlap dst's spare capacity.
func (mk *masterKeys) appendSealed(dst, key, value []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, sealMagic...)
	dst = append(dst, mk.id[:]...)
	dst = append(dst, wrapVersion)
	dst = append(dst, make([]byte, nonceLen)...)
	nonce := dst[start+sealHead-nonceLen : start+sealHead]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: random nonce: %w", err)
	}
	return mk.seal.Seal(dst, nonce, value, key), nil
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
// damagedSeal is the error of a sealed value of key that does not open.
func damagedSeal(key string) error {
	return fmt.Errorf("%w: %s is damaged or was moved from another key", ErrSealed, key)
}

func (ks keySet) open(key string, value []byte) ([]byte, error) {
	id, ok := sealedWith(value)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not sealed", ErrSealed, key)
	}
	mk := ks[id]
	if mk == nil {
		return nil, fmt.Errorf("%w: %s is sealed under master key %s, which this node does not hold", ErrSealed, key, id)
	}
	w := value[len(sealMagic)+keyIDLen:]
	if len(w) < 1+nonceLen+tagLen || w[0] != wrapVersion {
		return nil, damagedSeal(key)
	}
	pt, err := mk.seal.Open(nil, w[1:1+nonceLen], w[1+nonceLen:], []byte(key))
	if err != nil {
		return nil, damagedSeal(key)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
