package audit

import "errors"

// Sentinel errors of package audit, checked with errors.Is.
var (
	// ErrTampered: the chain does not verify: an entry was changed, removed,
	// inserted or re-ordered, or the head does not match the last entry.
	ErrTampered = errors.New("audit: log has been tampered with")
	// ErrInvalidEntry: an entry to append lacks its action or outcome.
	ErrInvalidEntry = errors.New("audit: invalid entry")
	// ErrNothingToExport: no entry follows the last exported segment.
	ErrNothingToExport = errors.New("audit: nothing to export")
	// ErrAnchor: a segment anchor handed to Archive is not this gateway's
	// or does not follow the last archived segment.
	ErrAnchor = errors.New("audit: anchor refused")
	// ErrClosed: the log has been closed.
	ErrClosed = errors.New("audit: log closed")
)
