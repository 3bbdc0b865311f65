package ra

import "errors"

// Errors of the registration authority (api maps them to stable codes).
var (
	// ErrNotFound: no registration or correction request with that id.
	ErrNotFound = errors.New("ra: registration not found")
	// ErrDecided: the request was already approved or rejected.
	ErrDecided = errors.New("ra: registration already decided")
	// ErrPending: an undecided registration of the same ID number or
	// credit code (or a correction of the same user) is already queued.
	ErrPending = errors.New("ra: a registration of this identity is already pending")
	// ErrIDNumber: the ID number fails GB 11643's checksum or shape.
	ErrIDNumber = errors.New("ra: invalid ID number")
	// ErrCreditCode: the 统一社会信用代码 fails GB 32100's checksum or shape.
	ErrCreditCode = errors.New("ra: invalid credit code")
	// ErrPolicyVersion: the consent names another version of the privacy
	// policy than the current one.
	ErrPolicyVersion = errors.New("ra: consent to an outdated privacy policy")
	// ErrLicence: the licence image is not a PNG or JPEG within the limits.
	ErrLicence = errors.New("ra: invalid licence image")
)
