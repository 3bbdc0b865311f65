package protocol

import "time"

// Key escrow and forgotten PINs (docs/protocol.md, "Key escrow and
// forgotten PINs").

// EscrowCustodianRequest names a custodian of the escrow key (a named
// operator) and the passphrase their share file is sealed under.
type EscrowCustodianRequest struct {
	Name       string `json:"name"`
	Passphrase string `json:"passphrase"`
}

// EscrowInitRequest is the body of POST /v1/admin/escrow (admin only).
type EscrowInitRequest struct {
	Custodians []EscrowCustodianRequest `json:"custodians"`
	// Threshold of distinct custodians a recovery needs (default 2).
	Threshold int `json:"threshold,omitempty"`
	// Iterations of the share files' PBKDF2-SM3 (default 200000).
	Iterations int `json:"iterations,omitempty"`
}

// EscrowCustodian is a custodian as the escrow key records it.
type EscrowCustodian struct {
	Name        string `json:"name"`
	Index       int    `json:"index"`
	Fingerprint string `json:"fingerprint"`
}

// Escrow is the deployment's escrow key (GET /v1/admin/escrow).
type Escrow struct {
	ID           string            `json:"id"`
	PublicKeyPEM string            `json:"public_key_pem"`
	Threshold    int               `json:"threshold"`
	Custodians   []EscrowCustodian `json:"custodians"`
	CreatedAt    time.Time         `json:"created_at"`
	CreatedBy    string            `json:"created_by"`
}

// EscrowDetail answers GET /v1/admin/escrow: the escrow key, and the
// keys rotations replaced (Retired, newest first; v1.1, an added field).
type EscrowDetail struct {
	Escrow
	Retired []RetiredEscrow `json:"retired"`
}

// RetiredEscrow is an escrow key a rotation replaced: its public key and
// custodians, for the record (once the rotation is rotated, its share
// files open nothing the store still holds).
type RetiredEscrow struct {
	Escrow
	RetiredAt    time.Time `json:"retired_at"`
	SupersededBy string    `json:"superseded_by"`
	Rotation     string    `json:"rotation"`
	// Stranded (added): the credentials (at most 1000, sorted) whose
	// escrow copy is still under this retired key, so that the current
	// custodians cannot recover them; StrandedCount how many in all. Such
	// a copy moves to the current key the next time its owner's PIN
	// unlocks the key.
	Stranded      []string `json:"stranded"`
	StrandedCount int      `json:"stranded_count"`
}

// EscrowShare is one share file, in the answers of POST /v1/admin/escrow
// and POST /v1/admin/escrow/rotations only: hand it to its custodian; the
// gateway keeps no copy.
type EscrowShare struct {
	Custodian string `json:"custodian"`
	Index     int    `json:"index"`
	File      string `json:"file"`
}

// EscrowCreated answers POST /v1/admin/escrow.
type EscrowCreated struct {
	Escrow Escrow        `json:"escrow"`
	Shares []EscrowShare `json:"shares"`
}

// RecoveryRequest is the body of POST /v1/admin/escrow/recoveries.
type RecoveryRequest struct {
	User string `json:"user"`
	// Credentials to recover; empty: every escrowed credential of the
	// user waiting for recovery.
	Credentials []string `json:"credentials,omitempty"`
	Reason      string   `json:"reason"`
	// TTL of the request, a Go duration ("24h"); default 24h, at most
	// 168h.
	TTL string `json:"ttl,omitempty"`
}

// ShareRequest is the body of POST /v1/admin/escrow/recoveries/{id}/shares:
// the custodian's share file and its passphrase.
type ShareRequest struct {
	Share      string `json:"share"`
	Passphrase string `json:"passphrase"`
}

// RecoveryApproval is one custodian's accepted share.
type RecoveryApproval struct {
	Custodian string    `json:"custodian"`
	At        time.Time `json:"at"`
}

// Recovery is a recovery request. State is open, recovered or expired.
type Recovery struct {
	ID          string             `json:"id"`
	Escrow      string             `json:"escrow"`
	User        string             `json:"user"`
	Credentials []string           `json:"credentials"`
	Reason      string             `json:"reason"`
	RequestedBy string             `json:"requested_by"`
	Threshold   int                `json:"threshold"`
	Approvals   []RecoveryApproval `json:"approvals"`
	State       string             `json:"state"`
	CreatedAt   time.Time          `json:"created_at"`
	ExpiresAt   time.Time          `json:"expires_at"`
	CompletedAt time.Time          `json:"completed_at,omitzero"`
}

// RecoveryList answers GET /v1/admin/escrow/recoveries.
type RecoveryList struct {
	Recoveries []Recovery `json:"recoveries"`
}

// EscrowRotationRequest is the body of POST /v1/admin/escrow/rotations
// (admin only): the ceremony of the NEW escrow key, as EscrowInitRequest,
// with the reason (recorded) and how long the rotation waits for the
// approvals of the current key's custodians.
type EscrowRotationRequest struct {
	Custodians []EscrowCustodianRequest `json:"custodians"`
	// Threshold of the new key (default 2).
	Threshold int `json:"threshold,omitempty"`
	// Iterations of the new share files' PBKDF2-SM3 (default 200000).
	Iterations int    `json:"iterations,omitempty"`
	Reason     string `json:"reason"`
	// TTL of the request, a Go duration ("24h"); default 24h, at most
	// 168h.
	TTL string `json:"ttl,omitempty"`
}

// EscrowRotation is a rotation of the escrow key. State is open, moving
// (the key has switched, escrow copies are being re-encrypted; one that
// stays moving is approved again), rotated, expired or canceled. Threshold and
// Approvals are those of the key being replaced (From): Approvals are the
// current round's, Approved those that switched the key.
type EscrowRotation struct {
	ID          string             `json:"id"`
	From        string             `json:"from"`
	Next        Escrow             `json:"next"`
	Reason      string             `json:"reason"`
	RequestedBy string             `json:"requested_by"`
	Threshold   int                `json:"threshold"`
	Approvals   []RecoveryApproval `json:"approvals"`
	Approved    []RecoveryApproval `json:"approved"`
	State       string             `json:"state"`
	CreatedAt   time.Time          `json:"created_at"`
	ExpiresAt   time.Time          `json:"expires_at"`
	SwitchedAt  time.Time          `json:"switched_at,omitzero"`
	CompletedAt time.Time          `json:"completed_at,omitzero"`
	CanceledAt  time.Time          `json:"canceled_at,omitzero"`
	CanceledBy  string             `json:"canceled_by,omitempty"`
	// Moved counts the escrow copies re-encrypted to the new key so far.
	Moved int `json:"moved"`
	// Unopened lists the credentials whose escrow copy did not open under
	// the old key (damaged before the rotation): left as they were.
	Unopened []string `json:"unopened,omitempty"`
	// Confirmations (added): the new key's custodians who proved their
	// new share file opens (POST …/{id}/confirmations); Unconfirmed those
	// who have not yet. Approvals are refused (rotation_unconfirmed)
	// until Unconfirmed is empty.
	Confirmations []RotationConfirmation `json:"confirmations"`
	Unconfirmed   []string               `json:"unconfirmed"`
	// Abandoned (added; state abandoned): who ended the moving rotation,
	// when and why, and the credentials (at most 1000; StrandedCount in
	// all) whose escrow copy stayed under the retired key.
	AbandonedAt   time.Time `json:"abandoned_at,omitzero"`
	AbandonedBy   string    `json:"abandoned_by,omitempty"`
	AbandonReason string    `json:"abandon_reason,omitempty"`
	Stranded      []string  `json:"stranded,omitempty"`
	StrandedCount int       `json:"stranded_count,omitempty"`
}

// RotationConfirmation is a new custodian's confirmation of their new
// share file (never the share).
type RotationConfirmation struct {
	Custodian string    `json:"custodian"`
	At        time.Time `json:"at"`
}

// RotationAbandonRequest is the body of POST
// /v1/admin/escrow/rotations/{id}/abandon.
type RotationAbandonRequest struct {
	Reason string `json:"reason"`
}

// EscrowRotationCreated answers POST /v1/admin/escrow/rotations: the
// rotation and the new key's share files (shown once).
type EscrowRotationCreated struct {
	Rotation EscrowRotation `json:"rotation"`
	Shares   []EscrowShare  `json:"shares"`
}

// EscrowRotationList answers GET /v1/admin/escrow/rotations.
type EscrowRotationList struct {
	Rotations []EscrowRotation `json:"rotations"`
}

// PINResetRequest is the body of POST /v1/admin/users/{id}/reset-pin.
type PINResetRequest struct {
	// Reason: how the user's identity was verified again (required).
	Reason string `json:"reason"`
}

// PINReset answers POST /v1/admin/users/{id}/reset-pin: the new
// activation code (shown once) and what the reset did. Lost lists the
// encryption credentials whose keys are lost with the old PIN (no escrow
// copy): tell the user.
type PINReset struct {
	UserActivation
	RevokedDevices   []string `json:"revoked_devices"`
	Revoked          []string `json:"revoked"`
	Reissue          int      `json:"reissue"`
	AwaitingRecovery []string `json:"awaiting_recovery"`
	Lost             []string `json:"lost"`
	Delegations      int      `json:"delegations"`
}

// MyRecoveryRequest is the body of POST /v1/me/recovery.
type MyRecoveryRequest struct {
	PIN string `json:"pin"`
}

// Recovered answers POST /v1/me/recovery: the credentials whose keys are
// now wrapped under the PIN.
type Recovered struct {
	Credentials []Credential `json:"credentials"`
}

// Error codes of key escrow, its rotation and PIN resets.
const (
	CodeEscrowExists         = "escrow_exists"
	CodeEscrowNotInitialized = "escrow_not_initialized"
	CodeNothingToRecover     = "nothing_to_recover"
	CodeAwaitingRecovery     = "awaiting_recovery"
	CodeRecoveryNotFound     = "recovery_not_found"
	CodeRecoveryExpired      = "recovery_expired"
	CodeRecoveryClosed       = "recovery_closed"
	CodeCustodianForbidden   = "custodian_forbidden"
	CodeShareDuplicate       = "share_duplicate"
	CodeShareInvalid         = "share_invalid"
	CodeRotationNotFound     = "rotation_not_found"
	CodeRotationExpired      = "rotation_expired"
	CodeRotationClosed       = "rotation_closed"
	CodeRotationPending      = "rotation_pending"
	CodeRotationUnconfirmed  = "rotation_unconfirmed"
	CodeRotationNotMoving    = "rotation_not_moving"
	// CodeRotationMoveIncomplete (503): the key switched but the move of
	// the escrow copies stopped; the rotation stays moving: approve it
	// again to move the rest.
	CodeRotationMoveIncomplete = "rotation_move_incomplete"
	CodeSharesPending          = "shares_pending"
)
