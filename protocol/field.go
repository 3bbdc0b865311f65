package protocol

import (
	"errors"
	"fmt"
)

// ErrInvalidRequest: a request field is missing, malformed or out of
// range; a *FieldError names it (code invalid_request).
var ErrInvalidRequest = errors.New("protocol: invalid request")

// FieldError names the request field at fault — spelled as on the wire
// (snake_case, "documents[2].data") — and why. It is the one field error
// of the gateway: the api's decoding and validation and the services'
// checks (ca.RequestError) build it, and the error envelope carries Field.
// It wraps Err, or ErrInvalidRequest when Err is nil.
type FieldError struct {
	Field  string
	Reason string
	// Err is the sentinel it wraps (a service's, for a more precise
	// code: malformed_pem, too_many_certificates, …); nil means
	// ErrInvalidRequest.
	Err error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Unwrap(), e.Field, e.Reason)
}

// Unwrap returns the sentinel (ErrInvalidRequest by default).
func (e *FieldError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrInvalidRequest
}

// Invalid is a *FieldError of ErrInvalidRequest with a formatted reason.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
