package protocol

import (
	"time"

	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// The phone's own endpoints: enrollment, the user's credentials, the PIN.

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	ActivationCode  string `json:"activation_code"`
	DevicePublicKey string `json:"device_public_key"`
	DeviceName      string `json:"device_name"`
	PIN             string `json:"pin"`
}

// User is a user, as the enrollment answer (POST /v1/enroll) and the
// operator API show it.
type User struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	IDNumber     string `json:"id_number,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Organization string `json:"organization,omitempty"`
	// Kind is UserKindOrganization for an organisation (its credentials'
	// subjects name it: O= and the credit code in serialNumber), empty or
	// UserKindPerson for a person.
	Kind       string `json:"kind,omitempty"`
	CreditCode string `json:"credit_code,omitempty"`
	// Registration is the id of the approved registration the user came
	// from (POST /v1/register); empty for a user the operator added.
	Registration string    `json:"registration,omitempty"`
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

// Device is an enrolled device (phone). KeyAlg is its key's algorithm:
// "SM2" (the reference phone client) or "P-256" (the phone web app's
// WebCrypto key).
type Device struct {
	ID           string    `json:"id"`
	User         string    `json:"user"`
	Name         string    `json:"name"`
	PublicKeyPEM string    `json:"public_key_pem"`
	KeyAlg       string    `json:"key_alg"`
	CreatedAt    time.Time `json:"created_at"`
	// RevokedAt is when the operator revoked the device (zero: not
	// revoked); a revoked device can no longer sign requests.
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
}

// Enrollment answers POST /v1/enroll (201).
type Enrollment struct {
	User   User   `json:"user"`
	Device Device `json:"device"`
}

// Credential states.
const (
	CredentialPending = "pending"
	CredentialActive  = "active"
	CredentialRevoked = "revoked"
	CredentialExpired = "expired"
	// CredentialSuperseded: renewed; an encryption credential still opens
	// what was sealed to it (decrypt sessions only).
	CredentialSuperseded = "superseded"
)

// Credential purposes.
const (
	PurposeSign    = "sign"
	PurposeEncrypt = "encrypt"
)

// Credential is one of a user's credentials: a key the gateway holds
// wrapped under the user's PIN and its certificate.
type Credential struct {
	ID               string    `json:"id"`
	User             string    `json:"user"`
	Issuer           string    `json:"issuer"`
	Alg              string    `json:"alg"`
	RSABits          int       `json:"rsa_bits,omitempty"`
	Purpose          string    `json:"purpose"`
	State            string    `json:"state"`
	CertificatePEM   string    `json:"certificate_pem,omitempty"`
	CSRPEM           string    `json:"csr_pem,omitempty"`
	Serial           string    `json:"serial,omitempty"`
	NotBefore        time.Time `json:"not_before,omitzero"`
	NotAfter         time.Time `json:"not_after,omitzero"`
	CreatedAt        time.Time `json:"created_at,omitzero"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// Supersedes is the credential this one renewed; SupersededBy the
	// renewal of this one (state superseded) and SupersededAt when;
	// RenewalPending a renewal at an external issuer still waiting for its
	// certificate (this one stays active until then).
	Supersedes     string    `json:"supersedes,omitempty"`
	SupersededBy   string    `json:"superseded_by,omitempty"`
	SupersededAt   time.Time `json:"superseded_at,omitzero"`
	RenewalPending string    `json:"renewal_pending,omitempty"`
	// Mode is CredentialModeCosign for a two-party credential.
	Mode string `json:"mode,omitempty"`
	// HolderDevice is, for a cosign credential, the device that made it
	// and holds the phone's share: if that device is lost, so is the
	// credential.
	HolderDevice string `json:"holder_device,omitempty"`
	// KeyGenCommit is, for a cosign credential, the proof commitment
	// (proof_t) of the key-generation message that made it: a random
	// point that says nothing of either share, by which the phone that
	// sent the message finds the credential its seed belongs to when the
	// answer was lost.
	KeyGenCommit []byte `json:"keygen_commit,omitempty"`
	// Cosign is the CSR challenge of a new cosign credential at an
	// external issuer.
	Cosign *cosign.Challenge `json:"cosign,omitempty"`
	// OnBehalfOf, OrganizationName and Delegation are set in a scan answer
	// on an organisation's credential offered through a delegation: the
	// organisation's user id and name, and the delegation (the phone
	// labels it "for <OrganizationName>" and confirms with its user's own
	// PIN).
	OnBehalfOf       string `json:"on_behalf_of,omitempty"`
	OrganizationName string `json:"organization_name,omitempty"`
	Delegation       string `json:"delegation,omitempty"`
	// Escrowed: an escrow copy of the key exists (never its bytes).
	// AwaitingRecovery: after a PIN reset the key waits for its escrow
	// recovery; POST /v1/me/recovery finishes it.
	Escrowed         bool `json:"escrowed,omitempty"`
	AwaitingRecovery bool `json:"awaiting_recovery,omitempty"`
	// Addressed (v1.1, added) is set in the scan answer of a cms decrypt
	// session on each credential whose certificate the envelope names as
	// a recipient (the phone labels it: the data was sealed to it).
	Addressed bool `json:"addressed,omitempty"`
}

// CredentialModeCosign is the mode of a two-party SM2 credential
// (docs/cosign.md).
const CredentialModeCosign = "cosign"

// CredentialList answers GET /v1/me/credentials (and the operator's GET
// /v1/admin/credentials).
type CredentialList struct {
	Credentials []Credential `json:"credentials"`
	// DrawnSignatures (v1.1, added; the phone's answer only, absent from
	// the operator's) says whether the operator lets the user make a
	// hand-drawn signature a personal seal (seals.drawn_signatures), so
	// that the phone tells before anything is drawn; POST /v1/me/seals
	// still answers drawn_seal_disabled when it is false.
	DrawnSignatures *bool `json:"drawn_signatures,omitempty"`
}

// CredentialRequest is the body of POST /v1/me/credentials: a new key pair
// from Issuer, Alg AlgSM2 or AlgRSA, Purpose PurposeSign or
// PurposeEncrypt.
type CredentialRequest struct {
	Issuer  string `json:"issuer"`
	Alg     string `json:"alg"`
	Purpose string `json:"purpose"`
	// RSABits is the RSA key size; 0 means the profile's default.
	RSABits int    `json:"rsa_bits,omitempty"`
	PIN     string `json:"pin"`
	// Mode CredentialModeCosign asks for a two-party SM2 credential;
	// Cosign is then the phone's key-generation message.
	Mode   string                `json:"mode,omitempty"`
	Cosign *cosign.KeyGenRequest `json:"cosign,omitempty"`
}

// CredentialCreated answers POST /v1/me/credentials.
type CredentialCreated struct {
	Credential *Credential `json:"credential"`
}

// PINRequest is the body of PUT /v1/me/pin.
type PINRequest struct {
	OldPIN string `json:"old_pin"`
	NewPIN string `json:"new_pin"`
	// Cosign re-shares each of the user's cosign credentials (credential
	// id → the phone's message): required for every active one.
	Cosign map[string]*cosign.ReshareRequest `json:"cosign,omitempty"`
}
