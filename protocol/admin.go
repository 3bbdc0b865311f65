package protocol

// Request bodies of the operator API (/v1/admin/*, the admin token). Enum
// values travel as strings: Mode "internal" or "external"; Alg AlgSM2 or
// AlgRSA; purposes PurposeSign or PurposeEncrypt.

// Issuer modes (IssuerRequest.Mode).
const (
	ModeInternal = "internal"
	ModeExternal = "external"
)

// IssuerSubject is the subject of a generated CA certificate.
type IssuerSubject struct {
	CommonName   string `json:"common_name"`
	Organization string `json:"organization,omitempty"`
	Country      string `json:"country,omitempty"`
}

// Profile is what an issuer issues to users.
type Profile struct {
	// ValidityDays of issued certificates.
	ValidityDays int `json:"validity_days,omitempty"`
	// Algs allowed for user keys.
	Algs []string `json:"algs,omitempty"`
	// RSABits allowed for user RSA keys; the first is the default.
	RSABits []int `json:"rsa_bits,omitempty"`
	// Purposes allowed.
	Purposes []string `json:"purposes,omitempty"`
	// SubjectFields a user must have: "id_number", "phone".
	SubjectFields []string `json:"subject_fields,omitempty"`
	// RenewalKey is the key a renewal certifies: "same" (the default),
	// "new" (always a new key pair) or "either" (the request's new_key).
	RenewalKey string `json:"renewal_key,omitempty"`
	// Escrow: new encryption keys are also escrowed under the
	// deployment's escrow key (POST /v1/admin/escrow first).
	Escrow bool `json:"escrow,omitempty"`
}

// IssuerRequest is the body of POST /v1/admin/issuers: an internal issuer
// generated (Generate, Alg, Subject) or imported (CertPEM, KeyPEM), or an
// external one (ChainPEM, or CertPEM with ChainPEM holding its issuers).
type IssuerRequest struct {
	ID           string         `json:"id,omitempty"`
	Name         string         `json:"name"`
	Mode         string         `json:"mode"`
	Alg          string         `json:"alg,omitempty"`
	Generate     bool           `json:"generate,omitempty"`
	Subject      *IssuerSubject `json:"subject,omitempty"`
	ValidityDays int            `json:"validity_days,omitempty"`
	PathLen      *int           `json:"path_len,omitempty"`
	RSABits      int            `json:"rsa_bits,omitempty"`
	CertPEM      string         `json:"cert_pem,omitempty"`
	KeyPEM       string         `json:"key_pem,omitempty"`
	ChainPEM     string         `json:"chain_pem,omitempty"`
	Parent       string         `json:"parent,omitempty"`
	Profile      *Profile       `json:"profile,omitempty"`
}

// AppRequest is the body of POST /v1/admin/apps.
type AppRequest struct {
	Name    string   `json:"name"`
	Origins []string `json:"origins"`
	// Webhook, when set, registers the app's webhook at once (its secret
	// is in the answer's webhook).
	Webhook *WebhookRequest `json:"webhook,omitempty"`
}

// UserRequest is the body of POST /v1/admin/users.
type UserRequest struct {
	Name         string `json:"name"`
	IDNumber     string `json:"id_number,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Organization string `json:"organization,omitempty"`
	// Kind is UserKindPerson (the default) or UserKindOrganization; an
	// organisation needs CreditCode (its 统一社会信用代码, GB 32100).
	Kind       string `json:"kind,omitempty"`
	CreditCode string `json:"credit_code,omitempty"`
}

// User kinds (UserRequest.Kind, User.Kind).
const (
	UserKindPerson       = "person"
	UserKindOrganization = "organization"
)

// ImportRequest is the body of POST /v1/admin/credentials/{id}/certificate:
// the certificate an external CA issued for the credential's CSR.
type ImportRequest struct {
	CertificatePEM string `json:"certificate_pem"`
}

// RevokeRequest is the body of POST /v1/admin/credentials/{id}/revoke.
type RevokeRequest struct {
	// Reason is an RFC 5280 reason name (keyCompromise, superseded, …);
	// empty means unspecified.
	Reason string `json:"reason"`
}

// DeviceRevokeRequest is the (optional) body of
// POST /v1/admin/devices/{id}/revoke.
type DeviceRevokeRequest struct {
	// Reason is free text for the operators ("lost", "stolen", …).
	Reason string `json:"reason,omitempty"`
}
