package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// Limits of the verify request's fields (beyond the body limit; the CA
// bounds the certificates and signers, ca.MaxSignatureCerts and
// ca.MaxSigners).
const (
	maxSignatureLen = 2048 // bytes of a raw signature (RSA-16384 is 2048)
	maxVerifyDigest = 64   // bytes of a digest (SHA-512 for RSA CMS)
)

// VerifyRequest is the body of POST /v1/verify (protocol.VerifyRequest).
type VerifyRequest protocol.VerifyRequest

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

// maxVerifyPDFSignatures bounds the signatures /v1/verify checks in a PDF.
const maxVerifyPDFSignatures = 32

// tooMany refuses a PDF that carries more signatures or certificates than
// /v1/verify takes.
func tooMany(field, format string, args ...any) error {
	return &ca.RequestError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ca.ErrTooManyCertificates}
}

// verifyPDF checks every signature of a PDF: its bytes (package seal), its
// signer (the CA, as for any signature) and the seal it carries.
func (a *API) verifyPDF(ctx context.Context, pdf []byte) (*protocol.VerifyResponse, error) {
	sigs, err := seal.Verify(pdf)
	if err != nil {
		return nil, err
	}
	if len(sigs) > maxVerifyPDFSignatures {
		return nil, tooMany("pdf", "%d signatures, at most %d", len(sigs), maxVerifyPDFSignatures)
	}
	res := &protocol.VerifyResponse{Valid: len(sigs) > 0, PDFSignatures: []protocol.PDFSignature{}, Signers: len(sigs)}
	if len(sigs) == 0 {
		res.Reason, res.Message = protocol.ReasonNoSignature, "the PDF carries no signature"
	}
	for _, s := range sigs {
		ps := protocol.PDFSignature{Field: s.Field, SubFilter: s.SubFilter, Time: s.Time, Valid: s.Valid,
			CoversWholeDocument: s.CoversWholeDocument, Modified: s.Modified, SigningCertificateV2: s.SigningCertificateV2}
		if !s.Valid {
			ps.Reason, ps.Message = protocol.ReasonBadSignature, "the signature does not verify over its byte ranges"
		}
		if s.Signer != nil {
			if len(s.Certificates) > ca.MaxSignatureCerts {
				return nil, tooMany("pdf", "a signature carries %d certificates, at most %d", len(s.Certificates), ca.MaxSignatureCerts)
			}
			chain := []*smx509.Certificate{s.Signer}
			for _, c := range s.Certificates {
				if !bytes.Equal(c.Raw, s.Signer.Raw) {
					chain = append(chain, c)
				}
			}
			chk, err := a.ca.CheckSigner(ctx, chain)
			if err != nil {
				return nil, err
			}
			ps.Signer = verifyAnswer(chk).Signer
			if s.Valid && !chk.Valid {
				ps.Valid, ps.Reason, ps.Message = false, chk.Reason, chk.Message
			}
		}
		if ps.Valid && s.Modified {
			ps.Valid, ps.Reason, ps.Message = false, protocol.ReasonModified, "bytes were added after this signature that no later signature covers"
		}
		if s.Seal != nil {
			revoked, err := a.ca.SealRevoked(ctx, s.Seal.ID)
			if err != nil {
				return nil, err
			}
			ps.Seal = &protocol.PDFSeal{ID: s.Seal.ID, Name: s.Seal.Name, Kind: string(s.Seal.Kind), Revoked: revoked,
				Issuer: s.Seal.Issuer.Subject.String(),
				Valid:  s.SealValid && !revoked && (s.Time.IsZero() || s.Seal.ValidAt(s.Time))}
		}
		if !ps.Valid && res.Valid {
			res.Valid, res.Reason, res.Message = false, ps.Reason, ps.Field+": "+ps.Message
		}
		if ps.Valid && ps.Seal != nil && !ps.Seal.Valid && res.Valid {
			res.Valid, res.Reason, res.Message = false, protocol.ReasonSealInvalid, ps.Field+": the seal is not valid"
			if ps.Seal.Revoked {
				res.Reason, res.Message = protocol.ReasonSealRevoked, ps.Field+": the seal is revoked"
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
	if len(req.PDF) > 0 {
		res, err := a.verifyPDF(r.Context(), req.PDF)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	}
	v, err := a.ca.CheckSignature(r.Context(), ca.SignatureCheck{
		Data: req.Data, Digest: req.Digest, Signature: req.Signature, CMS: req.CMS, CertificatePEM: req.CertificatePEM,
	})
	if err != nil {
		return err
	}
	res := verifyAnswer(v)
	if a.sessions != nil && len(req.Signature) > 0 {
		if res.LoginSession, err = a.sessions.LoginProof(r.Context(), app.ID, req.Data, req.Signature); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// verifyAnswer renders the CA's verdict.
func verifyAnswer(v *ca.SignatureVerdict) protocol.VerifyResponse {
	res := protocol.VerifyResponse{
		Valid: v.Valid, Reason: v.Reason, Message: v.Message,
		SigningTime: v.SigningTime, Signers: v.Signers,
	}
	if v.Signer != nil {
		res.Signer = describe(v.Signer)
		if v.Verified != nil {
			res.Signer.IssuerID, res.Signer.Credential, res.Signer.User = v.Verified.IssuerID, v.Verified.CredentialID, v.Verified.UserID
		}
	}
	return res
}

// describe is the signer's certificate as the answer shows it.
func describe(c *smx509.Certificate) *protocol.Signer {
	s := &protocol.Signer{
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
