package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
)

// Sentinel errors of package api, checked with errors.Is.
var (
	// ErrRateLimited: a request budget is spent (a *RateLimitError says
	// when to retry).
	ErrRateLimited = errors.New("api: rate limited")
	// ErrBodyTimeout: the request body did not arrive within
	// http.read_timeout (a slow or stalled client).
	ErrBodyTimeout = errors.New("api: request body timed out")
	// ErrBodyTooLarge: the request body exceeds the size limit.
	ErrBodyTooLarge = errors.New("api: request body too large")
	// ErrUnsupportedMediaType: a JSON body without Content-Type
	// application/json.
	ErrUnsupportedMediaType = errors.New("api: Content-Type must be application/json")
	// ErrMalformedJSON: the body is not one well-formed JSON object of the
	// expected shape (syntax error, wrong type, trailing data, empty body).
	ErrMalformedJSON = errors.New("api: malformed JSON")
	// ErrUnknownField: the body has a field the endpoint does not know.
	ErrUnknownField = errors.New("api: unknown field")
	// ErrInvalidRequest: a field is missing or out of range (a *FieldError
	// names it).
	ErrInvalidRequest = errors.New("api: invalid request")
	// ErrNotFound: no such endpoint.
	ErrNotFound = errors.New("api: no such endpoint")
	// ErrMethodNotAllowed: the endpoint exists but not for this method.
	ErrMethodNotAllowed = errors.New("api: method not allowed")
	// ErrNoEncryptionCredential: POST /v1/encrypt found no active
	// encryption credential of the user (at the issuer, for the algorithm
	// asked).
	ErrNoEncryptionCredential = errors.New("api: user has no active encryption credential")
	// ErrAuditUnavailable: the API was built without an audit log.
	ErrAuditUnavailable = errors.New("api: audit log unavailable")
	// ErrBackupUnavailable: the API was built without a backup source.
	ErrBackupUnavailable = errors.New("api: backup unavailable")
	// ErrSessionsUnavailable: the API was built without a session service.
	ErrSessionsUnavailable = errors.New("api: scan sessions unavailable")
	// ErrOriginNotAllowed: the page origin (body field or Origin header)
	// is not one of the app's registered origins.
	ErrOriginNotAllowed = errors.New("api: origin not allowed for this app")
)

// FieldError names the request field that is wrong. It wraps
// ErrInvalidRequest.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidRequest, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidRequest.
func (e *FieldError) Unwrap() error { return ErrInvalidRequest }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// errorMapping is one row of the error table: errors matching err (with
// errors.Is) are answered with status and code.
type errorMapping struct {
	err    error
	status int
	code   string
}

// CodeInternal is the code of every error the table does not know.
const CodeInternal = "internal"

// errorTable maps every sentinel the handlers can meet to its HTTP status
// and stable code. The first match wins, so more specific errors (ca's,
// which may wrap gmcrypto's or storage's) come first. docs/openapi.yaml
// lists every code (TestOpenAPICoversErrorCodes).
var errorTable = []errorMapping{
	// api
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "body_too_large"},
	{ErrBodyTimeout, http.StatusRequestTimeout, "body_timeout"},
	{ErrRateLimited, http.StatusTooManyRequests, "rate_limited"},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{ErrMalformedJSON, http.StatusBadRequest, "malformed_json"},
	{ErrUnknownField, http.StatusBadRequest, "unknown_field"},
	{ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
	{ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
	{ErrNoEncryptionCredential, http.StatusNotFound, "no_encryption_credential"},
	{ErrAuditUnavailable, http.StatusServiceUnavailable, "audit_unavailable"},
	{ErrSessionsUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{ErrBackupUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{ErrOriginNotAllowed, http.StatusForbidden, "origin_not_allowed"},

	// session (before ca and gmcrypto: a failed operation wraps their
	// errors; wrong_code before operation_failed, which it also is)
	{session.ErrNotFound, http.StatusNotFound, "session_not_found"},
	{session.ErrExpired, http.StatusGone, "session_expired"},
	{session.ErrAlreadyScanned, http.StatusConflict, "already_scanned"},
	{session.ErrNonceUsed, http.StatusConflict, "nonce_used"},
	{session.ErrNotScanned, http.StatusConflict, "not_scanned"},
	{session.ErrSessionClosed, http.StatusConflict, "session_closed"},
	{session.ErrInvalidTransition, http.StatusConflict, "session_closed"},
	{session.ErrWrongDevice, http.StatusForbidden, "wrong_device"},
	{session.ErrWrongUser, http.StatusForbidden, "wrong_user"},
	{session.ErrWrongCode, http.StatusForbidden, "wrong_code"},
	{session.ErrOperationFailed, http.StatusUnprocessableEntity, "operation_failed"},
	{session.ErrConfirmInProgress, http.StatusConflict, "confirm_in_progress"},
	{session.ErrCredentialMismatch, http.StatusConflict, "credential_mismatch"},
	{session.ErrCosignNotStarted, http.StatusConflict, "cosign_not_started"},
	{session.ErrCosignUnsupported, http.StatusConflict, "cosign_unsupported"},
	{session.ErrPINRequired, http.StatusBadRequest, "invalid_request"},
	{session.ErrPINNotExpected, http.StatusBadRequest, "invalid_request"},
	{cosign.ErrTranscript, http.StatusConflict, "cosign_mismatch"},
	{cosign.ErrMalformed, http.StatusBadRequest, "cosign_malformed"},
	{cosign.ErrInvalidInput, http.StatusBadRequest, "cosign_malformed"},
	{session.ErrSealRequired, http.StatusBadRequest, "seal_required"},
	{session.ErrSealMismatch, http.StatusConflict, "seal_mismatch"},
	// after operation_failed: a result too large to store fails the
	// confirm (reason result_too_large); at create it is the request
	{session.ErrTooLarge, http.StatusRequestEntityTooLarge, "request_too_large"},
	{session.ErrTTL, http.StatusBadRequest, "invalid_ttl"},
	{session.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
	{session.ErrInvalidArgument, http.StatusBadRequest, "invalid_request"},
	{session.ErrInvalidSeq, http.StatusBadRequest, "invalid_seq"},
	{session.ErrSlowWatcher, http.StatusServiceUnavailable, "unavailable"},
	{session.ErrClosed, http.StatusServiceUnavailable, "unavailable"},

	// qrlogin
	{qrlogin.ErrInvalidPayload, http.StatusBadRequest, "invalid_payload"},
	{qrlogin.ErrSize, http.StatusBadRequest, "invalid_size"},

	// audit
	{audit.ErrTampered, http.StatusConflict, "audit_tampered"},

	// auth
	{auth.ErrAdminDisabled, http.StatusForbidden, "admin_disabled"},
	{auth.ErrMissingToken, http.StatusUnauthorized, "missing_token"},
	{auth.ErrInvalidToken, http.StatusUnauthorized, "invalid_token"},
	{auth.ErrInvalidApp, http.StatusBadRequest, "invalid_request"},
	{auth.ErrInvalidOrigin, http.StatusBadRequest, "invalid_origin"},
	{auth.ErrAppNotFound, http.StatusNotFound, "app_not_found"},
	{auth.ErrAppDisabled, http.StatusForbidden, "app_disabled"},
	{auth.ErrAppAlreadyDisabled, http.StatusConflict, "already_disabled"},
	{auth.ErrMissingHeaders, http.StatusUnauthorized, "missing_device_headers"},
	{auth.ErrMalformedHeaders, http.StatusUnauthorized, "malformed_device_headers"},
	{auth.ErrDeviceUnknown, http.StatusUnauthorized, "unknown_device"},
	{auth.ErrDeviceRevoked, http.StatusForbidden, "device_revoked"},
	{auth.ErrBadSignature, http.StatusUnauthorized, "bad_signature"},
	{auth.ErrStaleTimestamp, http.StatusUnauthorized, "stale_timestamp"},
	{auth.ErrReplayedNonce, http.StatusUnauthorized, "replayed_nonce"},

	// ca
	{ca.ErrInvalidRequest, http.StatusBadRequest, "invalid_request"},
	{ca.ErrConflict, http.StatusConflict, "conflict"},
	{ca.ErrIssuerNotFound, http.StatusNotFound, "unknown_issuer"},
	{ca.ErrIssuerExists, http.StatusConflict, "issuer_exists"},
	{ca.ErrIssuerDuplicate, http.StatusConflict, "issuer_duplicate"},
	{ca.ErrIssuerExternal, http.StatusConflict, "issuer_external"},
	{ca.ErrNotCosign, http.StatusConflict, "cosign_unsupported"},
	{ca.ErrIsCosign, http.StatusConflict, "cosign_unsupported"},
	{ca.ErrAlgNotAllowed, http.StatusBadRequest, "alg_not_allowed"},
	{ca.ErrPurposeNotAllowed, http.StatusBadRequest, "purpose_not_allowed"},
	{ca.ErrMalformedPEM, http.StatusBadRequest, "malformed_pem"},
	{ca.ErrCertificateMismatch, http.StatusBadRequest, "certificate_mismatch"},
	{ca.ErrCertificateChain, http.StatusBadRequest, "certificate_chain"},
	{ca.ErrUserNotFound, http.StatusNotFound, "user_not_found"},
	{ca.ErrDeviceNotFound, http.StatusNotFound, "device_not_found"},
	{ca.ErrNotEnrolled, http.StatusConflict, "not_enrolled"},
	{ca.ErrActivationInvalid, http.StatusBadRequest, "activation_invalid"},
	{ca.ErrActivationUsed, http.StatusGone, "activation_used"},
	{ca.ErrActivationExpired, http.StatusGone, "activation_expired"},
	{ca.ErrDeviceKey, http.StatusBadRequest, "invalid_device_key"},
	{ca.ErrDeviceAlreadyRevoked, http.StatusConflict, "already_revoked"},
	{ca.ErrWeakPIN, http.StatusBadRequest, "weak_pin"},
	{ca.ErrWrongPIN, http.StatusForbidden, "wrong_pin"},
	{ca.ErrPINLocked, http.StatusLocked, "pin_locked"},
	{ca.ErrCredentialExists, http.StatusConflict, "credential_exists"},
	{ca.ErrCredentialLimit, http.StatusConflict, "credential_limit"},
	{ca.ErrCredentialNotFound, http.StatusNotFound, "credential_not_found"},
	{ca.ErrCredentialNotActive, http.StatusConflict, "credential_not_active"},
	{ca.ErrCredentialNotPending, http.StatusConflict, "credential_not_pending"},
	{ca.ErrAlreadyRevoked, http.StatusConflict, "already_revoked"},
	{ca.ErrInvalidReason, http.StatusBadRequest, "invalid_reason"},
	{ca.ErrUntrusted, http.StatusBadRequest, "certificate_untrusted"},
	{ca.ErrCertificateExpired, http.StatusBadRequest, "certificate_expired"},
	{ca.ErrCertificateRevoked, http.StatusBadRequest, "certificate_revoked"},
	{ca.ErrKeyUsage, http.StatusBadRequest, "key_usage"},
	{ca.ErrTooManyCertificates, http.StatusBadRequest, "too_many_certificates"},
	{ca.ErrSealNotFound, http.StatusNotFound, "seal_not_found"},
	{ca.ErrSealNotActive, http.StatusConflict, "seal_not_active"},
	{ca.ErrSealAlreadyRevoked, http.StatusConflict, "already_revoked"},

	// seal
	{seal.ErrBadImage, http.StatusBadRequest, "bad_seal_image"},
	{seal.ErrBadSeal, http.StatusBadRequest, "invalid_request"},
	{seal.ErrBadPDF, http.StatusBadRequest, "bad_pdf"},
	{seal.ErrBadPlacement, http.StatusBadRequest, "bad_placement"},
	{seal.ErrKeywordNotFound, http.StatusBadRequest, "keyword_not_found"},
	{seal.ErrTooLarge, http.StatusRequestEntityTooLarge, "request_too_large"},

	// gmcrypto (reached only when no ca error wraps them)
	{gmcrypto.ErrMalformed, http.StatusBadRequest, "malformed_input"},
	{gmcrypto.ErrUnsupported, http.StatusBadRequest, "unsupported_algorithm"},
	{gmcrypto.ErrKeyMismatch, http.StatusBadRequest, "key_mismatch"},
	{gmcrypto.ErrInvalidInput, http.StatusBadRequest, "invalid_input"},
	{gmcrypto.ErrVerification, http.StatusBadRequest, "verification_failed"},
	{gmcrypto.ErrDecryption, http.StatusBadRequest, "decryption_failed"},

	// storage
	{storage.ErrNotFound, http.StatusNotFound, "not_found"},
	{storage.ErrConflict, http.StatusConflict, "conflict"},
	{storage.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{storage.ErrClosed, http.StatusServiceUnavailable, "unavailable"},

	// the request's own context
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout"},
	{context.Canceled, http.StatusServiceUnavailable, "cancelled"},
}

// errorBody is the JSON error of the v1 protocol.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, when one is.
	Field string `json:"field,omitempty"`
	// RemainingTries is set on wrong_pin.
	RemainingTries *int `json:"remaining_tries,omitempty"`
	// RetryAfterSeconds is set on pin_locked and rate_limited.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// Reason is set on operation_failed and wrong_code: the failure reason
	// the session records (e.g. decryption_failed).
	Reason string `json:"reason,omitempty"`
}

// lookupError finds err's row in errorTable.
func lookupError(err error) (status int, code string, ok bool) {
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			return m.status, m.code, true
		}
	}
	return http.StatusInternalServerError, CodeInternal, false
}

// writeError answers err: its status, stable code and message. Errors the
// table does not know are logged and answered with 500 "internal" and a
// message that tells nothing about them; known 5xx errors (store down,
// timeout) are logged and answered with their code and a generic message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, ok := lookupError(err)
	d := errorDetail{Code: code, Message: err.Error()}
	if !ok {
		a.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		d.Message = "internal server error"
	} else if status >= 500 {
		// The cause may name files or hosts: log it, tell only the code.
		a.log.WarnContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
		d.Message = "the service is temporarily unavailable, try again"
	}
	var fe *FieldError
	var re *ca.RequestError
	var pe *ca.PINError
	var ue *unknownFieldError
	var oe *session.OpError
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		secs := RetryAfterSeconds(rl.RetryAfter)
		d.RetryAfterSeconds = secs
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	case errors.As(err, &oe):
		d.Reason = oe.Reason
	case errors.As(err, &ue):
		d.Field = ue.field
	case errors.As(err, &fe):
		d.Field = fe.Field
	case errors.As(err, &re):
		d.Field = re.Field
	case errors.As(err, &pe):
		if pe.Locked {
			secs := int(pe.RetryAfter.Seconds() + 0.999)
			d.RetryAfterSeconds = secs
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		} else {
			n := pe.Remaining
			d.RemainingTries = &n
		}
	}
	if errors.Is(err, auth.ErrMissingToken) || errors.Is(err, auth.ErrInvalidToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ukeygate"`)
	}
	a.errors.WithLabelValues(code).Inc()
	writeJSON(w, status, errorBody{Error: d})
}

// logger returns l, or a logger that discards everything.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// RateLimitError is a refusal of a spent budget: Limit names it
// ("address", "app", "device", "enroll"), RetryAfter is when one more
// request would be allowed.
type RateLimitError struct {
	Limit      string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: the %s budget is spent; retry in %d s", ErrRateLimited, e.Limit, RetryAfterSeconds(e.RetryAfter))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// RetryAfterSeconds is d rounded up to whole seconds, at least 1 (the
// Retry-After header's unit).
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
