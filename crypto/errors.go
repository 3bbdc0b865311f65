package crypto

import "errors"

// Sentinel errors of package crypto. Callers check them with errors.Is.
//
// Every failure to verify a signature returns ErrVerification and every
// failure to decrypt or unwrap returns ErrDecryption, whatever the cause
// (malformed encoding, wrong key, flipped bit, point not on the curve):
// the cause is deliberately not told, so that an attacker learns nothing
// from the error.
var (
	// ErrVerification: a signature (raw or CMS) did not verify.
	ErrVerification = errors.New("crypto: verification failed")
	// ErrDecryption: a ciphertext, envelope or wrapped key could not be opened.
	ErrDecryption = errors.New("crypto: decryption failed")
	// ErrUnsupported: the algorithm, key type, key size or format is not supported.
	ErrUnsupported = errors.New("crypto: unsupported algorithm, key or format")
	// ErrMalformed: a key, certificate or PEM block could not be parsed.
	ErrMalformed = errors.New("crypto: malformed key, certificate or encoding")
	// ErrKeyMismatch: a key does not fit the operation (wrong type or curve,
	// a certificate whose public key is not the given key's).
	ErrKeyMismatch = errors.New("crypto: key does not match")
	// ErrInvalidInput: an argument is out of range (empty data, oversized
	// digest, too short a master key or salt).
	ErrInvalidInput = errors.New("crypto: invalid input")
)
