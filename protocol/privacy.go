package protocol

import (
	"encoding/json"
	"time"
)

// PersonalData answers GET /v1/me/data (the device's user) and GET
// /v1/admin/users/{id}/data (the operator's copy for a request made to
// them): every personal record the gateway holds about the user. Lists
// are empty, never null.
type PersonalData struct {
	ExportedAt time.Time `json:"exported_at"`
	// User is the user record: name, ID number, phone, organisation.
	User *User `json:"user"`
	// Devices are the enrolled phones with their public keys.
	Devices []*Device `json:"devices"`
	// Credentials are the user's credentials with their certificates
	// (never a private key: those stay wrapped under the PIN).
	Credentials []*Credential `json:"credentials"`
	// Seals are the user's electronic seals (with their pictures).
	Seals []Seal `json:"seals"`
	// Delegations are those where the user is the organisation or the
	// delegate (never a key).
	Delegations []*Delegation `json:"delegations"`
	// Sessions are the scan sessions the user scanned that are still
	// stored (each is deleted session.retention after it expires).
	Sessions []PersonalSession `json:"sessions"`
	// Audit holds the audit entries about the user or made by their
	// devices, oldest first.
	Audit []AuditEntry `json:"audit"`
	// Other holds the records other parts of the gateway keep about the
	// user (registration and consent, delegations, escrow), by part name.
	Other map[string]json.RawMessage `json:"other,omitempty"`
}

// PersonalSession is a scan session in a personal-data export: what the
// session says about the user (which app asked what, from which desktop,
// with which of their devices), never its secrets or result.
type PersonalSession struct {
	ID        string    `json:"id"`
	Kind      Kind      `json:"kind"`
	App       string    `json:"app"`
	Origin    string    `json:"origin"`
	State     State     `json:"state"`
	Device    string    `json:"device,omitempty"`
	Desktop   Desktop   `json:"desktop"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// AccountDeleteRequest is the body of DELETE /v1/me: the user's PIN.
type AccountDeleteRequest struct {
	PIN string `json:"pin"`
}

// AccountDeleted answers DELETE /v1/me (202) once the account is erased:
// the certificates revoked now ("issuer/serial", reason
// cessationOfOperation, on their issuers' CRLs) and before, the counts of
// the records erased, and the pseudonym the audit log now names the user
// by.
type AccountDeleted struct {
	User           string    `json:"user"`
	DeletedAt      time.Time `json:"deleted_at"`
	Revoked        []string  `json:"revoked"`
	AlreadyRevoked []string  `json:"already_revoked"`
	Credentials    int       `json:"credentials"`
	Delegations    int       `json:"delegations"`
	Seals          int       `json:"seals"`
	Devices        int       `json:"devices"`
	Sessions       int       `json:"sessions"`
	// Deliveries counts the webhook deliveries of those sessions deleted
	// from the outbox (with the events they carried).
	Deliveries  int `json:"deliveries"`
	AuditErased int `json:"audit_erased"`
	// AuditLegacy counts the user's audit entries written before audit
	// entry version 2, which keep the user's id (docs/privacy.md).
	AuditLegacy int    `json:"audit_legacy"`
	Pseudonym   string `json:"pseudonym"`
	// Compacted is true when the store's old copies were dropped too.
	Compacted bool `json:"compacted"`
	// DeviceIDs are the user's devices the audit log's pseudonym now
	// stands for too: with User and Pseudonym, what ukeygate audit erase
	// needs to erase the user from exported audit segments.
	DeviceIDs []string `json:"device_ids"`
}
