package auth

import (
	"errors"

	"github.com/ukeygate/ukeygate/protocol"
)

// Sentinel errors of package auth, checked with errors.Is.
var (
	// ErrAdminDisabled: the operator API is off (no admin token configured).
	ErrAdminDisabled = errors.New("auth: operator API disabled")
	// ErrMissingToken: no "Authorization: Bearer …" credential was presented.
	ErrMissingToken = errors.New("auth: missing bearer token")
	// ErrInvalidToken: the admin token or app key presented is wrong.
	ErrInvalidToken = errors.New("auth: invalid token")

	// ErrInvalidOperator: a named operator's name is not well formed.
	ErrInvalidOperator = errors.New("auth: invalid operator name")
	// ErrOperatorExists: an operator with that name exists already.
	ErrOperatorExists = errors.New("auth: operator exists")
	// ErrOperatorNotFound: no named operator with that name.
	ErrOperatorNotFound = errors.New("auth: operator not found")
	// ErrOperatorForbidden: the operator may not do this (only the
	// bootstrap operator "admin" adds and removes operators).
	ErrOperatorForbidden = errors.New("auth: operator not allowed to do this")

	// ErrInvalidApp: an app's name is missing or unfit.
	ErrInvalidApp = errors.New("auth: invalid app")
	// ErrInvalidOrigin: an origin is not scheme://host[:port] (http or
	// https, no path, query, fragment or user info).
	ErrInvalidOrigin = errors.New("auth: invalid origin")
	// ErrAppNotFound: no app under that id.
	ErrAppNotFound = errors.New("auth: app not found")
	// ErrAppDisabled: the app key belongs to an app the operator disabled.
	ErrAppDisabled = errors.New("auth: app disabled")
	// ErrAppAlreadyDisabled: the app is disabled already (disable again,
	// rotate the key of a disabled app).
	ErrAppAlreadyDisabled = errors.New("auth: app already disabled")

	// ErrMissingHeaders: a device request lacks one of X-Device,
	// X-Timestamp, X-Nonce, X-Signature (protocol.ParseDeviceHeaders).
	ErrMissingHeaders = protocol.ErrMissingHeaders
	// ErrMalformedHeaders: a device header is present but not well formed
	// (timestamp not an integer, nonce not hex of 16 to 64 bytes, bad device
	// id, signature not base64).
	ErrMalformedHeaders = protocol.ErrMalformedHeaders
	// ErrDeviceUnknown: no enrolled device under the X-Device id.
	ErrDeviceUnknown = errors.New("auth: unknown device")
	// ErrDeviceRevoked: the X-Device device was revoked by the operator.
	ErrDeviceRevoked = errors.New("auth: device revoked")
	// ErrBadSignature: the device signature does not verify. Deliberately
	// vague.
	ErrBadSignature = protocol.ErrBadSignature
	// ErrStaleTimestamp: X-Timestamp is further from the server clock than
	// the allowed skew.
	ErrStaleTimestamp = errors.New("auth: timestamp outside the allowed window")
	// ErrReplayedNonce: the nonce was already used by this device.
	ErrReplayedNonce = errors.New("auth: nonce already used")
	// ErrInvalidConfig: a DeviceConfig or constructor argument is unusable.
	ErrInvalidConfig = errors.New("auth: invalid configuration")
)
