package ca

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// MaxPDFSignatures bounds the signatures CheckPDF checks in one PDF.
const MaxPDFSignatures = 32

// PDFVerdict is what CheckPDF found in a PDF. Valid needs at least one
// signature, each valid, trusted, unmodified and its seal (if any) valid;
// else Reason and Message say the first that is not (protocol.Reason…).
type PDFVerdict struct {
	Valid   bool
	Reason  string
	Message string
	// Signatures are the PDF's signatures in file order.
	Signatures []PDFSignatureVerdict
	// Signer is the verdict on the first signature's signer that is known.
	Signer *SignatureVerdict
}

// PDFSignatureVerdict is one signature of a PDF: what package seal read
// of its bytes, the CA's verdict on its signer and the seal it carries.
type PDFSignatureVerdict struct {
	Field     string
	SubFilter string
	Time      time.Time
	// Valid: the CMS verifies over the byte ranges, the signer is trusted
	// now, and nothing unsigned follows; else Reason and Message.
	Valid   bool
	Reason  string
	Message string
	// CoversWholeDocument, Modified and SigningCertificateV2 are package
	// seal's findings.
	CoversWholeDocument  bool
	Modified             bool
	SigningCertificateV2 bool
	// Signer is the CA's verdict on the signer (nil when the signature
	// names none).
	Signer *SignatureVerdict
	// Seal is the seal the signature carries (nil: none).
	Seal *PDFSealVerdict
}

// PDFSealVerdict is the seal (SES_Seal) a PDF signature carries.
type PDFSealVerdict struct {
	ID, Name, Kind string
	// Issuer is the seal maker's distinguished name.
	Issuer string
	// Revoked: revoked in this gateway's registry; Valid: its maker's
	// signature verifies, it is not revoked and it was valid at the
	// signing time (when the signature claims one).
	Revoked bool
	Valid   bool
}

// CheckPDF checks every signature of a PDF: its bytes (package seal), its
// signer (CheckSigner, as for any signature) and the seal it carries
// (SealRevoked). Errors are for a check that cannot be made: a PDF that
// cannot be read (seal's errors), more than MaxPDFSignatures signatures
// or more than MaxSignatureCerts certificates in one
// (ErrTooManyCertificates, a *RequestError naming "pdf"), or the store
// failing.
func (s *Service) CheckPDF(ctx context.Context, pdf []byte) (*PDFVerdict, error) {
	sigs, err := seal.Verify(pdf)
	if err != nil {
		return nil, err
	}
	tooMany := func(format string, args ...any) error {
		return &RequestError{Field: "pdf", Reason: fmt.Sprintf(format, args...), Err: ErrTooManyCertificates}
	}
	if len(sigs) > MaxPDFSignatures {
		return nil, tooMany("%d signatures, at most %d", len(sigs), MaxPDFSignatures)
	}
	out := &PDFVerdict{Valid: len(sigs) > 0, Signatures: []PDFSignatureVerdict{}}
	if len(sigs) == 0 {
		out.Reason, out.Message = protocol.ReasonNoSignature, "the PDF carries no signature"
	}
	for _, sg := range sigs {
		v := PDFSignatureVerdict{Field: sg.Field, SubFilter: sg.SubFilter, Time: sg.Time, Valid: sg.Valid,
			CoversWholeDocument: sg.CoversWholeDocument, Modified: sg.Modified, SigningCertificateV2: sg.SigningCertificateV2}
		if !sg.Valid {
			v.Reason, v.Message = protocol.ReasonBadSignature, "the signature does not verify over its byte ranges"
		}
		if sg.Signer != nil {
			if len(sg.Certificates) > MaxSignatureCerts {
				return nil, tooMany("a signature carries %d certificates, at most %d", len(sg.Certificates), MaxSignatureCerts)
			}
			chain := []*smx509.Certificate{sg.Signer}
			for _, c := range sg.Certificates {
				if !bytes.Equal(c.Raw, sg.Signer.Raw) {
					chain = append(chain, c)
				}
			}
			if v.Signer, err = s.CheckSigner(ctx, chain); err != nil {
				return nil, err
			}
			if sg.Valid && !v.Signer.Valid {
				v.Valid, v.Reason, v.Message = false, v.Signer.Reason, v.Signer.Message
			}
		}
		if v.Valid && sg.Modified {
			v.Valid, v.Reason, v.Message = false, protocol.ReasonModified, "bytes were added after this signature that no later signature covers"
		}
		if sg.Seal != nil {
			revoked, err := s.SealRevoked(ctx, sg.Seal.ID)
			if err != nil {
				return nil, err
			}
			v.Seal = &PDFSealVerdict{ID: sg.Seal.ID, Name: sg.Seal.Name, Kind: string(sg.Seal.Kind), Revoked: revoked,
				Issuer: sg.Seal.Issuer.Subject.String(),
				Valid:  sg.SealValid && !revoked && (sg.Time.IsZero() || sg.Seal.ValidAt(sg.Time))}
		}
		switch {
		case !v.Valid && out.Valid:
			out.Valid, out.Reason, out.Message = false, v.Reason, v.Field+": "+v.Message
		case v.Valid && v.Seal != nil && !v.Seal.Valid && out.Valid:
			out.Valid, out.Reason, out.Message = false, protocol.ReasonSealInvalid, v.Field+": the seal is not valid"
			if v.Seal.Revoked {
				out.Reason, out.Message = protocol.ReasonSealRevoked, v.Field+": the seal is revoked"
			}
		}
		if out.Signer == nil {
			out.Signer = v.Signer
		}
		out.Signatures = append(out.Signatures, v)
	}
	return out, nil
}
