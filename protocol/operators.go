package protocol

import "time"

// Named operators (docs/protocol.md, "Named operators"). The admin token
// is the bootstrap operator "admin"; it adds named operators, each with a
// token of its own.

// OperatorRequest is the body of POST /v1/admin/operators.
type OperatorRequest struct {
	Name string `json:"name"`
}

// Operator is a named operator. Token is set only in the answer of
// POST /v1/admin/operators: it is shown once and stored as its hash.
type Operator struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Token     string    `json:"token,omitempty"`
}

// OperatorList answers GET /v1/admin/operators (named operators only;
// the bootstrap "admin" is not stored).
type OperatorList struct {
	Operators []Operator `json:"operators"`
}

// Error codes of named operators.
const (
	CodeInvalidOperator   = "invalid_operator"
	CodeOperatorExists    = "operator_exists"
	CodeOperatorNotFound  = "operator_not_found"
	CodeOperatorForbidden = "operator_forbidden"
)

// RenewRequest is the body of POST /v1/me/credentials/{id}/renew.
type RenewRequest struct {
	PIN string `json:"pin"`
	// NewKey asks for a new key pair of the same algorithm and size; the
	// issuer's profile must allow it (renewal_key "either"; "new" makes a
	// new key anyway; "same" answers new_key_not_allowed).
	NewKey bool `json:"new_key,omitempty"`
}

// Renewed answers POST /v1/me/credentials/{id}/renew.
type Renewed struct {
	Credential Credential `json:"credential"`
}

// Error codes of renewal.
const (
	// CodeNewKeyNotAllowed: new_key asked of an issuer whose profile
	// renews with the same key.
	CodeNewKeyNotAllowed = "new_key_not_allowed"
	// CodeRenewalPending: the credential's renewal at an external issuer
	// waits for its certificate.
	CodeRenewalPending = "renewal_pending"
)
