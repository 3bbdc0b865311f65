package api

import (
	"encoding/hex"
	"net/http"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
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

// pdfAnswer renders the CA's verdict on a PDF.
func pdfAnswer(v *ca.PDFVerdict) protocol.VerifyResponse {
	res := protocol.VerifyResponse{Valid: v.Valid, Reason: v.Reason, Message: v.Message,
		PDFSignatures: []protocol.PDFSignature{}, Signers: len(v.Signatures)}
	if v.Signer != nil {
		res.Signer = verifyAnswer(v.Signer).Signer
	}
	for _, s := range v.Signatures {
		ps := protocol.PDFSignature{Field: s.Field, SubFilter: s.SubFilter, Time: s.Time, Valid: s.Valid,
			Reason: s.Reason, Message: s.Message, CoversWholeDocument: s.CoversWholeDocument, Modified: s.Modified,
			SigningCertificateV2: s.SigningCertificateV2}
		if s.Signer != nil {
			ps.Signer = verifyAnswer(s.Signer).Signer
		}
		if sl := s.Seal; sl != nil {
			ps.Seal = &protocol.PDFSeal{ID: sl.ID, Name: sl.Name, Kind: sl.Kind, Revoked: sl.Revoked, Issuer: sl.Issuer, Valid: sl.Valid}
		}
		res.PDFSignatures = append(res.PDFSignatures, ps)
	}
	return res
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
		v, err := a.ca.CheckPDF(r.Context(), req.PDF)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, pdfAnswer(v))
		return nil
	}
	check := ca.SignatureCheck{
		Data: req.Data, Digest: req.Digest, Signature: req.Signature, CMS: req.CMS, CertificatePEM: req.CertificatePEM,
		AppID: app.ID,
	}
	if a.sessions != nil {
		check.Logins = a.sessions
	}
	v, err := a.ca.CheckSignature(r.Context(), check)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, verifyAnswer(v))
	return nil
}

// verifyAnswer renders the CA's verdict.
func verifyAnswer(v *ca.SignatureVerdict) protocol.VerifyResponse {
	res := protocol.VerifyResponse{
		Valid: v.Valid, Reason: v.Reason, Message: v.Message,
		SigningTime: v.SigningTime, Signers: v.Signers, LoginSession: v.LoginSession,
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
