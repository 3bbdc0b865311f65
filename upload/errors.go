package upload

import "errors"

// Sentinel errors of package upload, checked with errors.Is.
var (
	// ErrNotFound: no such upload, or one made by another app (the two
	// are told apart by no one outside this package).
	ErrNotFound = errors.New("upload: not found")
	// ErrExpired: the upload lived its TTL before a session claimed it.
	ErrExpired = errors.New("upload: expired")
	// ErrUsed: the upload was already claimed by a session (it is single
	// use).
	ErrUsed = errors.New("upload: already used")
	// ErrTooLarge: the upload is larger than Config.MaxBytes.
	ErrTooLarge = errors.New("upload: too large")
	// ErrEmpty: the upload has no bytes.
	ErrEmpty = errors.New("upload: empty")
	// ErrDamaged: a stored chunk does not open or the bytes do not hash
	// to the manifest's SHA-256.
	ErrDamaged = errors.New("upload: damaged")
	// ErrConfig: a Config value is out of range (Validate names it).
	ErrConfig = errors.New("upload: bad configuration")
)
