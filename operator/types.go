package operator

import (
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// The operator API's request and answer bodies (docs/openapi.yaml). Enum
// values travel as strings: Mode "internal" or "external"; Alg "SM2" or
// "RSA"; Purpose "sign" or "encrypt"; State "pending", "active", "revoked"
// or "expired".

// IssuerSubject is the subject of a generated CA certificate.
type IssuerSubject = protocol.IssuerSubject

// Profile is what an issuer issues to users.
type Profile = protocol.Profile

// IssuerRequest is the body of POST /v1/admin/issuers: an internal issuer
// generated (Generate, Alg, Subject) or imported (CertPEM, KeyPEM), or an
// external one (ChainPEM, or CertPEM with ChainPEM holding its issuers).
type IssuerRequest = protocol.IssuerRequest

// Issuer is a registered issuer (protocol.Issuer).
type Issuer = protocol.Issuer

// AppRequest is the body of POST /v1/admin/apps.
type AppRequest = protocol.AppRequest

// App is a portal app; APIKey is set only in the answers to its creation
// and to a key rotation (protocol.App).
type App = protocol.App

// UserRequest is the body of POST /v1/admin/users.
type UserRequest = protocol.UserRequest

// User is a user (protocol.User).
type User = protocol.User

// UserActivation answers the creation of a user and a new activation
// code: the user and the one-time code, shown only here
// (protocol.UserActivation).
type UserActivation = protocol.UserActivation

// Device is an enrolled phone (protocol.Device).
type Device = protocol.Device

// Credential is a user's key pair and certificate, or CSR while pending
// (protocol.Credential).
type Credential = protocol.Credential

// UserDetail answers GET /v1/admin/users/{id} (protocol.UserDetail).
type UserDetail = protocol.UserDetail

// CredentialFilter selects credentials; empty fields match everything.
type CredentialFilter struct {
	UserID   string
	IssuerID string
	State    string
}

// AuditEntry is one entry of the audit log (protocol.AuditEntry).
type AuditEntry = protocol.AuditEntry

// AuditFilter selects audit entries; empty fields match everything.
// AfterSeq pages (entries after that seq); Limit 0 is the server's default.
type AuditFilter struct {
	UserID    string
	SessionID string
	AppID     string
	Action    string
	// Actor selects one actor's entries ("operator:alice", "device:dev_…").
	Actor string
	// OnBehalfOf selects the key uses through delegations of that
	// organisation's credentials.
	OnBehalfOf string
	// Since and Until, when set, select the entries written at or after
	// Since and before Until.
	Since, Until time.Time
	AfterSeq     int64
	Limit        int
}

// AuditPage answers GET /v1/admin/audit (protocol.AuditPage).
type AuditPage = protocol.AuditPage

// AuditSegment, AuditAnchor and AuditArchive are the audit archive's
// wire types (GET /v1/admin/audit/segment, /v1/admin/audit/archive).
type (
	AuditSegment = protocol.AuditSegment
	AuditAnchor  = protocol.AuditAnchor
	AuditArchive = protocol.AuditArchive
)

// AuditVerification answers GET /v1/admin/audit/verify
// (protocol.AuditVerification).
type AuditVerification = protocol.AuditVerification

// SealRequest is the body of POST /v1/admin/seals (protocol.SealRequest).
type SealRequest = protocol.SealRequest

// Seal is an electronic seal of the registry (protocol.Seal).
type Seal = protocol.Seal
