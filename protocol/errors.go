package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Sentinel errors of package protocol, checked with errors.Is.
var (
	// ErrProtocol: an answer is not the v1 protocol (not JSON, missing
	// fields, a result of the wrong shape).
	ErrProtocol = errors.New("protocol: unexpected answer from the gateway")
	// ErrNoResult: the session or event has no result of the asked kind
	// (it did not complete, or is of another kind).
	ErrNoResult = errors.New("protocol: session has no such result")
	// ErrAssemble: a sealed PDF cannot be put together from an upload's
	// bytes and its update (other bytes than those uploaded, or a result
	// without either form).
	ErrAssemble = errors.New("protocol: the sealed PDF does not assemble")
)

// The stable error codes of the v1 protocol (ErrorBody.Code). The server
// maps every error to one of them; docs/openapi.yaml lists them all.
const (
	CodeActivationExpired = "activation_expired"
	CodeActivationInvalid = "activation_invalid"
	CodeActivationUsed    = "activation_used"
	CodeAdminDisabled     = "admin_disabled"
	CodeAlgNotAllowed     = "alg_not_allowed"
	CodeAlreadyDisabled   = "already_disabled"
	CodeAlreadyRevoked    = "already_revoked"
	CodeAlreadyScanned    = "already_scanned"
	CodeAppDisabled       = "app_disabled"
	CodeAppNotFound       = "app_not_found"
	CodeAuditTampered     = "audit_tampered"
	CodeAuditUnavailable  = "audit_unavailable"
	// CodeAuditNothingToExport: no audit entry follows the last exported
	// segment. CodeAuditAnchorRefused: an anchor handed back is not this
	// gateway's or does not follow the last archived segment.
	CodeAuditNothingToExport = "audit_nothing_to_export"
	CodeAuditAnchorRefused   = "audit_anchor_refused"
	CodeBadSignature         = "bad_signature"
	CodeBodyTimeout          = "body_timeout"
	CodeBodyTooLarge         = "body_too_large"
	CodeCancelled            = "cancelled"
	CodeCertificateChain     = "certificate_chain"
	CodeCertificateExpired   = "certificate_expired"
	CodeCertificateMismatch  = "certificate_mismatch"
	CodeCertificateRevoked   = "certificate_revoked"
	CodeCertificateUntrusted = "certificate_untrusted"
	CodeConfirmInProgress    = "confirm_in_progress"
	CodeConflict             = "conflict"
	CodeCredentialExists     = "credential_exists"
	CodeCredentialLimit      = "credential_limit"
	CodeCredentialMismatch   = "credential_mismatch"
	CodeCredentialNotActive  = "credential_not_active"
	// Delegations (docs/protocol.md, "Organisations and delegation").
	CodeNotOrganization        = "not_organization"
	CodeDelegationNotFound     = "delegation_not_found"
	CodeDelegationRevoked      = "delegation_revoked"
	CodeDelegationExpired      = "delegation_expired"
	CodeDelegationNotActive    = "delegation_not_active"
	CodeDelegationState        = "delegation_state"
	CodeDelegationScope        = "delegation_scope"
	CodeCredentialNotFound     = "credential_not_found"
	CodeCredentialNotPending   = "credential_not_pending"
	CodeDecryptionFailed       = "decryption_failed"
	CodeDeviceNotFound         = "device_not_found"
	CodeDeviceRevoked          = "device_revoked"
	CodeInternal               = "internal"
	CodeInvalidDeviceKey       = "invalid_device_key"
	CodeInvalidInput           = "invalid_input"
	CodeInvalidOrigin          = "invalid_origin"
	CodeInvalidPayload         = "invalid_payload"
	CodeInvalidReason          = "invalid_reason"
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidIDNumber        = "invalid_id_number"
	CodeInvalidCreditCode      = "invalid_credit_code"
	CodeInvalidLicence         = "invalid_licence"
	CodePolicyVersion          = "policy_version"
	CodeRegistrationNotFound   = "registration_not_found"
	CodeRegistrationDecided    = "registration_decided"
	CodeRegistrationPending    = "registration_pending"
	CodeInvalidSeq             = "invalid_seq"
	CodeInvalidSize            = "invalid_size"
	CodeInvalidToken           = "invalid_token"
	CodeInvalidTTL             = "invalid_ttl"
	CodeIssuerDuplicate        = "issuer_duplicate"
	CodeIssuerExists           = "issuer_exists"
	CodeIssuerExternal         = "issuer_external"
	CodeKeyMismatch            = "key_mismatch"
	CodeKeyUsage               = "key_usage"
	CodeMalformedCiphertext    = "malformed_ciphertext"
	CodeMalformedDeviceHeaders = "malformed_device_headers"
	CodeMalformedInput         = "malformed_input"
	CodeMalformedJSON          = "malformed_json"
	CodeMalformedPEM           = "malformed_pem"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeMissingDeviceHeaders   = "missing_device_headers"
	CodeMissingToken           = "missing_token"
	CodeNoEncryptionCredential = "no_encryption_credential"
	CodeNonceUsed              = "nonce_used"
	CodeNotEnrolled            = "not_enrolled"
	CodeNotFound               = "not_found"
	CodeNotReady               = "not_ready"
	CodeNotScanned             = "not_scanned"
	CodeOperationFailed        = "operation_failed"
	CodeOriginNotAllowed       = "origin_not_allowed"
	CodePINLocked              = "pin_locked"
	CodePurposeNotAllowed      = "purpose_not_allowed"
	CodeRateLimited            = "rate_limited"
	CodeReplayedNonce          = "replayed_nonce"
	CodeRequestTooLarge        = "request_too_large"
	CodeResultTooLarge         = "result_too_large"
	CodeSessionClosed          = "session_closed"
	CodeSessionExpired         = "session_expired"
	CodeSessionNotFound        = "session_not_found"
	CodeStaleTimestamp         = "stale_timestamp"
	CodeTimeout                = "timeout"
	CodeTooManyCertificates    = "too_many_certificates"
	CodeUnavailable            = "unavailable"
	CodeUnknownDevice          = "unknown_device"
	CodeUnknownField           = "unknown_field"
	CodeUnknownIssuer          = "unknown_issuer"
	CodeUnsupportedAlgorithm   = "unsupported_algorithm"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeUserNotFound           = "user_not_found"
	CodeVerificationFailed     = "verification_failed"
	CodeWeakPIN                = "weak_pin"
	CodeWrongCode              = "wrong_code"
	CodeWrongDevice            = "wrong_device"
	CodeWrongPIN               = "wrong_pin"
	CodeWrongUser              = "wrong_user"
	// Codes of cosign credentials and seals.
	CodeBadPDF            = "bad_pdf"
	CodeBadPlacement      = "bad_placement"
	CodeBadSealImage      = "bad_seal_image"
	CodeCosignMalformed   = "cosign_malformed"
	CodeCosignMismatch    = "cosign_mismatch"
	CodeCosignNotStarted  = "cosign_not_started"
	CodeCosignUnsupported = "cosign_unsupported"
	CodeKeywordNotFound   = "keyword_not_found"
	CodeSealMismatch      = "seal_mismatch"
	CodeSealNotActive     = "seal_not_active"
	CodeSealNotFound      = "seal_not_found"
	CodeSealRequired      = "seal_required"
	CodeSealLimit         = "seal_limit"
	CodeDrawnSealDisabled = "drawn_seal_disabled"
	// CodeNoSigningCredential: the user has no active signing credential
	// (none, or only pending, revoked or expired ones) to bind a seal to.
	CodeNoSigningCredential = "no_signing_credential"
	CodeUploadExpired       = "upload_expired"
	CodeUploadNotFound      = "upload_not_found"
	CodeUploadUsed          = "upload_used"
)

// ErrorEnvelope is the body of every error answer:
// {"error": {"code": "session_expired", "message": "…"}}.
type ErrorEnvelope struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the error object of an ErrorEnvelope.
type ErrorBody struct {
	// Code is a stable snake_case code (the Code… constants).
	Code string `json:"code"`
	// Message says what is wrong, for people.
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

// MaxErrorBytes is how much of an error answer a client reads.
const MaxErrorBytes = 64 << 10

// APIError is an error answer of the gateway as a client sees it: the HTTP
// status and the envelope's fields. Code is empty when the body was not an
// ErrorEnvelope (a proxy's error page, say); Message then holds the start
// of the body.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Field, RemainingTries, RetryAfterSeconds and Reason are the
	// envelope's optional members (see ErrorBody).
	Field             string
	RemainingTries    *int
	RetryAfterSeconds int
	Reason            string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("gateway answered HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("gateway answered HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// Temporary reports whether retrying the same request later may succeed
// (a 5xx, 408 or 429).
func (e *APIError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// ParseAPIError decodes the error answer body of status. A body that is
// not an ErrorEnvelope becomes the Message (its first 200 bytes, or the
// status text when empty), with an empty Code.
func ParseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var env ErrorEnvelope
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		b := env.Error
		e.Code, e.Message, e.Field, e.Reason = b.Code, b.Message, b.Field, b.Reason
		e.RemainingTries, e.RetryAfterSeconds = b.RemainingTries, b.RetryAfterSeconds
		return e
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e.Message = msg
	return e
}

// ReadAPIError reads the error answer resp (at most MaxErrorBytes of its
// body) into an *APIError.
func ReadAPIError(resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBytes))
	return ParseAPIError(resp.StatusCode, b)
}

// ErrorCode returns the code of the *APIError in err's chain ("" if there
// is none, or it has no code).
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// IsCode reports whether err holds an *APIError with code.
func IsCode(err error, code string) bool {
	return code != "" && ErrorCode(err) == code
}

// CodeDeletionIncomplete: DELETE /v1/me erased the account's personal
// fields and PIN but a later step failed; the gateway finishes it at its
// next start (the account is already unusable).
const CodeDeletionIncomplete = "deletion_incomplete"
