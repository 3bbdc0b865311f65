package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
	"github.com/ukeygate/ukeygate/protocol"
)

// Request bodies of the v1 protocol. Validate checks presence and shape;
// the services check the rest (policy, PEM contents) and answer with their
// own errors.

// Field limits checked before a request reaches the services.
const (
	maxNameLen = 200                // characters of a display name
	maxPINLen  = protocol.MaxPINLen // bytes of a PIN as typed
	maxCodeLen = 128                // bytes of an activation code as typed
	maxPEMLen  = 65536              // bytes of one PEM field
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

// optionalUserID refuses a user id filter that is not of the form the
// gateway gives user ids (protocol.ValidUserID): an id cut short or
// mistyped would otherwise match nobody and list nothing.
func optionalUserID(field, v string) error {
	if v != "" && !protocol.ValidUserID(v) {
		return invalid(field, "not a user id: %s and 16 characters of %s", protocol.UserIDPrefix, protocol.IDAlphabet)
	}
	return nil
}

// noQuery refuses any query parameter, on a read that takes none: a
// filter the endpoint does not have is not ignored, so that a caller
// never reads the whole list as the filtered one.
func noQuery(r *http.Request) error {
	_, err := queryParams(r)
	return err
}

// queryParams is r's query when each parameter is one of known and given
// at most once; else invalid_request naming one that is not (a listing
// never answers as if a mistyped filter were absent).
func queryParams(r *http.Request, known ...string) (url.Values, error) {
	q := r.URL.Query()
	for k, v := range q {
		if !slices.Contains(known, k) {
			return nil, invalid(k, "unknown query parameter")
		}
		if len(v) > 1 {
			return nil, invalid(k, "given more than once")
		}
	}
	return q, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// IssuerRequest is the body of POST /v1/admin/issuers
// (protocol.IssuerRequest).
type IssuerRequest protocol.IssuerRequest

// Validate checks the request with the CA's own rules
// (ca.IssuerRequest.Validate), before anything else happens.
func (q *IssuerRequest) Validate() error {
	r := q.caRequest()
	return r.Validate()
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
		prof := &ca.Profile{ValidityDays: p.ValidityDays, RSABits: p.RSABits, SubjectFields: p.SubjectFields, RenewalKey: p.RenewalKey, Escrow: p.Escrow}
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

// AppRequest is the body of POST /v1/admin/apps (protocol.AppRequest).
type AppRequest protocol.AppRequest

// Validate checks the request's shape.
func (q *AppRequest) Validate() error {
	err := firstError(required("name", q.Name), maxChars("name", q.Name, maxNameLen))
	if err == nil && q.Webhook != nil {
		if err = (*WebhookRequest)(q.Webhook).Validate(); err != nil {
			var fe *protocol.FieldError
			if errors.As(err, &fe) {
				err = &protocol.FieldError{Field: "webhook." + fe.Field, Reason: fe.Reason, Err: fe.Err}
			}
		}
	}
	return err
}

// UserRequest is the body of POST /v1/admin/users (protocol.UserRequest).
type UserRequest protocol.UserRequest

// Validate checks the request with the CA's own rules
// (ca.UserRequest.Validate).
func (q *UserRequest) Validate() error {
	r := ca.UserRequest{Name: q.Name, IDNumber: q.IDNumber, Phone: q.Phone, Organization: q.Organization, Kind: q.Kind, CreditCode: q.CreditCode}
	return r.Validate()
}

// ImportRequest is the body of POST /v1/admin/credentials/{id}/certificate
// (protocol.ImportRequest).
type ImportRequest protocol.ImportRequest

// Validate checks the request's shape.
func (q *ImportRequest) Validate() error {
	return firstError(required("certificate_pem", q.CertificatePEM), maxBytes("certificate_pem", q.CertificatePEM, maxPEMLen))
}

// RevokeRequest is the body of POST /v1/admin/credentials/{id}/revoke
// (protocol.RevokeRequest).
type RevokeRequest protocol.RevokeRequest

// Validate checks the request's shape.
func (q *RevokeRequest) Validate() error { return maxBytes("reason", q.Reason, 64) }

// EnrollRequest is the body of POST /v1/enroll (protocol.EnrollRequest).
type EnrollRequest protocol.EnrollRequest

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

// CredentialRequest is the body of POST /v1/me/credentials
// (protocol.CredentialRequest).
type CredentialRequest protocol.CredentialRequest

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

// PINRequest is the body of PUT /v1/me/pin (protocol.PINRequest).
type PINRequest protocol.PINRequest

// Validate checks the request's shape.
func (q *PINRequest) Validate() error {
	return firstError(
		required("old_pin", q.OldPIN),
		maxBytes("old_pin", q.OldPIN, maxPINLen),
		required("new_pin", q.NewPIN),
		maxBytes("new_pin", q.NewPIN, maxPINLen),
	)
}

// AccountDeleteRequest is the body of DELETE /v1/me
// (protocol.AccountDeleteRequest).
type AccountDeleteRequest protocol.AccountDeleteRequest

// Validate checks the request's shape.
func (q *AccountDeleteRequest) Validate() error {
	return firstError(required("pin", q.PIN), maxBytes("pin", q.PIN, maxPINLen))
}
