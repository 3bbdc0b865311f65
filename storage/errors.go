package storage

import "errors"

// Sentinel errors of package storage, checked with errors.Is.
var (
	// ErrNotFound: the key does not exist (or has expired).
	ErrNotFound = errors.New("storage: key not found")
	// ErrConflict: a transaction's condition did not hold; nothing was written.
	ErrConflict = errors.New("storage: conflict")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: store closed")
	// ErrUnavailable: the backend cannot be reached or opened (locked file,
	// unreachable cluster).
	ErrUnavailable = errors.New("storage: backend unavailable")
	// ErrInvalid: a malformed key, empty transaction or bad TTL.
	ErrInvalid = errors.New("storage: invalid argument")
)
