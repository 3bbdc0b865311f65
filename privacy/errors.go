package privacy

import "errors"

// Sentinel errors of package privacy, checked with errors.Is.
var (
	// ErrInvalidConfig: Config.Validate refused a setting.
	ErrInvalidConfig = errors.New("privacy: invalid configuration")
	// ErrIncomplete: the account's personal fields are erased but a later
	// step failed (the store, a Part); Resume (run at start-up) finishes it.
	ErrIncomplete = errors.New("privacy: account deletion not finished")
)
