package demo

import "errors"

// Sentinel errors of package demo, checked with errors.Is.
var (
	// ErrInvalidConfig: a Config field is missing or malformed; the
	// message names it.
	ErrInvalidConfig = errors.New("demo: invalid config")
)
