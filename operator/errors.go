package operator

import (
	"errors"

	"github.com/ukeygate/ukeygate/protocol"
)

// Sentinel errors of package operator, checked with errors.Is.
var (
	// ErrInvalidConfig: BaseURL is not an absolute http(s) URL or Token is
	// empty or malformed; the message names the field.
	ErrInvalidConfig = errors.New("operator: invalid client config")
	// ErrInvalidArgument: a call was given a malformed argument (an empty
	// id, say); the message names it.
	ErrInvalidArgument = errors.New("operator: invalid argument")
	// ErrUnreachable: the request did not get an answer (connection
	// refused, DNS, timeout); the transport error is wrapped too.
	ErrUnreachable = errors.New("operator: cannot reach the gateway")
	// ErrProtocol: the gateway answered something that is not the v1
	// protocol (not JSON, too large, a paging that does not advance).
	ErrProtocol = errors.New("operator: unexpected answer from the gateway")
)

// APIError is an error answer of the gateway:
// {"error":{"code":"issuer_exists","message":"…","field":"id"}} with its
// HTTP status (protocol.APIError). Code is the stable snake_case code of
// docs/openapi.yaml; it is empty when the body was not in that form (a
// proxy's error page).
type APIError = protocol.APIError

// IsCode reports whether err is an *APIError with code.
func IsCode(err error, code string) bool { return protocol.IsCode(err, code) }
