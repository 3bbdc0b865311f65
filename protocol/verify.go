package protocol

import "time"

// Reasons of a verification that did not succeed (VerifyResponse.Reason):
// stable snake_case codes.
const (
	// ReasonBadSignature: the signature does not verify over the data or
	// digest under the certificate's key (or the CMS does not verify).
	ReasonBadSignature = "bad_signature"
	// ReasonUntrusted: the certificate does not chain to a registered
	// issuer.
	ReasonUntrusted = "untrusted"
	// ReasonExpired: the certificate (or one above it) is outside its
	// validity period now.
	ReasonExpired = "expired"
	// ReasonRevoked: the certificate has been revoked.
	ReasonRevoked = "revoked"
	// ReasonKeyUsage: the certificate's key usage does not allow signing.
	ReasonKeyUsage = "key_usage"
)

// VerifyRequest is the body of POST /v1/verify: a raw signature with the
// signer's certificate (and optionally its chain), or a CMS SignedData that
// carries its certificates. Data or Digest is what was signed: for a raw
// signature the digest is the value that is signed (SM2: SM3(Z || data)
// with the default signer id; RSA: SHA-256(data)); for a detached CMS it is
// the digest of the content (SM3 for SM2 signers, the signer's digest
// algorithm for RSA). An attached CMS needs neither; when given they must
// match its content.
type VerifyRequest struct {
	Data      []byte `json:"data,omitempty"`
	Digest    []byte `json:"digest,omitempty"`
	Signature []byte `json:"signature,omitempty"`
	CMS       []byte `json:"cms,omitempty"`
	// PDF is a signed (sealed) PDF, given alone: every signature in it is
	// checked.
	PDF []byte `json:"pdf,omitempty"`
	// CertificatePEM is the signer's certificate, then optionally its
	// issuers (required with Signature). With CMS it may add intermediates
	// the CMS does not carry.
	CertificatePEM string `json:"certificate_pem,omitempty"`
}

// Signer describes the signer's certificate. IssuerID, Credential and
// User are set only when the signature is valid; Credential and User only
// when the certificate is one the gateway issued for a user (so a portal
// can map a login to its own account).
type Signer struct {
	Subject        string    `json:"subject"`
	Issuer         string    `json:"issuer"`
	Serial         string    `json:"serial"`
	NotAfter       time.Time `json:"not_after"`
	Alg            string    `json:"alg,omitempty"`
	CertificatePEM string    `json:"certificate_pem"`
	IssuerID       string    `json:"issuer_id,omitempty"`
	Credential     string    `json:"credential,omitempty"`
	User           string    `json:"user,omitempty"`
}

// VerifyResponse answers POST /v1/verify: chain, key usage and revocation
// checked against the gateway's registered issuers. A signature that does
// not verify or a certificate that is not acceptable is Valid false with a
// Reason (ReasonBadSignature, …) and a Message for people; Signer is set
// whenever the signer's certificate is known.
type VerifyResponse struct {
	Valid   bool    `json:"valid"`
	Signer  *Signer `json:"signer,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Message string  `json:"message,omitempty"`
	// SigningTime is the CMS signing-time attribute (as the signer claims
	// it), when present.
	SigningTime time.Time `json:"signing_time,omitzero"`
	// Signers counts the CMS signers (all of them must be valid; Signer
	// describes the first, or the first that failed).
	Signers int `json:"signers,omitempty"`
	// LoginSession is set when a raw signature's data is a login challenge
	// naming the calling app: true when data and signature are exactly the
	// result of one of its login sessions that completed (and is still
	// kept), false otherwise. A raw signature over a challenge cannot
	// otherwise be told apart from one a sign session made over the same
	// bytes or their digest.
	LoginSession *bool `json:"login_session,omitempty"`
	// PDFSignatures lists every signature of a PDF (a pdf request): Valid
	// is then true when there is at least one and each is valid, trusted
	// and not followed by unsigned changes.
	PDFSignatures []PDFSignature `json:"pdf_signatures,omitempty"`
}

// PDFSignature is one signature of a PDF as /v1/verify reports it.
type PDFSignature struct {
	Field     string `json:"field"`
	SubFilter string `json:"sub_filter,omitempty"`
	// Time is the claimed signing time (/M).
	Time time.Time `json:"time,omitzero"`
	// Valid: the CMS verifies over its byte ranges and the signer's
	// certificate chains to a registered issuer, is in its validity
	// period and not revoked; else Reason says why.
	Valid   bool    `json:"valid"`
	Reason  string  `json:"reason,omitempty"`
	Message string  `json:"message,omitempty"`
	Signer  *Signer `json:"signer,omitempty"`
	// CoversWholeDocument: the signature covers the file to its end.
	CoversWholeDocument bool `json:"covers_whole_document"`
	// Modified: bytes were added after this signature that no later valid
	// signature covers.
	Modified             bool     `json:"modified"`
	SigningCertificateV2 bool     `json:"signing_certificate_v2"`
	Seal                 *PDFSeal `json:"seal,omitempty"`
}

// PDFSeal is the GB/T 38540 seal a PDF signature carries.
type PDFSeal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
	// Valid: the issuer's signature over the seal verifies, the signer is
	// one of the seal's, the seal was in its validity period at the
	// signing time and is not revoked in this gateway's registry.
	Valid   bool   `json:"valid"`
	Revoked bool   `json:"revoked,omitempty"`
	Issuer  string `json:"issuer"`
}

// Reasons of a PDF signature that is not valid, beyond those above.
const (
	// ReasonNoSignature: the PDF carries no signature.
	ReasonNoSignature = "no_signature"
	// ReasonModified: bytes were added after a signature that no later
	// signature covers.
	ReasonModified = "modified"
	// ReasonSealRevoked and ReasonSealInvalid: the signature is valid but
	// the seal it carries is revoked, or not valid (issuer signature,
	// signer not the seal's, outside the seal's validity).
	ReasonSealRevoked = "seal_revoked"
	ReasonSealInvalid = "seal_invalid"
)

// EncryptRequest is the body of POST /v1/encrypt: data to envelope to a
// user's encryption credential (of Issuer and Alg when given).
type EncryptRequest struct {
	User   string `json:"user"`
	Issuer string `json:"issuer,omitempty"`
	Alg    string `json:"alg,omitempty"`
	Data   []byte `json:"data"`
}

// EncryptResponse answers POST /v1/encrypt: the DER CMS EnvelopedData and
// the credential it is addressed to.
type EncryptResponse struct {
	CMS            []byte `json:"cms"`
	Credential     string `json:"credential"`
	Issuer         string `json:"issuer"`
	Alg            string `json:"alg"`
	CertificatePEM string `json:"certificate_pem"`
}
