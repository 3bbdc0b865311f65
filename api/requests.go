package api

import (
	"strings"
	"unicode/utf8"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// Request bodies of the v1 protocol. Validate checks presence and shape;
// the services check the rest (policy, PEM contents) and answer with their
// own errors.

// Field limits checked before a request reaches the services.
const (
	maxNameLen = 200   // characters of a display name
	maxPINLen  = 64    // bytes of a PIN as typed
	maxCodeLen = 128   // bytes of an activation code as typed
	maxPEMLen  = 65536 // bytes of one PEM field
)

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "required")
	}
	return nil
}

func maxChars(field, v string, n int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "not valid UTF-8")
	}
	if utf8.RuneCountInString(v) > n {
		return invalid(field, "longer than %d characters", n)
	}
	return nil
}

func maxBytes(field, v string, n int) error {
	if len(v) > n {
		return invalid(field, "longer than %d bytes", n)
	}
	return nil
}

func optionalID(field, v string) error {
	if v != "" && !ca.ValidID(v) {
		return invalid(field, "must be 1 to 64 characters of a-z, 0-9, _ and -")
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// IssuerSubject is the subject of a generated CA certificate.
type IssuerSubject struct {
	CommonName   string `json:"common_name"`
	Organization string `json:"organization,omitempty"`
	Country      string `json:"country,omitempty"`
}

// IssuerProfile is an issuer's profile as the operator gives it.
type IssuerProfile struct {
	ValidityDays  int      `json:"validity_days,omitempty"`
	Algs          []string `json:"algs,omitempty"`
	RSABits       []int    `json:"rsa_bits,omitempty"`
	Purposes      []string `json:"purposes,omitempty"`
	SubjectFields []string `json:"subject_fields,omitempty"`
}

// IssuerRequest is the body of POST /v1/admin/issuers.
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
	Profile      *IssuerProfile `json:"profile,omitempty"`
}

// Validate checks the request's shape.
func (q *IssuerRequest) Validate() error {
	err := firstError(
		optionalID("id", q.ID),
		required("name", q.Name),
		maxChars("name", q.Name, maxNameLen),
		optionalID("parent", q.Parent),
		maxBytes("cert_pem", q.CertPEM, maxPEMLen),
		maxBytes("key_pem", q.KeyPEM, maxPEMLen),
		maxBytes("chain_pem", q.ChainPEM, maxPEMLen),
	)
	if err != nil {
		return err
	}
	switch ca.Mode(q.Mode) {
	case ca.ModeInternal:
		if !q.Generate && (q.CertPEM == "" || q.KeyPEM == "") {
			return invalid("cert_pem", "an internal issuer is generated (generate: true) or imported (cert_pem and key_pem)")
		}
		if q.Generate && (q.CertPEM != "" || q.KeyPEM != "" || q.ChainPEM != "") {
			return invalid("generate", "a generated issuer takes no cert_pem, key_pem or chain_pem")
		}
		if q.Generate && q.Alg == "" {
			return invalid("alg", "required when generating")
		}
	case ca.ModeExternal:
		if q.Generate {
			return invalid("generate", "an external issuer's key is not held by the gateway")
		}
		if q.ChainPEM == "" && q.CertPEM == "" {
			return invalid("chain_pem", "an external issuer needs its CA certificate (cert_pem or chain_pem)")
		}
		if q.KeyPEM != "" {
			return invalid("key_pem", "an external issuer's key is not held by the gateway")
		}
	default:
		return invalid("mode", "must be internal or external")
	}
	if q.Alg != "" && q.Alg != string(gmcrypto.AlgSM2) && q.Alg != string(gmcrypto.AlgRSA) {
		return invalid("alg", "must be SM2 or RSA")
	}
	if q.ValidityDays < 0 {
		return invalid("validity_days", "must not be negative")
	}
	if q.RSABits < 0 {
		return invalid("rsa_bits", "must not be negative")
	}
	if q.PathLen != nil && *q.PathLen < 0 {
		return invalid("path_len", "must not be negative")
	}
	if q.Subject != nil {
		if err := firstError(
			maxChars("subject.common_name", q.Subject.CommonName, maxNameLen),
			maxChars("subject.organization", q.Subject.Organization, maxNameLen),
			maxChars("subject.country", q.Subject.Country, 2),
		); err != nil {
			return err
		}
	}
	if q.Generate && (q.Subject == nil || strings.TrimSpace(q.Subject.CommonName) == "") {
		return invalid("subject.common_name", "required when generating")
	}
	if p := q.Profile; p != nil {
		if p.ValidityDays < 0 {
			return invalid("profile.validity_days", "must not be negative")
		}
		for _, alg := range p.Algs {
			if alg != string(gmcrypto.AlgSM2) && alg != string(gmcrypto.AlgRSA) {
				return invalid("profile.algs", "%q is not SM2 or RSA", alg)
			}
		}
		for _, b := range p.RSABits {
			if b <= 0 {
				return invalid("profile.rsa_bits", "%d is not a key size", b)
			}
		}
		for _, pu := range p.Purposes {
			if pu != string(ca.PurposeSign) && pu != string(ca.PurposeEncrypt) {
				return invalid("profile.purposes", "%q is not sign or encrypt", pu)
			}
		}
		for _, f := range p.SubjectFields {
			if f != ca.SubjectIDNumber && f != ca.SubjectPhone {
				return invalid("profile.subject_fields", "%q is not %s or %s", f, ca.SubjectIDNumber, ca.SubjectPhone)
			}
		}
	}
	return nil
}

// caRequest converts the request for ca.AddIssuer.
func (q *IssuerRequest) caRequest() ca.IssuerRequest {
	r := ca.IssuerRequest{
		ID:           q.ID,
		Name:         strings.TrimSpace(q.Name),
		Mode:         ca.Mode(q.Mode),
		Alg:          gmcrypto.Alg(q.Alg),
		Generate:     q.Generate,
		ValidityDays: q.ValidityDays,
		PathLen:      q.PathLen,
		RSABits:      q.RSABits,
		Parent:       q.Parent,
	}
	if q.Subject != nil {
		r.Subject = ca.Subject{CommonName: q.Subject.CommonName, Organization: q.Subject.Organization, Country: q.Subject.Country}
	}
	if q.CertPEM != "" {
		r.CertPEM = []byte(q.CertPEM)
	}
	if q.KeyPEM != "" {
		r.KeyPEM = []byte(q.KeyPEM)
	}
	if q.ChainPEM != "" {
		r.ChainPEM = []byte(q.ChainPEM)
	}
	if p := q.Profile; p != nil {
		prof := &ca.Profile{ValidityDays: p.ValidityDays, RSABits: p.RSABits, SubjectFields: p.SubjectFields}
		for _, alg := range p.Algs {
			prof.Algs = append(prof.Algs, gmcrypto.Alg(alg))
		}
		for _, pu := range p.Purposes {
			prof.Purposes = append(prof.Purposes, ca.Purpose(pu))
		}
		r.Profile = prof
	}
	return r
}

// AppRequest is the body of POST /v1/admin/apps.
type AppRequest struct {
	Name    string   `json:"name"`
	Origins []string `json:"origins"`
}

// Validate checks the request's shape.
func (q *AppRequest) Validate() error {
	return firstError(required("name", q.Name), maxChars("name", q.Name, maxNameLen))
}

// UserRequest is the body of POST /v1/admin/users.
type UserRequest struct {
	Name         string `json:"name"`
	IDNumber     string `json:"id_number,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Organization string `json:"organization,omitempty"`
}

// Validate checks the request's shape.
func (q *UserRequest) Validate() error {
	return firstError(
		required("name", q.Name),
		maxChars("name", q.Name, maxNameLen),
		maxChars("id_number", q.IDNumber, maxNameLen),
		maxChars("phone", q.Phone, maxNameLen),
		maxChars("organization", q.Organization, maxNameLen),
	)
}

// ImportRequest is the body of POST /v1/admin/credentials/{id}/certificate.
type ImportRequest struct {
	CertificatePEM string `json:"certificate_pem"`
}

// Validate checks the request's shape.
func (q *ImportRequest) Validate() error {
	return firstError(required("certificate_pem", q.CertificatePEM), maxBytes("certificate_pem", q.CertificatePEM, maxPEMLen))
}

// RevokeRequest is the body of POST /v1/admin/credentials/{id}/revoke.
type RevokeRequest struct {
	// Reason is an RFC 5280 reason name (keyCompromise, superseded, …);
	// empty means unspecified.
	Reason string `json:"reason"`
}

// Validate checks the request's shape.
func (q *RevokeRequest) Validate() error { return maxBytes("reason", q.Reason, 64) }

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	ActivationCode  string `json:"activation_code"`
	DevicePublicKey string `json:"device_public_key"`
	DeviceName      string `json:"device_name"`
	PIN             string `json:"pin"`
}

// Validate checks the request's shape.
func (q *EnrollRequest) Validate() error {
	return firstError(
		required("activation_code", q.ActivationCode),
		maxBytes("activation_code", q.ActivationCode, maxCodeLen),
		required("device_public_key", q.DevicePublicKey),
		maxBytes("device_public_key", q.DevicePublicKey, maxPEMLen),
		required("device_name", q.DeviceName),
		maxChars("device_name", q.DeviceName, maxNameLen),
		required("pin", q.PIN),
		maxBytes("pin", q.PIN, maxPINLen),
	)
}

// CredentialRequest is the body of POST /v1/me/credentials.
type CredentialRequest struct {
	Issuer  string `json:"issuer"`
	Alg     string `json:"alg"`
	Purpose string `json:"purpose"`
	// RSABits is the RSA key size; 0 means the profile's default.
	RSABits int    `json:"rsa_bits,omitempty"`
	PIN     string `json:"pin"`
	// Mode "cosign" asks for a two-party SM2 credential; Cosign is then
	// the phone's key-generation message (docs/cosign.md).
	Mode   string                `json:"mode,omitempty"`
	Cosign *cosign.KeyGenRequest `json:"cosign,omitempty"`
}

// Validate checks the request's shape; the issuer's profile decides on the
// algorithm and purpose.
func (q *CredentialRequest) Validate() error {
	err := firstError(
		required("issuer", q.Issuer),
		optionalID("issuer", q.Issuer),
		required("alg", q.Alg),
		maxBytes("alg", q.Alg, 16),
		required("purpose", q.Purpose),
		maxBytes("purpose", q.Purpose, 16),
		required("pin", q.PIN),
		maxBytes("pin", q.PIN, maxPINLen),
	)
	if err == nil && q.RSABits < 0 {
		err = invalid("rsa_bits", "must not be negative")
	}
	if err == nil {
		switch {
		case q.Mode != "" && q.Mode != ca.CredentialModeCosign:
			err = invalid("mode", `must be "cosign" or absent`)
		case q.Mode == ca.CredentialModeCosign && q.Cosign == nil:
			err = invalid("cosign", "required with mode cosign")
		case q.Mode == "" && q.Cosign != nil:
			err = invalid("cosign", `only with mode "cosign"`)
		case q.Cosign != nil && (len(q.Cosign.Point) != cosign.PointSize || len(q.Cosign.ProofT) != cosign.PointSize || len(q.Cosign.ProofZ) != cosign.ScalarSize):
			err = invalid("cosign", "point, proof_t (65 bytes) and proof_z (32 bytes) are required")
		}
	}
	return err
}

// PINRequest is the body of PUT /v1/me/pin.
type PINRequest struct {
	OldPIN string `json:"old_pin"`
	NewPIN string `json:"new_pin"`
	// Cosign re-shares each of the user's cosign credentials (credential
	// id → the phone's message): required for every active one.
	Cosign map[string]*cosign.ReshareRequest `json:"cosign,omitempty"`
}

// Validate checks the request's shape.
func (q *PINRequest) Validate() error {
	return firstError(
		required("old_pin", q.OldPIN),
		maxBytes("old_pin", q.OldPIN, maxPINLen),
		required("new_pin", q.NewPIN),
		maxBytes("new_pin", q.NewPIN, maxPINLen),
	)
}
