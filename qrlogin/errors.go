package qrlogin

import "errors"

// Sentinel errors of package qrlogin, checked with errors.Is.
var (
	// ErrInvalidPayload: a QR payload that is not one of this gateway's
	// (wrong scheme, host or path, bad characters or lengths, too long).
	ErrInvalidPayload = errors.New("qrlogin: invalid QR payload")
	// ErrInvalidPublicURL: public_url cannot carry QR payloads (not an
	// absolute http(s) URL, has a query or fragment, or is too long).
	ErrInvalidPublicURL = errors.New("qrlogin: invalid public_url")
	// ErrSize: a QR image size outside [MinSize, MaxSize].
	ErrSize = errors.New("qrlogin: QR image size out of range")
	// ErrInvalidChallenge: bytes that are not a canonical login challenge.
	ErrInvalidChallenge = errors.New("qrlogin: invalid login challenge")
	// ErrChallengeMismatch: the challenge names another session, app or
	// origin than the portal expects.
	ErrChallengeMismatch = errors.New("qrlogin: login challenge does not match")
	// ErrChallengeExpired: the challenge's time is older than the allowed
	// age, or too far in the future.
	ErrChallengeExpired = errors.New("qrlogin: login challenge expired")
)
