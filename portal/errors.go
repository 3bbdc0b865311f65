package portal

import (
	"errors"
	"fmt"

	"github.com/ukeygate/ukeygate/protocol"
)

// Sentinel errors of package portal, checked with errors.Is.
var (
	// ErrInvalidConfig: a Client or DemoConfig field is missing or malformed;
	// the message names it.
	ErrInvalidConfig = errors.New("portal: invalid config")
	// ErrInvalidArgument: a call was given a malformed argument (empty
	// session id, a session without watch URLs…).
	ErrInvalidArgument = errors.New("portal: invalid argument")
	// ErrProtocol: the gateway answered something that is not the v1
	// protocol (not JSON, missing fields).
	ErrProtocol = protocol.ErrProtocol
	// ErrWatchEnded: a watch stopped before the session reached a final
	// state (the context ended or the gateway refused the watch).
	ErrWatchEnded = errors.New("portal: watch ended before a final state")
	// ErrNoResult: the session has no result of the asked kind (it did not
	// complete, or is of another kind).
	ErrNoResult = protocol.ErrNoResult

	// ErrLoginInvalid: a login result failed verification. Every cause
	// (malformed result, signature that does not verify, challenge that does
	// not match, certificate not trusted) wraps it, so callers may check
	// just this one.
	ErrLoginInvalid = errors.New("portal: login result invalid")
	// ErrLoginSignature: the signature over the challenge does not verify
	// under the certificate's key. Deliberately says nothing more.
	ErrLoginSignature = fmt.Errorf("%w: signature does not verify", ErrLoginInvalid)
	// ErrLoginChallenge: the challenge is malformed or names another
	// session, app or origin.
	ErrLoginChallenge = fmt.Errorf("%w: challenge does not match", ErrLoginInvalid)
	// ErrLoginExpired: the challenge time is older than the allowed age or
	// in the future.
	ErrLoginExpired = fmt.Errorf("%w: challenge too old or in the future", ErrLoginInvalid)
	// ErrLoginCertificate: the certificate is malformed, outside its
	// validity period, not for signing, or does not chain to the given roots.
	ErrLoginCertificate = fmt.Errorf("%w: certificate not acceptable", ErrLoginInvalid)

	// ErrWebhookInvalid: a webhook delivery failed VerifyWebhook; every
	// cause below wraps it.
	ErrWebhookInvalid = errors.New("portal: webhook delivery invalid")
	// ErrWebhookSignature: the signature does not match the body and
	// timestamp under the secret (or is missing a v1= value).
	ErrWebhookSignature = fmt.Errorf("%w: signature does not verify", ErrWebhookInvalid)
	// ErrWebhookExpired: the signed timestamp is outside the window.
	ErrWebhookExpired = fmt.Errorf("%w: timestamp outside the window", ErrWebhookInvalid)
	// ErrWebhookMalformed: missing headers, a bad timestamp, a body that
	// is not a webhook event or names another delivery.
	ErrWebhookMalformed = fmt.Errorf("%w: malformed delivery", ErrWebhookInvalid)
)

// APIError is an error answer of the gateway:
// {"error":{"code":"session_expired","message":"…"}} with its HTTP status
// (protocol.APIError). Code is the stable snake_case code of
// docs/openapi.yaml; it is empty when the body was not in that form (a
// proxy's error page, say).
type APIError = protocol.APIError
