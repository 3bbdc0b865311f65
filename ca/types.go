package ca

import (
	"crypto"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
)

// Mode tells whether the gateway holds an issuer's key.
type Mode string

const (
	// ModeInternal: the gateway holds the CA key and issues certificates.
	ModeInternal Mode = "internal"
	// ModeExternal: only the chain is registered; certificates come back
	// from the CA for the CSRs the gateway produces.
	ModeExternal Mode = "external"
)

// Purpose is what a credential's key is for (the Chinese dual-certificate
// practice: one signing and one encryption certificate per issuer).
type Purpose string

const (
	// PurposeSign: key usage digitalSignature and nonRepudiation.
	PurposeSign Purpose = "sign"
	// PurposeEncrypt: key usage keyEncipherment and dataEncipherment, plus
	// keyAgreement for SM2 keys (GM/T 0015 encryption certificates; SM2 key
	// exchange is a key agreement).
	PurposeEncrypt Purpose = "encrypt"
)

// State is a credential's state, computed when it is read.
type State string

const (
	// StatePending: waiting for the external CA's certificate (CSR ready).
	StatePending State = "pending"
	// StateActive: certified, not revoked, within its validity.
	StateActive State = "active"
	// StateRevoked: revoked by the operator (pending ones can be revoked too).
	StateRevoked State = "revoked"
	// StateExpired: past the certificate's notAfter.
	StateExpired State = "expired"
	// StateSuperseded: renewed (RenewCredential); the renewal holds the
	// slot. A superseded encryption key still decrypts what was made for
	// it.
	StateSuperseded State = "superseded"
)

// Usage is what Verify checks a certificate's key usage for.
type Usage int

const (
	// UsageAny: no key-usage check.
	UsageAny Usage = iota
	// UsageSign: digitalSignature or nonRepudiation.
	UsageSign
	// UsageEncrypt: keyEncipherment, dataEncipherment or keyAgreement.
	UsageEncrypt
)

// Subject field names a profile may ask for in end-entity certificates.
const (
	// SubjectIDNumber puts the user's ID number in the serialNumber
	// attribute (2.5.4.5).
	SubjectIDNumber = "id_number"
	// SubjectPhone puts the user's phone in the telephoneNumber attribute
	// (2.5.4.20).
	SubjectPhone = "phone"
)

// Profile is what an issuer issues. Zero fields take defaults when the
// issuer is added: DefaultValidityDays, the issuer's own algorithm, RSA
// sizes 2048/3072/4096, both purposes, no subject fields beyond CN and O.
type Profile struct {
	// ValidityDays of issued certificates (cut at the issuer's notAfter).
	ValidityDays int `json:"validity_days"`
	// Algs allowed for user keys.
	Algs []gmcrypto.Alg `json:"algs"`
	// RSABits allowed for user RSA keys; the first is the default.
	RSABits []int `json:"rsa_bits,omitempty"`
	// Purposes allowed (sign, encrypt).
	Purposes []Purpose `json:"purposes"`
	// SubjectFields asked for in the subject besides CN (and O for corporate
	// users): SubjectIDNumber, SubjectPhone. A user lacking one cannot get a
	// credential from this issuer.
	SubjectFields []string `json:"subject_fields,omitempty"`
	// RenewalKey says which key a renewal certifies: RenewalKeySame (the
	// default: the same key; a request for a new one is ErrNewKeyNotAllowed),
	// RenewalKeyNew (every renewal makes a new key pair) or RenewalKeyEither
	// (the request chooses with new_key).
	RenewalKey string `json:"renewal_key,omitempty"`
	// Escrow: every new encryption credential's key is also escrowed under
	// the deployment's escrow key (escrow.go), so that a forgotten PIN
	// does not lose what was encrypted to it. Needs InitEscrow first; a
	// cosign encryption credential is then refused.
	Escrow bool `json:"escrow,omitempty"`
}

// Values of Profile.RenewalKey.
const (
	RenewalKeySame   = "same"
	RenewalKeyNew    = "new"
	RenewalKeyEither = "either"
)

// renewalKey is p.RenewalKey, "" (a profile stored before the field
// existed) read as RenewalKeySame.
func (p *Profile) renewalKey() string {
	if p.RenewalKey == "" {
		return RenewalKeySame
	}
	return p.RenewalKey
}

// Subject is the distinguished name of a generated CA certificate.
type Subject struct {
	CommonName   string `json:"common_name"`
	Organization string `json:"organization,omitempty"`
	Country      string `json:"country,omitempty"`
}

// IssuerRequest registers an issuer. The valid shapes are:
//
//   - internal, generated: Mode internal, Generate, Alg, Subject (CommonName
//     required), optional ValidityDays (default 3650), PathLen, RSABits
//     (CA key, default 2048) and Parent (a registered internal issuer that
//     signs the new intermediate; without it the CA is a self-signed root);
//   - internal, imported: Mode internal, CertPEM (the CA certificate,
//     optionally followed by its issuers) and KeyPEM (PKCS#8, SEC1 or
//     PKCS#1; must match the certificate);
//   - external: Mode external, ChainPEM (the CA certificate first, then
//     optionally its issuers), or CertPEM (the CA certificate) with
//     ChainPEM holding only its issuers.
//
// For imported and external issuers Parent, if set, must be a registered
// issuer whose certificate signed the given one; the parent's chain then
// replaces the rest of the given chain.
type IssuerRequest struct {
	ID           string // optional; [a-z0-9_-]{1,64}; default "iss_" + random
	Name         string // display name; required
	Mode         Mode
	Alg          gmcrypto.Alg // required when generating; else checked against the certificate
	Generate     bool
	Subject      Subject
	ValidityDays int
	PathLen      *int // CA path length constraint; nil: none for roots, 0 for intermediates
	RSABits      int
	CertPEM      []byte
	KeyPEM       []byte
	ChainPEM     []byte
	Parent       string
	Profile      *Profile
}

// Issuer is a registered issuer (the API answers protocol.Issuer, filled
// from it).
type Issuer struct {
	ID   string
	Name string
	Mode Mode
	// Alg is the algorithm of the CA key (and so of its signatures).
	Alg gmcrypto.Alg
	// CertificatePEM is the chain: the issuer's certificate first.
	CertificatePEM string
	Parent         string
	Profile        Profile
	Subject        string
	NotBefore      time.Time
	NotAfter       time.Time
	CreatedAt      time.Time
	// Certificate is the issuer's certificate, Chain the whole chain.
	Certificate *smx509.Certificate
	Chain       []*smx509.Certificate
}

// UserRequest creates a user from their real-name data.
type UserRequest struct {
	Name         string // required, the certificate CN
	IDNumber     string // optional identity document number
	Phone        string // optional
	Organization string // optional, for corporate users (the certificate O)
	// Kind is UserKindPerson (empty means person) or UserKindOrganization.
	// An organisation's Name is its registered name and CreditCode its
	// 统一社会信用代码 (required, GB 32100 checksum); its certificates carry
	// O=Organization (default: Name) and serialNumber=CreditCode
	// (organisationSubject).
	Kind       string
	CreditCode string
	// Registration is the id of the approved registration (ra) the user
	// comes from, recorded on the user; empty for a user added directly.
	Registration string
	// ID presets the new user's id (from NewUserID), so that a caller can
	// name the user in the writes it commits with it (AddUserWith); empty
	// means a fresh one.
	ID string
}

// User kinds (protocol.UserKindPerson, protocol.UserKindOrganization).
const (
	UserKindPerson       = protocol.UserKindPerson
	UserKindOrganization = protocol.UserKindOrganization
)

// User is a user as the API shows it: the wire type itself (the view is
// built from the stored record by userRecord.toUser).
type User = protocol.User

// Device is an enrolled phone: its SM2 public key verifies its requests.
type Device struct {
	ID           string
	UserID       string
	Name         string
	PublicKey    crypto.PublicKey
	PublicKeyPEM string
	// KeyAlg is the device key's algorithm: "SM2" (the reference phone
	// client) or "P-256" (the phone web app's WebCrypto key).
	KeyAlg    string
	CreatedAt time.Time
	// RevokedAt is when the operator revoked the device (zero: not
	// revoked); a revoked device can no longer sign requests.
	RevokedAt        time.Time
	RevocationReason string
}

// Revoked reports whether the device has been revoked.
func (d *Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// CredentialRequest asks for a new key pair and certificate.
type CredentialRequest struct {
	UserID   string
	IssuerID string
	Alg      gmcrypto.Alg
	// RSABits for RSA keys; 0 means the profile's first size.
	RSABits int
	Purpose Purpose
	// PIN is the user's PIN: it is checked (with the lockout) and wraps the
	// new key.
	PIN string
	// Cosign, when set, makes a two-party SM2 credential from the phone's
	// key-generation message (made for CosignKeyGenBinding(UserID)): the
	// gateway keeps only its share; the PIN still authorises the request
	// but wraps nothing.
	Cosign *cosign.KeyGenRequest
	// DeviceID is the device that asks; a cosign credential records it
	// as the holder of the phone's share (Credential.HolderDevice).
	DeviceID string
}

// CredentialFilter selects credentials; zero fields match everything.
type CredentialFilter struct {
	UserID   string
	IssuerID string
	State    State
	// ExpiringWithin, when positive, keeps only the active credentials
	// whose certificate ends within that time from now (the renewal
	// reminder list: credential list --expiring 30d).
	ExpiringWithin time.Duration
}

// Credential is a user's key pair and certificate (or CSR); the API answers
// protocol.Credential, filled from it. The private key never leaves the package except through UnlockKey.
type Credential struct {
	ID       string
	UserID   string
	IssuerID string
	Alg      gmcrypto.Alg
	// RSABits is the RSA key size (0 for SM2).
	RSABits int
	Purpose Purpose
	State   State
	// Mode is "cosign" for a two-party SM2 credential (the phone holds
	// one share; it cannot be recovered if the phone is lost); empty for
	// a usual one.
	Mode string
	// HolderDevice is, for a cosign credential, the device that made it
	// (and so holds the phone's share), when known.
	HolderDevice string
	// KeyGenCommit is, for a cosign credential, the proof commitment of
	// the key-generation message that made it (a random point): the phone
	// that sent that message finds its credential by it after a lost
	// answer.
	KeyGenCommit []byte
	// Repeated is set in the answer of CreateCredential to a repeated
	// cosign request (the same phone share, its first answer lost): the
	// credential existed already, nothing was created.
	Repeated bool
	// CertificatePEM is the certificate (empty while pending).
	CertificatePEM string
	// CSRPEM is the PKCS#10 request for an external issuer.
	CSRPEM string
	// Serial is the certificate serial number in lowercase hex.
	Serial           string
	NotBefore        time.Time
	NotAfter         time.Time
	CreatedAt        time.Time
	RevokedAt        time.Time
	RevocationReason string
	// Escrowed: an escrow copy of the key exists (never its bytes).
	Escrowed bool
	// AwaitingRecovery: after a PIN reset, the key waits for its escrow
	// recovery and cannot be used.
	AwaitingRecovery bool
	// Certificate is the parsed certificate (nil while pending).
	Certificate *smx509.Certificate
	// Supersedes is the credential this one renewed; SupersededBy the one
	// that renewed this one (state superseded) and SupersededAt when;
	// RenewalPending the renewal at an external issuer that waits for its
	// certificate (this one stays active until it arrives).
	Supersedes     string
	SupersededBy   string
	SupersededAt   time.Time
	RenewalPending string
	// CosignChallenge is set only in the answer to the request of a cosign
	// credential at an external issuer: the phone answers it
	// (FinishCosignCSR) to sign the CSR together with the gateway.
	CosignChallenge *cosign.Challenge
}

// Verified describes a certificate Verify accepted.
type Verified struct {
	// Subject and Issuer are the distinguished names, RFC 2253-like.
	Subject string
	Issuer  string
	// IssuerID is the registered issuer the certificate chains to: the one
	// that signed it when registered, else the registered anchor reached
	// through the intermediates given.
	IssuerID string
	Serial   string
	NotAfter time.Time
	// CredentialID and UserID are set when the certificate is one of ours.
	CredentialID string
	UserID       string
	// Chain is the verified path: the certificate first, the registered
	// issuer's chain last.
	Chain []*smx509.Certificate
}
