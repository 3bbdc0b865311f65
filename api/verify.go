package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/seal"
)

// Reasons of a verification that did not succeed (VerifyResponse.Reason):
// stable snake_case codes, listed in docs/openapi.yaml.
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

// Limits of the verify request's fields (beyond the body limit).
const (
	maxSignatureLen = 2048 // bytes of a raw signature (RSA-16384 is 2048)
	maxVerifyDigest = 64   // bytes of a digest (SHA-512 for RSA CMS)
	// maxVerifySigners bounds a CMS's SignerInfos; maxVerifyCerts bounds
	// the certificates a request carries (certificate_pem plus, for a CMS,
	// its certificate set): the signer's and ca.MaxIntermediates more.
	// Above either, the request is refused with too_many_certificates
	// before any signature is checked: each certificate may cost a
	// signature check at every level of a path.
	maxVerifySigners = 8
	maxVerifyCerts   = ca.MaxIntermediates + 1
)

// tooMany refuses a request that carries more certificates or signers than
// /v1/verify takes.
func tooMany(field, format string, args ...any) error {
	return &ca.RequestError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ca.ErrTooManyCertificates}
}

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
	// PDF is a signed (sealed) PDF: every signature in it is checked.
	PDF []byte `json:"pdf,omitempty"`
	// CertificatePEM is the signer's certificate, then optionally its
	// issuers (required with Signature). With CMS it may add intermediates
	// the CMS does not carry.
	CertificatePEM string `json:"certificate_pem,omitempty"`
}

// Validate checks the request's shape.
func (q *VerifyRequest) Validate() error {
	if len(q.PDF) > 0 {
		if len(q.Signature) > 0 || len(q.CMS) > 0 || len(q.Data) > 0 || len(q.Digest) > 0 || q.CertificatePEM != "" {
			return invalid("pdf", "give pdf alone")
		}
		return nil
	}
	switch {
	case len(q.Signature) == 0 && len(q.CMS) == 0:
		return invalid("signature", "give signature (with certificate_pem), cms or pdf")
	case len(q.Signature) > 0 && len(q.CMS) > 0:
		return invalid("cms", "give signature or cms, not both")
	case len(q.Data) > 0 && len(q.Digest) > 0:
		return invalid("digest", "give data or digest, not both")
	case len(q.Signature) > maxSignatureLen:
		return invalid("signature", "longer than %d bytes", maxSignatureLen)
	case len(q.Digest) > maxVerifyDigest:
		return invalid("digest", "longer than %d bytes", maxVerifyDigest)
	}
	if err := maxBytes("certificate_pem", q.CertificatePEM, maxPEMLen); err != nil {
		return err
	}
	if len(q.Signature) > 0 {
		switch {
		case q.CertificatePEM == "":
			return invalid("certificate_pem", "required with a raw signature")
		case len(q.Data) == 0 && len(q.Digest) == 0:
			return invalid("data", "a raw signature needs the data or its digest")
		case len(q.Digest) > 0 && len(q.Digest) != gmcrypto.DigestSize:
			return invalid("digest", "must be %d bytes (SM3(Z||M) for SM2, SHA-256(M) for RSA)", gmcrypto.DigestSize)
		}
	}
	return nil
}

// VerifySigner describes the signer's certificate. IssuerID, Credential
// and User are set only when the signature is valid; Credential and User
// only when the certificate is one the gateway issued for a user.
type VerifySigner struct {
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

// VerifyResponse answers POST /v1/verify. A signature that does not verify
// or a certificate that is not acceptable is Valid false with a Reason
// (ReasonBadSignature, …) and a Message for people; Signer is set whenever
// the signer's certificate is known.
type VerifyResponse struct {
	Valid   bool          `json:"valid"`
	Signer  *VerifySigner `json:"signer,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Message string        `json:"message,omitempty"`
	// SigningTime is the CMS signing-time attribute (as the signer claims
	// it), when present.
	SigningTime time.Time `json:"signing_time,omitzero"`
	// Signers counts the CMS signers (all of them must be valid; Signer
	// describes the first, or the first that failed).
	Signers int `json:"signers,omitempty"`
	// LoginSession is set when a raw signature's data is a login challenge
	// naming the calling app: true when data and signature are exactly the
	// result of one of its login sessions that completed (and is still
	// kept, see session retention), false otherwise. A signature over a
	// challenge made any other way (a sign session of another app over
	// the same bytes, or over their digest) is false: see LoginSession.
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
	Valid   bool          `json:"valid"`
	Reason  string        `json:"reason,omitempty"`
	Message string        `json:"message,omitempty"`
	Signer  *VerifySigner `json:"signer,omitempty"`
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

// maxVerifyPDFSignatures bounds the signatures /v1/verify checks in a PDF.
const maxVerifyPDFSignatures = 32

func (a *API) verifyPDF(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	sigs, err := seal.Verify(req.PDF)
	if err != nil {
		return nil, err
	}
	if len(sigs) > maxVerifyPDFSignatures {
		return nil, tooMany("pdf", "%d signatures, at most %d", len(sigs), maxVerifyPDFSignatures)
	}
	res := &VerifyResponse{Valid: len(sigs) > 0, PDFSignatures: []PDFSignature{}, Signers: len(sigs)}
	if len(sigs) == 0 {
		res.Reason, res.Message = ReasonNoSignature, "the PDF carries no signature"
	}
	for _, s := range sigs {
		ps := PDFSignature{Field: s.Field, SubFilter: s.SubFilter, Time: s.Time, Valid: s.Valid,
			CoversWholeDocument: s.CoversWholeDocument, Modified: s.Modified, SigningCertificateV2: s.SigningCertificateV2}
		if !s.Valid {
			ps.Reason, ps.Message = ReasonBadSignature, "the signature does not verify over its byte ranges"
		}
		if s.Signer != nil {
			if len(s.Certificates) > maxVerifyCerts {
				return nil, tooMany("pdf", "a signature carries %d certificates, at most %d", len(s.Certificates), maxVerifyCerts)
			}
			chain := []*smx509.Certificate{s.Signer}
			for _, c := range s.Certificates {
				if !bytes.Equal(c.Raw, s.Signer.Raw) {
					chain = append(chain, c)
				}
			}
			chk, err := a.checkSigner(ctx, chain, describe(s.Signer))
			if err != nil {
				return nil, err
			}
			ps.Signer = chk.Signer
			if s.Valid && !chk.Valid {
				ps.Valid, ps.Reason, ps.Message = false, chk.Reason, chk.Message
			}
		}
		if ps.Valid && s.Modified {
			ps.Valid, ps.Reason, ps.Message = false, ReasonModified, "bytes were added after this signature that no later signature covers"
		}
		if s.Seal != nil {
			revoked, err := a.ca.SealRevoked(ctx, s.Seal.ID)
			if err != nil {
				return nil, err
			}
			ps.Seal = &PDFSeal{ID: s.Seal.ID, Name: s.Seal.Name, Kind: string(s.Seal.Kind), Revoked: revoked,
				Issuer: s.Seal.Issuer.Subject.String(),
				Valid:  s.SealValid && !revoked && (s.Time.IsZero() || s.Seal.ValidAt(s.Time))}
		}
		if !ps.Valid && res.Valid {
			res.Valid, res.Reason, res.Message = false, ps.Reason, ps.Field+": "+ps.Message
		}
		if ps.Valid && ps.Seal != nil && !ps.Seal.Valid && res.Valid {
			res.Valid, res.Reason, res.Message = false, ReasonSealInvalid, ps.Field+": the seal is not valid"
			if ps.Seal.Revoked {
				res.Reason, res.Message = ReasonSealRevoked, ps.Field+": the seal is revoked"
			}
		}
		if res.Signer == nil {
			res.Signer = ps.Signer
		}
		res.PDFSignatures = append(res.PDFSignatures, ps)
	}
	return res, nil
}

func (a *API) verify(w http.ResponseWriter, r *http.Request) error {
	app, err := a.portalApp(r)
	if err != nil {
		return err
	}
	var req VerifyRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	var res *VerifyResponse
	if len(req.PDF) > 0 {
		if res, err = a.verifyPDF(r.Context(), &req); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	if len(req.Signature) > 0 {
		res, err = a.verifyRaw(r.Context(), &req)
	} else {
		res, err = a.verifyCMS(r.Context(), &req)
	}
	if err != nil {
		return err
	}
	if res.LoginSession, err = a.loginSession(r.Context(), app.ID, &req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// parseCertField parses a PEM certificate field; a malformed one is
// malformed_pem naming the field.
func parseCertField(field, pemText string) ([]*smx509.Certificate, error) {
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(pemText))
	if err != nil {
		return nil, &ca.RequestError{Field: field, Reason: err.Error(), Err: ca.ErrMalformedPEM}
	}
	return certs, nil
}

// describe is the signer's certificate as the answer shows it.
func describe(c *smx509.Certificate) *VerifySigner {
	s := &VerifySigner{
		Subject:        c.Subject.String(),
		Issuer:         c.Issuer.String(),
		NotAfter:       c.NotAfter,
		CertificatePEM: string(gmcrypto.EncodeCertificatesPEM(c)),
	}
	if c.SerialNumber != nil {
		s.Serial = hex.EncodeToString(c.SerialNumber.Bytes())
	}
	if alg, err := gmcrypto.KeyAlg(c.PublicKey); err == nil {
		s.Alg = string(alg)
	}
	return s
}

func (a *API) verifyRaw(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	certs, err := parseCertField("certificate_pem", req.CertificatePEM)
	if err != nil {
		return nil, err
	}
	if len(certs) > maxVerifyCerts {
		return nil, tooMany("certificate_pem", "%d certificates, at most %d", len(certs), maxVerifyCerts)
	}
	leaf := certs[0]
	if _, err := gmcrypto.KeyAlg(leaf.PublicKey); err != nil {
		return nil, &ca.RequestError{Field: "certificate_pem", Reason: "the certificate's key is neither SM2 nor RSA", Err: gmcrypto.ErrUnsupported}
	}
	signer := describe(leaf)
	if len(req.Data) > 0 {
		err = gmcrypto.Verify(leaf.PublicKey, req.Data, req.Signature, nil)
	} else {
		err = gmcrypto.VerifyDigest(leaf.PublicKey, req.Digest, req.Signature, nil)
	}
	if err != nil {
		return &VerifyResponse{Signer: signer, Reason: ReasonBadSignature, Message: "the signature does not verify under the certificate's key"}, nil
	}
	return a.checkSigner(ctx, certs, signer)
}

func (a *API) verifyCMS(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	kind, err := gmcrypto.CMSKind(req.CMS)
	if err != nil {
		return nil, &ca.RequestError{Field: "cms", Reason: "not a CMS SignedData", Err: gmcrypto.ErrMalformed}
	}
	if kind != gmcrypto.CMSKindSignedData {
		return nil, invalid("cms", "is an EnvelopedData, not a SignedData (a decrypt session opens envelopes)")
	}
	detached, err := gmcrypto.CMSDetached(req.CMS)
	if err != nil {
		return nil, &ca.RequestError{Field: "cms", Reason: "the SignedData cannot be parsed", Err: gmcrypto.ErrMalformed}
	}
	if detached && len(req.Data) == 0 && len(req.Digest) == 0 {
		return nil, invalid("data", "a detached CMS needs the data or its digest")
	}
	var extra []*smx509.Certificate
	if req.CertificatePEM != "" {
		if extra, err = parseCertField("certificate_pem", req.CertificatePEM); err != nil {
			return nil, err
		}
	}
	nSigners, nCerts, err := gmcrypto.CMSCounts(req.CMS)
	if err != nil {
		return nil, &ca.RequestError{Field: "cms", Reason: "the SignedData cannot be parsed", Err: gmcrypto.ErrMalformed}
	}
	switch {
	case nSigners > maxVerifySigners:
		return nil, tooMany("cms", "%d signers, at most %d", nSigners, maxVerifySigners)
	case nCerts+len(extra) > maxVerifyCerts:
		return nil, tooMany("cms", "%d certificates (with certificate_pem), at most %d", nCerts+len(extra), maxVerifyCerts)
	}
	var sc *gmcrypto.SignedCMS
	switch {
	case len(req.Digest) > 0:
		sc, err = gmcrypto.VerifyCMSDigest(req.CMS, req.Digest)
	case len(req.Data) > 0:
		sc, err = gmcrypto.VerifyCMS(req.CMS, req.Data)
	default:
		sc, err = gmcrypto.VerifyCMS(req.CMS, nil)
	}
	switch {
	case errors.Is(err, gmcrypto.ErrVerification):
		return &VerifyResponse{Reason: ReasonBadSignature, Message: "the CMS signature does not verify"}, nil
	case errors.Is(err, gmcrypto.ErrMalformed):
		return nil, &ca.RequestError{Field: "cms", Reason: "the SignedData cannot be parsed", Err: gmcrypto.ErrMalformed}
	case err != nil:
		return nil, err
	}
	var first *VerifyResponse
	for _, s := range sc.Signers {
		chain := []*smx509.Certificate{s}
		for _, c := range append(append([]*smx509.Certificate{}, sc.Certificates...), extra...) {
			if !slices.ContainsFunc(chain, func(d *smx509.Certificate) bool { return bytes.Equal(c.Raw, d.Raw) }) {
				chain = append(chain, c)
			}
		}
		res, err := a.checkSigner(ctx, chain, describe(s))
		if err != nil {
			return nil, err
		}
		if !res.Valid {
			first = res
			break
		}
		if first == nil {
			first = res
		}
	}
	if first == nil { // VerifyCMS refuses a SignedData without signers
		return &VerifyResponse{Reason: ReasonBadSignature, Message: "the CMS has no signer"}, nil
	}
	first.SigningTime = sc.SigningTime
	first.Signers = len(sc.Signers)
	return first, nil
}

// checkSigner checks a signer's chain, validity, key usage and revocation
// against the registered issuers, now by the CA's clock.
func (a *API) checkSigner(ctx context.Context, chain []*smx509.Certificate, signer *VerifySigner) (*VerifyResponse, error) {
	v, err := a.ca.Verify(ctx, chain, ca.UsageSign, a.ca.Now())
	if err != nil {
		reason := ""
		switch {
		case errors.Is(err, ca.ErrUntrusted):
			reason = ReasonUntrusted
		case errors.Is(err, ca.ErrCertificateExpired):
			reason = ReasonExpired
		case errors.Is(err, ca.ErrCertificateRevoked):
			reason = ReasonRevoked
		case errors.Is(err, ca.ErrKeyUsage):
			reason = ReasonKeyUsage
		default:
			return nil, err
		}
		return &VerifyResponse{Signer: signer, Reason: reason, Message: err.Error()}, nil
	}
	signer.IssuerID, signer.Credential, signer.User = v.IssuerID, v.CredentialID, v.UserID
	return &VerifyResponse{Valid: true, Signer: signer}, nil
}
