package protocol

import "time"

// Answers of the operator API (/v1/admin/*), written by the server (api)
// and read by the operator client (operator) from these one definitions.
// Enum values travel as strings: Mode ModeInternal or ModeExternal; Alg
// AlgSM2 or AlgRSA; Purpose PurposeSign or PurposeEncrypt; State
// CredentialPending, CredentialActive, CredentialRevoked or
// CredentialExpired (a seal: active, revoked or expired).

// Issuer is a registered issuer (POST /v1/admin/issuers; the lists of
// GET /v1/admin/issuers and GET /v1/issuers).
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

// IssuerList answers GET /v1/admin/issuers and GET /v1/issuers.
type IssuerList struct {
	Issuers []Issuer `json:"issuers"`
}

// App is a portal app. APIKey is set only in the answers to its creation
// and to a key rotation.
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Origins   []string  `json:"origins"`
	CreatedAt time.Time `json:"created_at"`
	APIKey    string    `json:"api_key,omitempty"`
	// KeyRotatedAt and DisabledAt: see POST /v1/admin/apps/{id}/rotate
	// and …/disable.
	KeyRotatedAt time.Time `json:"key_rotated_at,omitzero"`
	DisabledAt   time.Time `json:"disabled_at,omitzero"`
	// Webhook is the webhook registered with the app's creation, with its
	// secret (shown once).
	Webhook *Webhook `json:"webhook,omitempty"`
}

// AppList answers GET /v1/admin/apps.
type AppList struct {
	Apps []App `json:"apps"`
}

// UserActivation answers the creation of a user and a new activation code
// (POST /v1/admin/users, POST /v1/admin/users/{id}/activation): the user,
// the one-time code (shown only here) and EnrollmentURL, which opens the
// phone web app with the code filled in (<public_url>/m/#activate=<code>):
// give it as a link or a QR code.
type UserActivation struct {
	User
	ActivationCode string `json:"activation_code,omitempty"`
	EnrollmentURL  string `json:"enrollment_url,omitempty"`
}

// UserList answers GET /v1/admin/users.
type UserList struct {
	Users []User `json:"users"`
}

// UserDetail answers GET /v1/admin/users/{id}.
type UserDetail struct {
	User        *User         `json:"user"`
	Devices     []*Device     `json:"devices"`
	Credentials []*Credential `json:"credentials"`
}

// DeviceRevoked answers POST /v1/admin/devices/{id}/revoke.
type DeviceRevoked struct {
	Device *Device `json:"device"`
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
	// OnBehalfOf is, for a key use through a delegation, the organisation
	// whose credential was used (UserID is then the delegate, the staff
	// member who confirmed), and Delegation the delegation's id.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	Delegation string `json:"delegation,omitempty"`
	// V is the entry's format: 0 (absent) for entries written before
	// version 2, whose hash covers user, actor and on_behalf_of as they
	// are; 2 for entries whose hash covers, instead of them (the actor's
	// kind stays), the commitment Subject = hex HMAC-SM3(Salt, user,
	// actor, on_behalf_of). Erasing a user removes Salt and replaces
	// their id (and their devices' ids) by a pseudonym; the chain still
	// verifies (docs/privacy.md).
	V       int    `json:"v,omitempty"`
	Subject string `json:"subject,omitempty"`
	Salt    string `json:"salt,omitempty"`
	Prev    string `json:"prev"`
	Hash    string `json:"hash"`
}

// AuditPage answers GET /v1/admin/audit: entries oldest first. When the
// answer is full (limit entries), NextAfter is the seq to pass as after=
// for the next page; it is 0 when there is nothing more.
type AuditPage struct {
	Entries   []AuditEntry `json:"entries"`
	NextAfter int64        `json:"next_after,omitempty"`
}

// AuditVerification answers GET /v1/admin/audit/verify: the chain of every
// entry and the sealed head verified.
type AuditVerification struct {
	Valid   bool   `json:"valid"`
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// FirstSeq is the first entry still in the live store (entries before
	// it were exported and removed; they are checked offline against
	// their segment files); Archived is the last exported entry.
	FirstSeq int64 `json:"first_seq,omitempty"`
	Archived int64 `json:"archived,omitempty"`
}

// AuditAnchor names one exported segment of the audit log: the entries
// FirstSeq..LastSeq, Prev the hash of the entry before FirstSeq (64 zeros
// when FirstSeq is 1) and Head the hash of entry LastSeq. Seal is the hex
// HMAC-SM3 of the other fields under a key derived from the gateway's
// master key, so only the gateway makes anchors; the gateway keeps every
// anchor it accepted (GET /v1/admin/audit/archive), so a holder of a
// segment file checks it without any key by comparing its anchor.
type AuditAnchor struct {
	FirstSeq   int64     `json:"first_seq"`
	LastSeq    int64     `json:"last_seq"`
	Prev       string    `json:"prev"`
	Head       string    `json:"head"`
	ExportedAt time.Time `json:"exported_at"`
	Seal       string    `json:"seal"`
}

// AuditSegmentFormat is the Format of an audit segment file.
const AuditSegmentFormat = "ukeygate-audit-segment/1"

// AuditSegment answers GET /v1/admin/audit/segment and is the content of
// a segment file (`ukeygate audit export`): the entries of the anchor, as
// the log holds them, oldest first.
type AuditSegment struct {
	Format  string       `json:"format"`
	Anchor  AuditAnchor  `json:"anchor"`
	Entries []AuditEntry `json:"entries"`
}

// AuditArchive answers GET and POST /v1/admin/audit/archive: the anchors
// of the exported segments, oldest first, and how far entries have left
// the live store: PrunedSeq is the last entry removed (0: none) and
// PrunedHash its hash (the first live entry's prev).
type AuditArchive struct {
	Anchors    []AuditAnchor `json:"anchors"`
	PrunedSeq  int64         `json:"pruned_seq"`
	PrunedHash string        `json:"pruned_hash"`
}

// SealRequest is the body of POST /v1/admin/seals. Kind is "official",
// "contract", "finance", "legal_rep" or "personal".
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
	Issuer           string    `json:"issuer"`
	State            string    `json:"state"`
	NotBefore        time.Time `json:"not_before"`
	NotAfter         time.Time `json:"not_after"`
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// SESSeal is the GB/T 38540 SES_Seal (DER): the current version.
	SESSeal []byte `json:"ses_seal"`
	// Version is the SES_Seal's version: 1 as made, one more each time a
	// renewal of a signing credential it is bound to re-issued it (same
	// id, the successor's certificate instead of the superseded one).
	Version int `json:"version"`
	// ReissuedAt is when the current version was made by a re-issue.
	ReissuedAt time.Time `json:"reissued_at,omitzero"`
	// SignerCredentials are the owner's credentials whose certificates the
	// current SES_Seal lists (absent for a seal made before this field,
	// until its first re-issue).
	SignerCredentials []string `json:"signer_credentials,omitempty"`
	// ReissuePending: the seal is still bound to a certificate a renewal
	// superseded (a re-issue failed or was interrupted); it is re-issued
	// at the next start, scan or confirm. Also set on a seal that expired
	// only with that certificate meanwhile (made without validity_days),
	// which its re-issue makes active again. Only in GET
	// /v1/admin/seals?owner=.
	ReissuePending bool `json:"reissue_pending,omitempty"`
	// PreviousVersions are the earlier versions, newest first: what a
	// document sealed with one of them carries.
	PreviousVersions []SealVersion `json:"previous_versions,omitempty"`
}

// SealVersion is an earlier version of a seal's SES_Seal.
type SealVersion struct {
	Version  int       `json:"version"`
	IssuedAt time.Time `json:"issued_at"`
	NotAfter time.Time `json:"not_after"`
	// SESSM3 is the hex SM3 of that version's SES_Seal (DER).
	SESSM3            string   `json:"ses_sm3"`
	SignerCredentials []string `json:"signer_credentials,omitempty"`
}

// SealList answers GET /v1/admin/seals.
type SealList struct {
	Seals []Seal `json:"seals"`
}
