package portal

import (
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/seal"
)

// VerifiedPDFSignature is one signature of a PDF as VerifyPDF found it.
type VerifiedPDFSignature struct {
	Field string
	Time  time.Time
	// Valid: the CMS verifies over the signed byte ranges, and (with
	// roots) the signer's certificate chains to one of them at Time (or
	// now); Problem says why not.
	Valid   bool
	Problem string
	Signer  *smx509.Certificate
	// CoversWholeDocument and Modified: see package seal.
	CoversWholeDocument bool
	Modified            bool
	// Seal is the GB/T 38540 seal the signature carries (nil if none);
	// SealValid tells whether its maker's signature verifies and the
	// signer is one of its signers. Revocation of the seal and of the
	// certificate is the gateway's to tell (Client.VerifyPDF).
	Seal      *seal.SES
	SealValid bool
}

// VerifyPDF checks every signature of a PDF without the gateway: each CMS
// (SM2 per GM/T 0010, or RSA) over its byte ranges, whether bytes were
// added after it, the seal it carries and, when roots are given (GET
// /v1/issuers/{id}/ca.pem), the signer's chain to one of them. It does not
// check revocation: ask the gateway (Client.VerifyPDF). A document that
// cannot be read is an error wrapping seal.ErrBadPDF.
func VerifyPDF(pdf []byte, roots []*smx509.Certificate) ([]VerifiedPDFSignature, error) {
	sigs, err := seal.Verify(pdf)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	out := make([]VerifiedPDFSignature, 0, len(sigs))
	for _, s := range sigs {
		v := VerifiedPDFSignature{Field: s.Field, Time: s.Time, Valid: s.Valid, Problem: s.Problem, Signer: s.Signer,
			CoversWholeDocument: s.CoversWholeDocument, Modified: s.Modified, Seal: s.Seal, SealValid: s.SealValid}
		if v.Valid && len(roots) > 0 {
			pool, inter := smx509.NewCertPool(), smx509.NewCertPool()
			for _, r := range roots {
				if r != nil {
					pool.AddCert(r)
				}
			}
			for _, c := range s.Certificates {
				inter.AddCert(c)
			}
			at := s.Time
			if at.IsZero() {
				at = time.Now()
			}
			if _, err := s.Signer.Verify(smx509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at,
				KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}); err != nil {
				v.Valid, v.Problem = false, "the signer does not chain to the given roots"
			}
		}
		out = append(out, v)
	}
	return out, nil
}
