package crypto

import (
	"crypto"
	"crypto/sha256"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// DigestSize is the length of every digest Digest returns and SignDigest
// accepts (SM3 and SHA-256 are both 32 bytes).
const DigestSize = 32

// maxUIDLen is the longest SM2 signer id: its bit length must fit ENTL's 16 bits.
const maxUIDLen = 0x1fff

// SM3 returns the SM3 hash of data (GB/T 32905).
func SM3(data []byte) []byte {
	h := sm3.Sum(data)
	return h[:]
}

// Digest returns the value that is actually signed for data under pub: for
// SM2, e = SM3(Z_A || data) where Z_A binds the signer id uid (nil or empty
// means DefaultUID) and the public key (GB/T 32918.2, GM/T 0009); for RSA,
// SHA-256(data). Private keys are accepted in place of their public key.
func Digest(pub crypto.PublicKey, data []byte, uid []byte) ([]byte, error) {
	if p, ok := sm2Public(pub); ok {
		if len(uid) == 0 {
			uid = DefaultUID
		}
		if len(uid) > maxUIDLen {
			return nil, fmt.Errorf("%w: SM2 signer id longer than %d bytes", ErrInvalidInput, maxUIDLen)
		}
		e, err := sm2.CalculateSM2Hash(p, data, uid)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
		}
		return e, nil
	}
	if _, ok := rsaPublic(pub); ok {
		h := sha256.Sum256(data)
		return h[:], nil
	}
	return nil, fmt.Errorf("%w: key type %T", ErrUnsupported, pub)
}
