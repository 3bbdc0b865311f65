package session

import (
	"errors"
	"fmt"
)

// Sentinel errors of package session, checked with errors.Is. The api
// package maps each to an HTTP status and a stable code.
var (
	// ErrNotFound: no such session, or the caller may not see it (another
	// app, a wrong watch token, a wrong QR nonce). Deliberately does not say
	// which.
	ErrNotFound = errors.New("session: not found")
	// ErrExpired: the session's TTL has passed.
	ErrExpired = errors.New("session: expired")
	// ErrAlreadyScanned: the session was scanned already by another device
	// (or user); a session is bound to the first device that scans it,
	// whose own repeated scan is answered again (Service.ScanShown).
	ErrAlreadyScanned = errors.New("session: already scanned")
	// ErrNonceUsed: the QR nonce was consumed by a scan of a session that has
	// since ended; the QR code must not be scanned again.
	ErrNonceUsed = errors.New("session: QR code already used")
	// ErrNotScanned: the operation needs a scanned session (confirm, reject,
	// fail) but the session is still waiting for its scan.
	ErrNotScanned = errors.New("session: not scanned yet")
	// ErrSessionClosed: the session has ended (completed, rejected, failed or
	// cancelled) and accepts no further transition.
	ErrSessionClosed = errors.New("session: session has ended")
	// ErrInvalidTransition: the state machine does not allow the change.
	ErrInvalidTransition = errors.New("session: invalid state transition")
	// ErrWrongDevice: the session is bound to another device.
	ErrWrongDevice = errors.New("session: bound to another device")
	// ErrWrongUser: the portal asked for another user.
	ErrWrongUser = errors.New("session: requested for another user")
	// ErrWrongCode: the matching code chosen on the phone is not the
	// session's (the user may be looking at a relayed QR code).
	ErrWrongCode = errors.New("session: wrong matching code")
	// ErrTTL: the requested TTL is not positive or exceeds the configured
	// maximum.
	ErrTTL = errors.New("session: ttl out of range")
	// ErrInvalidRequest: the parameters of a new session are malformed
	// (unknown kind, missing documents or ciphertext, bad format…).
	ErrInvalidRequest = errors.New("session: invalid request")
	// ErrInvalidArgument: a malformed argument (empty device id, bad reason,
	// negative sequence number).
	ErrInvalidArgument = errors.New("session: invalid argument")
	// ErrInvalidSeq: the after= sequence number is beyond the session's last
	// event.
	ErrInvalidSeq = errors.New("session: sequence number beyond the last event")
	// ErrOperationFailed: a Confirm operation failed for good; the session
	// is now failed. Build such errors with OperationFailed.
	ErrOperationFailed = errors.New("session: operation failed")
	// ErrSlowWatcher: a watcher fell too far behind and was dropped; the
	// client reconnects with after= the last sequence number it received.
	// The hub no longer drops watchers (a lagging one re-lists); kept so
	// that callers mapping it still compile.
	ErrSlowWatcher = errors.New("session: watcher too slow, reconnect with after")
	// ErrClosed: the Service or the Watcher was closed.
	ErrClosed = errors.New("session: closed")
	// ErrInvalidConfig: a bad Config value; the message names the key.
	ErrInvalidConfig = errors.New("session: invalid config")
	// ErrTooLarge: a new session's binary inputs (documents' data and
	// ciphertext) exceed Config.MaxDataBytes, or a write would exceed
	// Config.MaxWriteBytes. Nothing is stored. A confirm whose result
	// could not be stored fails with an *OpError of reason
	// ReasonResultTooLarge that wraps it.
	ErrTooLarge = errors.New("session: too large to store")
	// ErrResultTooLarge: a new session's result could be too large to
	// store (CreationBound: a cms-attached signature holds its data again),
	// so its confirm could only fail; nothing is stored. It wraps
	// ErrTooLarge.
	ErrResultTooLarge = fmt.Errorf("%w: the result would be too large", ErrTooLarge)
	// ErrBadCiphertext: a decrypt session's ciphertext does not have the
	// shape its ciphertext_format says (gmcrypto.CheckCiphertext,
	// CheckEnvelope), so its confirm could only fail; nothing is stored.
	ErrBadCiphertext = errors.New("session: ciphertext does not have the shape of its format")
	// ErrConfirmInProgress: another confirm of the session holds its claim
	// (it is unlocking the key or performing the operation); this one is
	// refused without touching the key.
	ErrConfirmInProgress = errors.New("session: a confirm of this session is in progress")
	// ErrCredentialMismatch: the credential chosen at confirm does not fit
	// the session's request (purpose, issuer or algorithm).
	ErrCredentialMismatch = errors.New("session: credential does not fit the request")
	// ErrDelegationScope: the credential is an organisation's, used
	// through a delegation that does not cover the session's kind or app.
	ErrDelegationScope = errors.New("session: the delegation does not cover this session")
	// ErrSealRequired: a seal session's confirm names no seal and the
	// portal named none either.
	ErrSealRequired = errors.New("session: a seal must be chosen")
	// ErrSealMismatch: the seal chosen is not the one the portal asked
	// for, or it is not bound to the chosen credential's certificate.
	ErrSealMismatch = errors.New("session: seal does not fit the request")
)

// OpError is the error of a Confirm operation that failed for good: the
// session moves to failed with Reason. errors.Is(err, ErrOperationFailed)
// holds, and so does errors.Is(err, Err) for the underlying cause.
type OpError struct {
	// Reason is a short stable snake_case code recorded in the session and
	// its final event (e.g. "wrong_code", "credential_revoked").
	Reason string
	// Err is the underlying cause; it is not shown to the portal.
	Err error
}

// OperationFailed marks err as a final failure of a Confirm operation with
// the given reason (a snake_case code of at most 64 characters; anything
// else is recorded as "operation_failed").
func OperationFailed(reason string, err error) error {
	return &OpError{Reason: reason, Err: err}
}

func (e *OpError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", ErrOperationFailed, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %v", ErrOperationFailed, e.Reason, e.Err)
}

// Unwrap makes both ErrOperationFailed and the cause visible to errors.Is.
func (e *OpError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrOperationFailed}
	}
	return []error{ErrOperationFailed, e.Err}
}
