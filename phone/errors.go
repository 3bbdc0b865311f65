package phone

import (
	"errors"

	"github.com/ukeygate/ukeygate/protocol"
)

// Sentinel errors of package phone, checked with errors.Is.
var (
	// ErrNotEnrolled: the state holds no device yet (run Enroll first).
	ErrNotEnrolled = errors.New("phone: device not enrolled")
	// ErrAlreadyEnrolled: Enroll was called on a state that holds a device.
	ErrAlreadyEnrolled = errors.New("phone: device already enrolled")
	// ErrStateExposed: the state file can be read or written by group or
	// others; it holds the device's private key.
	ErrStateExposed = errors.New("phone: state file is accessible to others")
	// ErrBadState: the state file is not a valid phone state.
	ErrBadState = errors.New("phone: malformed state file")
	// ErrBadResponse: the server answered something that is not the
	// protocol's JSON.
	ErrBadResponse = errors.New("phone: malformed server response")
	// ErrBadSessionID: a session id that cannot be one (empty, too long,
	// or with URL delimiters).
	ErrBadSessionID = errors.New("phone: malformed session id")
	// ErrBadPayload: an empty QR payload, or an image that holds no QR code.
	ErrBadPayload = errors.New("phone: no QR payload")
	// ErrNoChoice: a certificate session confirmed without a certificate.
	ErrNoChoice = errors.New("phone: no certificate chosen")
	// ErrCosignPending: a two-party credential request was never answered
	// (State.CosignPending); it must be repeated before the PIN changes.
	ErrCosignPending = errors.New("phone: a two-party credential request is unsettled")
)

// APIError is an error answered by the server: the HTTP status and the
// protocol's stable error code and message (protocol.APIError).
type APIError = protocol.APIError

// Code returns the server's error code of err ("" if err is not an
// *APIError).
func Code(err error) string { return protocol.ErrorCode(err) }
