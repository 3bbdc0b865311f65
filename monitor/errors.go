package monitor

import "errors"

// Sentinel errors of package monitor, checked with errors.Is.
var (
	// ErrInvalidConfig: a Config setting is out of range.
	ErrInvalidConfig = errors.New("monitor: invalid configuration")
)
