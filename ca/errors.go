package ca

import (
	"errors"
	"fmt"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// Sentinel errors of package ca, checked with errors.Is. Each bad-input case
// has its own sentinel so that the HTTP layer can map it to a stable code;
// the message may carry more detail through %w wrapping.
var (
	// ErrInvalidRequest: a field of a request is missing, too long or out of
	// range. The error is a *RequestError naming the field.
	ErrInvalidRequest = protocol.ErrInvalidRequest
	// ErrInvalidConfig: Config.Validate or New refused the configuration or
	// the master key.
	ErrInvalidConfig = errors.New("ca: invalid configuration")
	// ErrConflict: the records changed under a call more times than it
	// retries; nothing was written and the call may be repeated.
	ErrConflict = errors.New("ca: concurrent update, try again")

	// ErrIssuerNotFound: no issuer is registered under that id.
	ErrIssuerNotFound = errors.New("ca: unknown issuer")
	// ErrIssuerExists: an issuer is already registered under that id.
	ErrIssuerExists = errors.New("ca: issuer already exists")
	// ErrIssuerDuplicate: another issuer is already registered with the
	// same CA certificate subject and public key (the same CA under two
	// ids would split its revocation records and serial index).
	ErrIssuerDuplicate = errors.New("ca: an issuer with the same subject and key is already registered")
	// ErrIssuerExternal: the operation needs the issuer's key (issuing a
	// certificate, an intermediate or a CRL) but the issuer is external.
	ErrIssuerExternal = errors.New("ca: issuer is external")
	// ErrAlgNotAllowed: the algorithm or RSA key size is not allowed by the
	// issuer's profile.
	ErrAlgNotAllowed = errors.New("ca: algorithm not allowed by the issuer profile")
	// ErrPurposeNotAllowed: the purpose (sign, encrypt) is unknown or not
	// allowed by the issuer's profile.
	ErrPurposeNotAllowed = errors.New("ca: purpose not allowed by the issuer profile")
	// ErrMalformedPEM: a PEM certificate, chain, key or public key could not
	// be parsed. It wraps gmcrypto.ErrMalformed as well.
	ErrMalformedPEM = errors.New("ca: malformed PEM")
	// ErrCertificateMismatch: a certificate's public key is not the key it
	// is imported for (a pending credential's key, an imported CA key).
	ErrCertificateMismatch = errors.New("ca: certificate does not match the key")
	// ErrCertificateChain: a certificate is not issued (signed) by the
	// issuer it is imported for.
	ErrCertificateChain = errors.New("ca: certificate does not chain to the issuer")

	// ErrUserNotFound: no user under that id.
	ErrUserNotFound = errors.New("ca: user not found")
	// ErrDeviceNotFound: no device under that id.
	ErrDeviceNotFound = errors.New("ca: device not found")
	// ErrNotEnrolled: the user has no device and no PIN yet.
	ErrNotEnrolled = errors.New("ca: user has not enrolled")
	// ErrActivationInvalid: the activation code is unknown or mistyped.
	ErrActivationInvalid = errors.New("ca: invalid activation code")
	// ErrActivationUsed: the activation code has already been used.
	ErrActivationUsed = errors.New("ca: activation code already used")
	// ErrActivationExpired: the activation code is past its expiry.
	ErrActivationExpired = errors.New("ca: activation code expired")
	// ErrDeviceKey: the device public key is neither an SM2 nor an ECDSA
	// P-256 key.
	ErrDeviceKey = errors.New("ca: device key must be an SM2 or P-256 public key")
	// ErrDeviceAlreadyRevoked: the device is already revoked.
	ErrDeviceAlreadyRevoked = errors.New("ca: device already revoked")

	// ErrWeakPIN: the new PIN does not follow the PIN policy (6 to 12
	// digits, not all the same digit, not a run like 123456 or 654321).
	ErrWeakPIN = errors.New("ca: PIN does not meet the policy")
	// ErrWrongPIN: the PIN is wrong. The error is a *PINError telling how
	// many tries remain before the lock.
	ErrWrongPIN = errors.New("ca: wrong PIN")
	// ErrPINLocked: too many wrong PINs in a row; the user's keys are locked
	// for a while. The error is a *PINError telling RetryAfter.
	ErrPINLocked = errors.New("ca: PIN locked after too many wrong tries")

	// ErrCredentialExists: the user already holds an active or pending
	// credential for that issuer, algorithm and purpose.
	ErrCredentialExists = errors.New("ca: credential already exists")
	// ErrCredentialLimit: the user holds as many credentials as a PIN change
	// can re-wrap in one transaction.
	ErrCredentialLimit = errors.New("ca: too many credentials for this user")
	// ErrCredentialNotFound: no credential under that id (or not the
	// caller's).
	ErrCredentialNotFound = errors.New("ca: credential not found")
	// ErrCredentialNotActive: the credential is pending, revoked or expired
	// and cannot be used.
	ErrCredentialNotActive = errors.New("ca: credential not active")
	// ErrCredentialNotPending: a certificate is imported for a credential
	// that is not waiting for one.
	ErrCredentialNotPending = errors.New("ca: credential is not pending")
	// ErrNewKeyNotAllowed: a renewal asked for a new key pair but the
	// issuer's profile renews with the same key (renewal_key same).
	ErrNewKeyNotAllowed = errors.New("ca: the issuer's profile does not allow a new key at renewal")
	// ErrRenewalPending: the credential's renewal at an external issuer
	// still waits for its certificate.
	ErrRenewalPending = errors.New("ca: a renewal of this credential waits for its certificate")
	// ErrAlreadyRevoked: the credential is already revoked.
	ErrAlreadyRevoked = errors.New("ca: credential already revoked")
	// ErrInvalidReason: the revocation reason is not one of the RFC 5280
	// reason names this CA accepts (see Reasons()).
	ErrInvalidReason = errors.New("ca: invalid revocation reason")

	// ErrNotOrganization: a delegation was asked of a user who is not an
	// organisation, or for a delegate who is one.
	ErrNotOrganization = errors.New("ca: not an organisation")
	// ErrDelegationNotFound: no delegation under that id (or not the
	// caller's).
	ErrDelegationNotFound = errors.New("ca: delegation not found")
	// ErrDelegationRevoked: the delegation has been revoked.
	ErrDelegationRevoked = errors.New("ca: delegation revoked")
	// ErrDelegationExpired: the delegation is past its not_after.
	ErrDelegationExpired = errors.New("ca: delegation expired")
	// ErrDelegationNotActive: the delegation waits for the delegate's
	// acceptance or the organisation's approval.
	ErrDelegationNotActive = errors.New("ca: delegation not active yet")
	// ErrDelegationState: an acceptance or approval out of turn (already
	// done, or approval before acceptance).
	ErrDelegationState = errors.New("ca: delegation is not in the state this step needs")

	// ErrSealNotFound: no seal under that id (or not the caller's).
	ErrSealNotFound = errors.New("ca: seal not found")
	// ErrSealNotActive: the seal is revoked, expired or not yet valid.
	ErrSealNotActive = errors.New("ca: seal not active")
	// ErrSealAlreadyRevoked: the seal is already revoked.
	ErrSealAlreadyRevoked = errors.New("ca: seal already revoked")
	// ErrSealLimit: the owner already holds MaxSealsPerUser active seals.
	ErrSealLimit = errors.New("ca: too many active seals")
	// ErrSealCurrent: ReissueSeal found nothing to change (the seal is not
	// active, or none of its signer certificates was renewed).
	ErrSealCurrent = errors.New("ca: seal is current")

	// ErrUntrusted: the certificate does not chain to a registered issuer
	// (unknown issuer, bad signature, broken chain, unhandled critical
	// extension).
	ErrUntrusted = errors.New("ca: certificate not trusted")
	// ErrCertificateExpired: the certificate, or one above it in the chain,
	// is outside its validity period at the time asked.
	ErrCertificateExpired = errors.New("ca: certificate expired or not yet valid")
	// ErrCertificateRevoked: the certificate has been revoked.
	ErrCertificateRevoked = errors.New("ca: certificate revoked")
	// ErrKeyUsage: the certificate's key usage does not allow the use asked
	// (or the purpose of the credential it is imported for).
	ErrKeyUsage = errors.New("ca: certificate key usage does not allow this use")
	// ErrTooManyCertificates: Verify was given more intermediates than
	// MaxIntermediates (or a CMS more certificates or signers than the API
	// accepts); refused before any signature is checked.
	ErrTooManyCertificates = errors.New("ca: too many certificates")
	// ErrEscrowExists: the escrow key is already initialized (InitEscrow
	// runs once per deployment).
	ErrEscrowExists = errors.New("ca: escrow key already initialized")
	// ErrEscrowNotInitialized: escrow is asked for (a profile with escrow,
	// a recovery) but no escrow key was initialized.
	ErrEscrowNotInitialized = errors.New("ca: escrow key not initialized")
	// ErrEscrowCosign: a cosign credential cannot be escrowed (the gateway
	// never holds its key), and its issuer's profile asks for escrow.
	ErrEscrowCosign = errors.New("ca: a cosign credential cannot be escrowed")
	// ErrNothingToRecover: no escrowed key of the user waits for recovery
	// (or no recovered key waits for the user's PIN).
	ErrNothingToRecover = errors.New("ca: nothing to recover")
	// ErrAwaitingRecovery: the credential's key waits for escrow recovery
	// after a PIN reset and cannot be used yet.
	ErrAwaitingRecovery = errors.New("ca: credential waits for key recovery")
	// ErrRecoveryNotFound: no recovery request under that id.
	ErrRecoveryNotFound = errors.New("ca: recovery not found")
	// ErrRecoveryExpired: the recovery request is past its expiry.
	ErrRecoveryExpired = errors.New("ca: recovery request expired")
	// ErrRecoveryClosed: the recovery request has already recovered its
	// keys.
	ErrRecoveryClosed = errors.New("ca: recovery request already completed")
	// ErrSharesPending: keeping this custodian's share pending would give
	// the escrow key's threshold of distinct custodians a share waiting in
	// the store (escrowpending.go); approve one of the open requests
	// instead, or wait until they complete or expire.
	ErrSharesPending = errors.New("ca: too many custodians have a pending share of this escrow key")
	// ErrRotationNotFound: no escrow key rotation under that id.
	ErrRotationNotFound = errors.New("ca: escrow rotation not found")
	// ErrRotationExpired: the rotation is past its expiry without having
	// switched the key.
	ErrRotationExpired = errors.New("ca: escrow rotation expired")
	// ErrRotationClosed: the rotation is done, or the escrow key it was
	// to replace is no longer the current one.
	ErrRotationClosed = errors.New("ca: escrow rotation closed")
	// ErrRotationPending: another rotation is open or still moving
	// escrow copies; it must finish or expire first.
	ErrRotationPending = errors.New("ca: another escrow rotation is pending")
	// ErrRotationUnconfirmed: an approval of an open rotation before every
	// custodian of the new key has confirmed their new share file
	// (ConfirmRotation).
	ErrRotationUnconfirmed = errors.New("ca: escrow rotation not confirmed by every new custodian")
	// ErrRotationNotMoving: only a moving rotation (the key switched, the
	// move stopped half-way) can be abandoned; an open one is canceled.
	ErrRotationNotMoving = errors.New("ca: escrow rotation is not moving")
	// ErrRotationMoveIncomplete: the approval switched the escrow key (or
	// approved a moving rotation again) but the move of the escrow copies
	// stopped (the store failed, the node stopped): the rotation stays
	// moving, and approving it again moves the rest. It wraps the cause.
	ErrRotationMoveIncomplete = errors.New("ca: escrow rotation's move stopped")
	// ErrCustodianForbidden: the operator is not a custodian of the
	// escrow key, or is the one who opened the recovery or the rotation
	// (dual control).
	ErrCustodianForbidden = errors.New("ca: operator may not approve this request")
	// ErrShareDuplicate: this custodian's share is already in.
	ErrShareDuplicate = errors.New("ca: custodian already approved this request")
	// ErrShareInvalid: the share file is malformed, another custodian's or
	// another escrow key's, altered, or its passphrase is wrong.
	ErrShareInvalid = errors.New("ca: invalid escrow share")

	// ErrNoEncryptionCredential: Encrypt found no active encryption
	// credential of the user (at the issuer, for the algorithm asked).
	ErrNoEncryptionCredential = errors.New("ca: user has no active encryption credential")
	// ErrNoSigningCredential: CreateSeal found no active signing
	// credential with a certificate to bind the seal to.
	ErrNoSigningCredential = errors.New("ca: user has no active signing credential")
)

// RequestError tells which field of a request is wrong and why
// (protocol.FieldError, the gateway's one field error). It wraps
// ErrInvalidRequest unless its Err says otherwise.
type RequestError = protocol.FieldError

func invalid(field, format string, args ...any) error {
	return &RequestError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// PINError is the error of a wrong or locked PIN. It wraps ErrWrongPIN or
// ErrPINLocked.
type PINError struct {
	// Locked is true when the PIN is locked (the error wraps ErrPINLocked).
	Locked bool
	// Remaining is how many wrong tries are left before the lock (0 when
	// Locked).
	Remaining int
	// RetryAfter is how long the lock still lasts (0 unless Locked).
	RetryAfter time.Duration
}

func (e *PINError) Error() string {
	if e.Locked {
		return fmt.Sprintf("%v: retry after %s", ErrPINLocked, e.RetryAfter.Round(time.Second))
	}
	return fmt.Sprintf("%v: %d tries left", ErrWrongPIN, e.Remaining)
}

// Unwrap returns ErrPINLocked or ErrWrongPIN.
func (e *PINError) Unwrap() error {
	if e.Locked {
		return ErrPINLocked
	}
	return ErrWrongPIN
}

// ReenrollError is Enroll's refusal of the PIN given to enroll one more
// device for a user who has enrolled before: the PIN must be the current
// one. It names the user (for the audit log) and wraps the *PINError, so
// errors.Is(err, ErrWrongPIN) / ErrPINLocked and errors.As(err, &pinErr)
// hold.
type ReenrollError struct {
	// UserID is the user the activation code belongs to.
	UserID string
	// Err is the *PINError.
	Err error
}

func (e *ReenrollError) Error() string { return e.Err.Error() }

// Unwrap returns the *PINError.
func (e *ReenrollError) Unwrap() error { return e.Err }

// malformed wraps both ErrMalformedPEM and the cause (usually
// gmcrypto.ErrMalformed) so that either matches errors.Is.
func malformed(what string, cause error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformedPEM, what, cause)
}
