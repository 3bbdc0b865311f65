package cosign

import "errors"

// Sentinel errors of package cosign, checked with errors.Is. A final result
// that does not verify (the sign of a wrong PIN) is crypto.ErrVerification
// for signatures and crypto.ErrDecryption for decryptions, never one of
// these: only those two count against the PIN.
var (
	// ErrMalformed: a message field has the wrong length or encoding, a
	// point is not on the SM2 curve or is the identity, a scalar is zero or
	// not below the group order, or a proof does not check.
	ErrMalformed = errors.New("cosign: malformed message")
	// ErrTranscript: a message does not belong to this exchange (another
	// session, credential, digest or round: a replay or a splice), or the
	// gateway state was already used.
	ErrTranscript = errors.New("cosign: message does not belong to this exchange")
	// ErrInvalidInput: an argument is out of range (empty PIN, wrong digest
	// length, unknown ciphertext format, too short a ciphertext).
	ErrInvalidInput = errors.New("cosign: invalid input")
)
