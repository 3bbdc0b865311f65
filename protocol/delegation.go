package protocol

import "time"

// Delegation (an organisation's credential used by its staff, 经办人):
// the operator grants it (POST /v1/admin/users/{org}/delegations), the
// staff member accepts it on their phone with their own PIN, the
// organisation's holder approves it on theirs with the organisation's PIN;
// then the staff member's phone offers the organisation's credential for
// the sessions it fits and confirms with the staff member's own PIN.

// Delegation states (Delegation.State).
const (
	// DelegationPendingAcceptance: granted by the operator; the delegate
	// has not accepted it yet (POST /v1/me/delegations/{id}/accept).
	DelegationPendingAcceptance = "pending_acceptance"
	// DelegationPendingApproval: accepted; the organisation's holder has
	// not approved it yet (POST /v1/me/delegations/{id}/approve).
	DelegationPendingApproval = "pending_approval"
	// DelegationActive: usable until NotAfter.
	DelegationActive = "active"
	// DelegationRevoked: revoked by the operator (its key wraps are gone).
	DelegationRevoked = "revoked"
	// DelegationExpired: past NotAfter.
	DelegationExpired = "expired"
)

// DelegationRequest is the body of POST /v1/admin/users/{org}/delegations:
// the delegate (a person user), the organisation's credential, the session
// kinds (login, sign, decrypt, seal; empty: every kind the credential's
// purpose serves), the apps (empty: every app) and the end of the
// delegation (RFC 3339, in the future).
type DelegationRequest struct {
	User       string    `json:"user"`
	Credential string    `json:"credential"`
	Kinds      []string  `json:"kinds,omitempty"`
	Apps       []string  `json:"apps,omitempty"`
	NotAfter   time.Time `json:"not_after"`
}

// Delegation is one delegation, as the operator and both phones see it.
// Organization is the organisation's user id, OrganizationName its name;
// User is the delegate.
type Delegation struct {
	ID               string    `json:"id"`
	Organization     string    `json:"organization"`
	OrganizationName string    `json:"organization_name,omitempty"`
	User             string    `json:"user"`
	UserName         string    `json:"user_name,omitempty"`
	Credential       string    `json:"credential"`
	Kinds            []string  `json:"kinds,omitempty"`
	Apps             []string  `json:"apps,omitempty"`
	NotAfter         time.Time `json:"not_after"`
	State            string    `json:"state"`
	CreatedAt        time.Time `json:"created_at"`
	AcceptedAt       time.Time `json:"accepted_at,omitzero"`
	ApprovedAt       time.Time `json:"approved_at,omitzero"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	// SupersededCredentials (v1.1, added) are the organisation's
	// superseded (renewed) encryption credentials whose keys this
	// delegation also opens, newest first: what a delegate can still
	// decrypt that was sealed to an older certificate. A revoked
	// delegation keeps the list (no key) for the record.
	SupersededCredentials []string `json:"superseded_credentials,omitempty"`
}

// DelegationList answers GET /v1/admin/users/{org}/delegations and GET
// /v1/me/delegations (there: the delegations granted to the caller and,
// for an organisation, those of its credentials).
type DelegationList struct {
	Delegations []Delegation `json:"delegations"`
}

// DelegationPINRequest is the body of POST /v1/me/delegations/{id}/accept
// (the delegate's PIN) and …/approve (the organisation's PIN).
type DelegationPINRequest struct {
	PIN string `json:"pin"`
}
