package backup

import "errors"

// Sentinel errors of package backup, checked with errors.Is.
var (
	// ErrFormat: the file is not a complete, intact ukeygate backup
	// (unknown format, bad line, missing end, wrong count or checksum).
	ErrFormat = errors.New("backup: not an intact ukeygate backup")
	// ErrNotEmpty: Restore was pointed at a store that holds data.
	ErrNotEmpty = errors.New("backup: the target store is not empty")
)
