package webhook

import "errors"

// Sentinel errors of package webhook, checked with errors.Is.
var (
	// ErrInvalidConfig: a Config setting is out of range.
	ErrInvalidConfig = errors.New("webhook: invalid configuration")
	// ErrInvalidURL: a webhook URL that is not an absolute http(s) URL
	// (or too long, or with user info or a fragment).
	ErrInvalidURL = errors.New("webhook: invalid webhook URL")
	// ErrTargetNotAllowed: the URL's host is, or resolves to, an address
	// the operator has not allowed (loopback, private, link-local…; see
	// Config.AllowPrivate).
	ErrTargetNotAllowed = errors.New("webhook: target address not allowed")
	// ErrNotFound: the app has no webhook.
	ErrNotFound = errors.New("webhook: no webhook for this app")
	// ErrDeliveryNotFound: no such delivery of this app.
	ErrDeliveryNotFound = errors.New("webhook: delivery not found")
	// ErrInvalidCursor: a malformed after= cursor.
	ErrInvalidCursor = errors.New("webhook: invalid cursor")
	// ErrInvalidArgument: a malformed app id or limit.
	ErrInvalidArgument = errors.New("webhook: invalid argument")
	// ErrDamaged: a stored record does not parse.
	ErrDamaged = errors.New("webhook: damaged record")
)
