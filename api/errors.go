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
	"github.com/ukeygate/ukeygate/privacy"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/ra"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/upload"
	"github.com/ukeygate/ukeygate/webhook"
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
	ErrInvalidRequest = protocol.ErrInvalidRequest
	// ErrNotFound: no such endpoint.
	ErrNotFound = errors.New("api: no such endpoint")
	// ErrMethodNotAllowed: the endpoint exists but not for this method.
	ErrMethodNotAllowed = errors.New("api: method not allowed")
	// ErrAuditUnavailable: the API was built without an audit log.
	ErrAuditUnavailable = errors.New("api: audit log unavailable")
	// ErrBackupUnavailable: the API was built without a backup source.
	ErrBackupUnavailable = errors.New("api: backup unavailable")
	// ErrSessionsUnavailable: the API was built without a session service.
	ErrSessionsUnavailable = errors.New("api: scan sessions unavailable")
	// ErrDrawnSealsDisabled: the operator's policy forbids hand-drawn
	// signatures (seals.drawn_signatures is false).
	ErrDrawnSealsDisabled = errors.New("api: hand-drawn signatures are not allowed")
	// ErrUploadsUnavailable: the API was built without an upload store.
	ErrUploadsUnavailable = errors.New("api: uploads unavailable")
	// ErrPrivacyUnavailable: the API was built without the privacy
	// service (GET /v1/me/data, DELETE /v1/me).
	ErrPrivacyUnavailable = errors.New("api: privacy rights unavailable")
	// ErrRegistrationUnavailable: the API was built without the
	// registration authority (Deps.Registrations).
	ErrRegistrationUnavailable = errors.New("api: registration unavailable")
	// ErrOriginNotAllowed: the page origin (body field or Origin header)
	// is not one of the app's registered origins.
	ErrOriginNotAllowed = errors.New("api: origin not allowed for this app")
)

// FieldError names the request field that is wrong (protocol.FieldError,
// the one field error; ca.RequestError is the same type). It wraps
// ErrInvalidRequest unless its Err says otherwise.
type FieldError = protocol.FieldError

func invalid(field, format string, args ...any) error {
	return protocol.Invalid(field, format, args...)
}

// errorMapping is one row of the error table: errors matching err (with
// errors.Is) are answered with status and code.
type errorMapping struct {
	err    error
	status int
	code   string
}

// CodeInternal is the code of every error the table does not know.
const CodeInternal = protocol.CodeInternal

// errorTable maps every sentinel the handlers can meet to its HTTP status
// and stable code. The first match wins, so more specific errors (ca's,
// which may wrap gmcrypto's or storage's) come first. docs/openapi.yaml
// lists every code (TestOpenAPICoversErrorCodes).
var errorTable = []errorMapping{
	// api
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
	{ErrBodyTimeout, http.StatusRequestTimeout, protocol.CodeBodyTimeout},
	{ErrRateLimited, http.StatusTooManyRequests, protocol.CodeRateLimited},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType},
	{ErrMalformedJSON, http.StatusBadRequest, protocol.CodeMalformedJSON},
	{ErrUnknownField, http.StatusBadRequest, protocol.CodeUnknownField},
	{ErrInvalidRequest, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{ErrNotFound, http.StatusNotFound, protocol.CodeNotFound},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, protocol.CodeMethodNotAllowed},
	{ca.ErrNoEncryptionCredential, http.StatusNotFound, protocol.CodeNoEncryptionCredential},
	{ca.ErrNoSigningCredential, http.StatusConflict, protocol.CodeNoSigningCredential},
	{ErrAuditUnavailable, http.StatusServiceUnavailable, protocol.CodeAuditUnavailable},
	{ErrSessionsUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ErrUploadsUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ErrDrawnSealsDisabled, http.StatusForbidden, protocol.CodeDrawnSealDisabled},
	{ErrBackupUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ErrOriginNotAllowed, http.StatusForbidden, protocol.CodeOriginNotAllowed},
	{ErrWebhooksUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ErrPrivacyUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ErrRegistrationUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{ra.ErrNotFound, http.StatusNotFound, protocol.CodeRegistrationNotFound},
	{ra.ErrDecided, http.StatusConflict, protocol.CodeRegistrationDecided},
	{ra.ErrPending, http.StatusConflict, protocol.CodeRegistrationPending},
	{ra.ErrIDNumber, http.StatusBadRequest, protocol.CodeInvalidIDNumber},
	{ra.ErrCreditCode, http.StatusBadRequest, protocol.CodeInvalidCreditCode},
	{ra.ErrPolicyVersion, http.StatusBadRequest, protocol.CodePolicyVersion},
	{ra.ErrLicence, http.StatusBadRequest, protocol.CodeInvalidLicence},
	{privacy.ErrIncomplete, http.StatusServiceUnavailable, protocol.CodeDeletionIncomplete},

	// webhook
	{webhook.ErrInvalidURL, http.StatusBadRequest, protocol.CodeWebhookURL},
	{webhook.ErrTargetNotAllowed, http.StatusBadRequest, protocol.CodeWebhookTarget},
	{webhook.ErrNotFound, http.StatusNotFound, protocol.CodeWebhookNotFound},
	{webhook.ErrDeliveryNotFound, http.StatusNotFound, protocol.CodeDeliveryNotFound},
	{webhook.ErrInvalidCursor, http.StatusBadRequest, protocol.CodeInvalidCursor},
	{webhook.ErrInvalidArgument, http.StatusBadRequest, protocol.CodeInvalidRequest},

	// session (before ca and gmcrypto: a failed operation wraps their
	// errors; wrong_code before operation_failed, which it also is)
	{session.ErrNotFound, http.StatusNotFound, protocol.CodeSessionNotFound},
	{session.ErrExpired, http.StatusGone, protocol.CodeSessionExpired},
	{session.ErrAlreadyScanned, http.StatusConflict, protocol.CodeAlreadyScanned},
	{session.ErrNonceUsed, http.StatusConflict, protocol.CodeNonceUsed},
	{session.ErrNotScanned, http.StatusConflict, protocol.CodeNotScanned},
	{session.ErrSessionClosed, http.StatusConflict, protocol.CodeSessionClosed},
	{session.ErrInvalidTransition, http.StatusConflict, protocol.CodeSessionClosed},
	{session.ErrWrongDevice, http.StatusForbidden, protocol.CodeWrongDevice},
	{session.ErrWrongUser, http.StatusForbidden, protocol.CodeWrongUser},
	{session.ErrWrongCode, http.StatusForbidden, protocol.CodeWrongCode},
	{session.ErrOperationFailed, http.StatusUnprocessableEntity, protocol.CodeOperationFailed},
	{session.ErrConfirmInProgress, http.StatusConflict, protocol.CodeConfirmInProgress},
	{session.ErrCredentialMismatch, http.StatusConflict, protocol.CodeCredentialMismatch},
	{session.ErrDelegationScope, http.StatusForbidden, protocol.CodeDelegationScope},
	{session.ErrCosignNotStarted, http.StatusConflict, protocol.CodeCosignNotStarted},
	{session.ErrCosignUnsupported, http.StatusConflict, protocol.CodeCosignUnsupported},
	{session.ErrPINRequired, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{session.ErrPINNotExpected, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{cosign.ErrTranscript, http.StatusConflict, protocol.CodeCosignMismatch},
	{cosign.ErrMalformed, http.StatusBadRequest, protocol.CodeCosignMalformed},
	{cosign.ErrInvalidInput, http.StatusBadRequest, protocol.CodeCosignMalformed},
	{session.ErrSealRequired, http.StatusBadRequest, protocol.CodeSealRequired},
	{session.ErrSealMismatch, http.StatusConflict, protocol.CodeSealMismatch},
	// after operation_failed: a result too large to store fails the
	// confirm (reason result_too_large); at create it is the request,
	// or the result the request would produce
	{session.ErrResultTooLarge, http.StatusRequestEntityTooLarge, protocol.CodeResultTooLarge},
	{session.ErrTooLarge, http.StatusRequestEntityTooLarge, protocol.CodeRequestTooLarge},
	{session.ErrBadCiphertext, http.StatusBadRequest, protocol.CodeMalformedCiphertext},
	{session.ErrTTL, http.StatusBadRequest, protocol.CodeInvalidTTL},
	{session.ErrInvalidRequest, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{session.ErrInvalidArgument, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{session.ErrInvalidSeq, http.StatusBadRequest, protocol.CodeInvalidSeq},
	{session.ErrSlowWatcher, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{session.ErrClosed, http.StatusServiceUnavailable, protocol.CodeUnavailable},

	// qrlogin
	{qrlogin.ErrInvalidPayload, http.StatusBadRequest, protocol.CodeInvalidPayload},
	{qrlogin.ErrSize, http.StatusBadRequest, protocol.CodeInvalidSize},

	// audit
	{audit.ErrTampered, http.StatusConflict, protocol.CodeAuditTampered},
	{audit.ErrNothingToExport, http.StatusConflict, protocol.CodeAuditNothingToExport},
	{audit.ErrAnchor, http.StatusConflict, protocol.CodeAuditAnchorRefused},

	// auth
	{auth.ErrAdminDisabled, http.StatusForbidden, protocol.CodeAdminDisabled},
	{auth.ErrMissingToken, http.StatusUnauthorized, protocol.CodeMissingToken},
	{auth.ErrInvalidToken, http.StatusUnauthorized, protocol.CodeInvalidToken},
	{auth.ErrInvalidOperator, http.StatusBadRequest, protocol.CodeInvalidOperator},
	{auth.ErrOperatorExists, http.StatusConflict, protocol.CodeOperatorExists},
	{auth.ErrOperatorNotFound, http.StatusNotFound, protocol.CodeOperatorNotFound},
	{auth.ErrOperatorForbidden, http.StatusForbidden, protocol.CodeOperatorForbidden},
	{auth.ErrInvalidApp, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{auth.ErrInvalidOrigin, http.StatusBadRequest, protocol.CodeInvalidOrigin},
	{auth.ErrAppNotFound, http.StatusNotFound, protocol.CodeAppNotFound},
	{auth.ErrAppDisabled, http.StatusForbidden, protocol.CodeAppDisabled},
	{auth.ErrAppAlreadyDisabled, http.StatusConflict, protocol.CodeAlreadyDisabled},
	{auth.ErrMissingHeaders, http.StatusUnauthorized, protocol.CodeMissingDeviceHeaders},
	{auth.ErrMalformedHeaders, http.StatusUnauthorized, protocol.CodeMalformedDeviceHeaders},
	{auth.ErrDeviceUnknown, http.StatusUnauthorized, protocol.CodeUnknownDevice},
	{auth.ErrDeviceRevoked, http.StatusForbidden, protocol.CodeDeviceRevoked},
	{auth.ErrBadSignature, http.StatusUnauthorized, protocol.CodeBadSignature},
	{auth.ErrStaleTimestamp, http.StatusUnauthorized, protocol.CodeStaleTimestamp},
	{auth.ErrReplayedNonce, http.StatusUnauthorized, protocol.CodeReplayedNonce},

	// ca
	{ca.ErrInvalidRequest, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{ca.ErrConflict, http.StatusConflict, protocol.CodeConflict},
	{ca.ErrEscrowExists, http.StatusConflict, protocol.CodeEscrowExists},
	{ca.ErrEscrowNotInitialized, http.StatusConflict, protocol.CodeEscrowNotInitialized},
	{ca.ErrEscrowCosign, http.StatusConflict, protocol.CodeCosignUnsupported},
	{ca.ErrNothingToRecover, http.StatusConflict, protocol.CodeNothingToRecover},
	{ca.ErrAwaitingRecovery, http.StatusConflict, protocol.CodeAwaitingRecovery},
	{ca.ErrRecoveryNotFound, http.StatusNotFound, protocol.CodeRecoveryNotFound},
	{ca.ErrRecoveryExpired, http.StatusGone, protocol.CodeRecoveryExpired},
	{ca.ErrRecoveryClosed, http.StatusConflict, protocol.CodeRecoveryClosed},
	{ca.ErrRotationNotFound, http.StatusNotFound, protocol.CodeRotationNotFound},
	{ca.ErrRotationExpired, http.StatusGone, protocol.CodeRotationExpired},
	{ca.ErrRotationClosed, http.StatusConflict, protocol.CodeRotationClosed},
	{ca.ErrRotationPending, http.StatusConflict, protocol.CodeRotationPending},
	{ca.ErrRotationUnconfirmed, http.StatusConflict, protocol.CodeRotationUnconfirmed},
	{ca.ErrRotationNotMoving, http.StatusConflict, protocol.CodeRotationNotMoving},
	// Before storage's errors: the move's cause is one of them.
	{ca.ErrRotationMoveIncomplete, http.StatusServiceUnavailable, protocol.CodeRotationMoveIncomplete},
	{ca.ErrSharesPending, http.StatusConflict, protocol.CodeSharesPending},
	{ca.ErrCustodianForbidden, http.StatusForbidden, protocol.CodeCustodianForbidden},
	{ca.ErrShareDuplicate, http.StatusConflict, protocol.CodeShareDuplicate},
	{ca.ErrShareInvalid, http.StatusBadRequest, protocol.CodeShareInvalid},
	{ca.ErrIssuerNotFound, http.StatusNotFound, protocol.CodeUnknownIssuer},
	{ca.ErrIssuerExists, http.StatusConflict, protocol.CodeIssuerExists},
	{ca.ErrIssuerDuplicate, http.StatusConflict, protocol.CodeIssuerDuplicate},
	{ca.ErrIssuerExternal, http.StatusConflict, protocol.CodeIssuerExternal},
	{ca.ErrNotCosign, http.StatusConflict, protocol.CodeCosignUnsupported},
	{ca.ErrIsCosign, http.StatusConflict, protocol.CodeCosignUnsupported},
	{ca.ErrAlgNotAllowed, http.StatusBadRequest, protocol.CodeAlgNotAllowed},
	{ca.ErrPurposeNotAllowed, http.StatusBadRequest, protocol.CodePurposeNotAllowed},
	{ca.ErrMalformedPEM, http.StatusBadRequest, protocol.CodeMalformedPEM},
	{ca.ErrCertificateMismatch, http.StatusBadRequest, protocol.CodeCertificateMismatch},
	{ca.ErrCertificateChain, http.StatusBadRequest, protocol.CodeCertificateChain},
	{ca.ErrUserNotFound, http.StatusNotFound, protocol.CodeUserNotFound},
	{ca.ErrNotOrganization, http.StatusConflict, protocol.CodeNotOrganization},
	{ca.ErrDelegationNotFound, http.StatusNotFound, protocol.CodeDelegationNotFound},
	{ca.ErrDelegationRevoked, http.StatusConflict, protocol.CodeDelegationRevoked},
	{ca.ErrDelegationExpired, http.StatusConflict, protocol.CodeDelegationExpired},
	{ca.ErrDelegationNotActive, http.StatusConflict, protocol.CodeDelegationNotActive},
	{ca.ErrDelegationState, http.StatusConflict, protocol.CodeDelegationState},
	{ca.ErrDeviceNotFound, http.StatusNotFound, protocol.CodeDeviceNotFound},
	{ca.ErrNotEnrolled, http.StatusConflict, protocol.CodeNotEnrolled},
	{ca.ErrActivationInvalid, http.StatusBadRequest, protocol.CodeActivationInvalid},
	{ca.ErrActivationUsed, http.StatusGone, protocol.CodeActivationUsed},
	{ca.ErrActivationExpired, http.StatusGone, protocol.CodeActivationExpired},
	{ca.ErrDeviceKey, http.StatusBadRequest, protocol.CodeInvalidDeviceKey},
	{ca.ErrDeviceAlreadyRevoked, http.StatusConflict, protocol.CodeAlreadyRevoked},
	{ca.ErrWeakPIN, http.StatusBadRequest, protocol.CodeWeakPIN},
	{ca.ErrWrongPIN, http.StatusForbidden, protocol.CodeWrongPIN},
	{ca.ErrPINLocked, http.StatusLocked, protocol.CodePINLocked},
	{ca.ErrCredentialExists, http.StatusConflict, protocol.CodeCredentialExists},
	{ca.ErrCredentialLimit, http.StatusConflict, protocol.CodeCredentialLimit},
	{ca.ErrCredentialNotFound, http.StatusNotFound, protocol.CodeCredentialNotFound},
	{ca.ErrCredentialNotActive, http.StatusConflict, protocol.CodeCredentialNotActive},
	{ca.ErrCredentialNotPending, http.StatusConflict, protocol.CodeCredentialNotPending},
	{ca.ErrNewKeyNotAllowed, http.StatusConflict, protocol.CodeNewKeyNotAllowed},
	{ca.ErrRenewalPending, http.StatusConflict, protocol.CodeRenewalPending},
	{ca.ErrAlreadyRevoked, http.StatusConflict, protocol.CodeAlreadyRevoked},
	{ca.ErrInvalidReason, http.StatusBadRequest, protocol.CodeInvalidReason},
	{ca.ErrUntrusted, http.StatusBadRequest, protocol.CodeCertificateUntrusted},
	{ca.ErrCertificateExpired, http.StatusBadRequest, protocol.CodeCertificateExpired},
	{ca.ErrCertificateRevoked, http.StatusBadRequest, protocol.CodeCertificateRevoked},
	{ca.ErrKeyUsage, http.StatusBadRequest, protocol.CodeKeyUsage},
	{ca.ErrTooManyCertificates, http.StatusBadRequest, protocol.CodeTooManyCertificates},
	{ca.ErrSealNotFound, http.StatusNotFound, protocol.CodeSealNotFound},
	{ca.ErrSealNotActive, http.StatusConflict, protocol.CodeSealNotActive},
	{ca.ErrSealAlreadyRevoked, http.StatusConflict, protocol.CodeAlreadyRevoked},
	{ca.ErrSealLimit, http.StatusConflict, protocol.CodeSealLimit},

	// seal
	{seal.ErrBadImage, http.StatusBadRequest, protocol.CodeBadSealImage},
	{seal.ErrBadSeal, http.StatusBadRequest, protocol.CodeInvalidRequest},
	{seal.ErrBadPDF, http.StatusBadRequest, protocol.CodeBadPDF},
	{seal.ErrBadPlacement, http.StatusBadRequest, protocol.CodeBadPlacement},
	{seal.ErrKeywordNotFound, http.StatusBadRequest, protocol.CodeKeywordNotFound},
	{seal.ErrTooLarge, http.StatusRequestEntityTooLarge, protocol.CodeRequestTooLarge},
	// upload
	{upload.ErrNotFound, http.StatusNotFound, protocol.CodeUploadNotFound},
	{upload.ErrExpired, http.StatusGone, protocol.CodeUploadExpired},
	{upload.ErrUsed, http.StatusConflict, protocol.CodeUploadUsed},
	{upload.ErrTooLarge, http.StatusRequestEntityTooLarge, protocol.CodeRequestTooLarge},
	{upload.ErrEmpty, http.StatusBadRequest, protocol.CodeBadPDF},

	// gmcrypto (reached only when no ca error wraps them)
	{gmcrypto.ErrMalformed, http.StatusBadRequest, protocol.CodeMalformedInput},
	{gmcrypto.ErrUnsupported, http.StatusBadRequest, protocol.CodeUnsupportedAlgorithm},
	{gmcrypto.ErrKeyMismatch, http.StatusBadRequest, protocol.CodeKeyMismatch},
	{gmcrypto.ErrInvalidInput, http.StatusBadRequest, protocol.CodeInvalidInput},
	{gmcrypto.ErrVerification, http.StatusBadRequest, protocol.CodeVerificationFailed},
	{gmcrypto.ErrDecryption, http.StatusBadRequest, protocol.CodeDecryptionFailed},

	// storage
	{storage.ErrNotFound, http.StatusNotFound, protocol.CodeNotFound},
	{storage.ErrConflict, http.StatusConflict, protocol.CodeConflict},
	{storage.ErrUnavailable, http.StatusServiceUnavailable, protocol.CodeUnavailable},
	{storage.ErrClosed, http.StatusServiceUnavailable, protocol.CodeUnavailable},

	// the request's own context
	{context.DeadlineExceeded, http.StatusServiceUnavailable, protocol.CodeTimeout},
	{context.Canceled, http.StatusServiceUnavailable, protocol.CodeCancelled},
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
	d := protocol.ErrorBody{Code: code, Message: err.Error()}
	if !ok {
		a.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		d.Message = "internal server error"
	} else if status >= 500 {
		// The cause may name files or hosts: log it, tell only the code.
		a.log.WarnContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
		d.Message = "the service is temporarily unavailable, try again"
	}
	var fe *FieldError
	var pe *ca.PINError
	var oe *session.OpError
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		secs := RetryAfterSeconds(rl.RetryAfter)
		d.RetryAfterSeconds = secs
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	case errors.As(err, &oe):
		d.Reason = oe.Reason
	case errors.As(err, &fe):
		d.Field = fe.Field
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
	writeJSON(w, status, protocol.ErrorEnvelope{Error: d})
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
