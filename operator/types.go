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

// Issuer is a registered issuer.
type Issuer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Mode string `json:"mode"`
	// Alg is the algorithm of the CA key.
	Alg string `json:"alg"`
	// CertificatePEM is the chain, the issuer's certificate first.
	CertificatePEM string    `json:"certificate_pem"`
	Parent         string    `json:"parent,omitempty"`
	Profile        Profile   `json:"profile"`
	Subject        string    `json:"subject"`
	NotBefore      time.Time `json:"not_before"`
	NotAfter       time.Time `json:"not_after"`
	CreatedAt      time.Time `json:"created_at"`
}

// AppRequest is the body of POST /v1/admin/apps.
type AppRequest = protocol.AppRequest

// App is a portal app. APIKey is set only in the answers to its creation
// and to a key rotation.
type App struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Origins      []string  `json:"origins"`
	CreatedAt    time.Time `json:"created_at"`
	APIKey       string    `json:"api_key,omitempty"`
	KeyRotatedAt time.Time `json:"key_rotated_at,omitzero"`
	DisabledAt   time.Time `json:"disabled_at,omitzero"`
}

// UserRequest is the body of POST /v1/admin/users.
type UserRequest = protocol.UserRequest

// User is a user.
type User struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	IDNumber     string    `json:"id_number,omitempty"`
	Phone        string    `json:"phone,omitempty"`
	Organization string    `json:"organization,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// Enrolled is true once a device has enrolled and set the PIN.
	Enrolled bool `json:"enrolled"`
	// ActivationExpiresAt is when the latest activation code expires.
	ActivationExpiresAt time.Time `json:"activation_expires_at"`
	// Devices are the ids of the user's enrolled devices.
	Devices []string `json:"devices,omitempty"`
	// PINLockedUntil is the end of the current PIN lock (zero: none).
	PINLockedUntil time.Time `json:"pin_locked_until,omitzero"`
}

// UserActivation answers the creation of a user and a new activation
// code: the user and the one-time code (shown only here).
type UserActivation struct {
	User
	ActivationCode string `json:"activation_code"`
	// EnrollmentURL opens the phone web app with the code filled in
	// (<public_url>/m/#activate=<code>): give it as a link or a QR code.
	EnrollmentURL string `json:"enrollment_url,omitempty"`
}

// Device is an enrolled phone.
type Device struct {
	ID               string    `json:"id"`
	UserID           string    `json:"user"`
	Name             string    `json:"name"`
	PublicKeyPEM     string    `json:"public_key_pem"`
	KeyAlg           string    `json:"key_alg,omitempty"` // SM2 or P-256 (the phone web app)
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
}

// Credential is a user's key pair and certificate (or CSR while pending).
type Credential struct {
	ID       string `json:"id"`
	UserID   string `json:"user"`
	IssuerID string `json:"issuer"`
	Alg      string `json:"alg"`
	// RSABits is the RSA key size (0 for SM2).
	RSABits int    `json:"rsa_bits,omitempty"`
	Purpose string `json:"purpose"`
	State   string `json:"state"`
	// Mode is "cosign" for a two-party SM2 credential: the phone holds one
	// share of the key, so the gateway can never recover it.
	Mode string `json:"mode,omitempty"`
	// CertificatePEM is the certificate (empty while pending).
	CertificatePEM string `json:"certificate_pem,omitempty"`
	// CSRPEM is the PKCS#10 request of a credential of an external issuer.
	CSRPEM           string    `json:"csr_pem,omitempty"`
	Serial           string    `json:"serial,omitempty"`
	NotBefore        time.Time `json:"not_before,omitzero"`
	NotAfter         time.Time `json:"not_after,omitzero"`
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
}

// UserDetail answers GET /v1/admin/users/{id}.
type UserDetail struct {
	User        *User         `json:"user"`
	Devices     []*Device     `json:"devices"`
	Credentials []*Credential `json:"credentials"`
}

// CredentialFilter selects credentials; empty fields match everything.
type CredentialFilter struct {
	UserID   string
	IssuerID string
	State    string
}

// AuditEntry is one entry of the audit log. Its fields are those of the
// server's entry in the same order, so that the hash chain can be checked
// by the caller (Hash = SM3(Prev || canonical JSON without Hash)).
type AuditEntry struct {
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	Action       string    `json:"action"`
	Actor        string    `json:"actor,omitempty"`
	UserID       string    `json:"user,omitempty"`
	CredentialID string    `json:"credential,omitempty"`
	AppID        string    `json:"app,omitempty"`
	SessionID    string    `json:"session,omitempty"`
	IssuerID     string    `json:"issuer,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail,omitempty"`
	Prev         string    `json:"prev"`
	Hash         string    `json:"hash"`
}

// AuditFilter selects audit entries; empty fields match everything.
// AfterSeq pages (entries after that seq); Limit 0 is the server's default.
type AuditFilter struct {
	UserID    string
	SessionID string
	AppID     string
	Action    string
	AfterSeq  int64
	Limit     int
}

// AuditPage answers GET /v1/admin/audit: entries oldest first; NextAfter
// is the AfterSeq of the next page, 0 when there is none.
type AuditPage struct {
	Entries   []AuditEntry `json:"entries"`
	NextAfter int64        `json:"next_after,omitempty"`
}

// AuditVerification answers GET /v1/admin/audit/verify.
type AuditVerification struct {
	Valid   bool   `json:"valid"`
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
}

// SealRequest is the body of POST /v1/admin/seals.
type SealRequest struct {
	Owner        string  `json:"owner"`
	Name         string  `json:"name"`
	Kind         string  `json:"kind"`
	ImagePNG     []byte  `json:"image_png"`
	WidthMM      float64 `json:"width_mm"`
	HeightMM     float64 `json:"height_mm"`
	Issuer       string  `json:"issuer,omitempty"`
	ValidityDays int     `json:"validity_days,omitempty"`
}

// Seal is an electronic seal of the registry.
type Seal struct {
	ID               string    `json:"id"`
	Owner            string    `json:"owner"`
	Name             string    `json:"name"`
	Kind             string    `json:"kind"`
	WidthMM          float64   `json:"width_mm"`
	HeightMM         float64   `json:"height_mm"`
	IssuerID         string    `json:"issuer"`
	State            string    `json:"state"`
	NotBefore        time.Time `json:"not_before"`
	NotAfter         time.Time `json:"not_after"`
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// SESSeal is the GB/T 38540 SES_Seal (DER).
	SESSeal []byte `json:"ses_seal"`
}
