package config

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every error Validate returns.
var ErrInvalid = errors.New("config: invalid configuration")

// FieldError names one bad key, its value and why it is refused. Its
// message reads "config: session.ttl 0s: must be > 0 …".
type FieldError struct {
	// Key is the YAML key, dotted ("session.ttl").
	Key string
	// Value is the offending value as text; empty for secrets.
	Value string
	// Reason says what is expected.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s %s: %s", e.Key, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) hold for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }
