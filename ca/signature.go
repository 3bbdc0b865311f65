package ca

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// Checking a signature someone presents (POST /v1/verify): the signature
// over the data or digest, then the signer's certificate against the
// registered issuers (Verify).

// Limits of a signature check, enforced before any signature is checked:
// each certificate may cost a signature check at every level of a path.
const (
	// MaxSigners bounds a CMS's SignerInfos.
	MaxSigners = 8
	// MaxSignatureCerts bounds the certificates a check carries
	// (CertificatePEM plus, for a CMS, its certificate set): the signer's
	// and MaxIntermediates more.
	MaxSignatureCerts = MaxIntermediates + 1
)

// SignatureCheck is a signature to check: a raw Signature with the
// signer's certificate (CertificatePEM, then optionally its issuers), or
// a CMS SignedData that carries its certificates (CertificatePEM may add
// intermediates). Data or Digest is what was signed (see
// protocol.VerifyRequest); an attached CMS needs neither.
type SignatureCheck struct {
	Data           []byte
	Digest         []byte
	Signature      []byte
	CMS            []byte
	CertificatePEM string
	// Logins, when set, is asked whether a raw Signature over Data is a
	// login of app AppID (SignatureVerdict.LoginSession).
	Logins LoginProver
	AppID  string
}

// LoginProver tells whether a raw signature over data is a login of app
// appID: nil when data is not a login challenge naming appID; else
// whether data and signature are exactly the result of one of its
// completed login sessions (session.Service.LoginProof).
type LoginProver interface {
	LoginProof(ctx context.Context, appID string, data, signature []byte) (*bool, error)
}

// SignatureVerdict is the outcome of a signature check that could be
// made. Valid false comes with a Reason (protocol.ReasonBadSignature,
// ReasonUntrusted, ReasonExpired, ReasonRevoked, ReasonKeyUsage) and a
// Message for people.
type SignatureVerdict struct {
	Valid   bool
	Reason  string
	Message string
	// Signer is the signer's certificate (the first signer of a CMS, or
	// the first that failed), when it is known.
	Signer *smx509.Certificate
	// Verified is what Verify found of a valid signer: issuer, credential
	// and user.
	Verified *Verified
	// SigningTime is a CMS signing-time attribute, when present; Signers
	// counts the CMS signers (all must be valid).
	SigningTime time.Time
	Signers     int
	// LoginSession is the answer of SignatureCheck.Logins for a raw
	// signature (nil without Logins, or when the data is no login
	// challenge of the app).
	LoginSession *bool
}

// CheckSignature checks c at the CA's clock. A signature that does not
// verify, or a signer that Verify refuses as untrusted, expired, revoked
// or not for signing, is a SignatureVerdict with Valid false. Errors are
// for a check that cannot be made: a malformed certificate_pem
// (ErrMalformedPEM) or CMS (gmcrypto.ErrMalformed), a key that is neither
// SM2 nor RSA (gmcrypto.ErrUnsupported), an EnvelopedData or a detached
// CMS without data (ErrInvalidRequest), more certificates or signers than
// MaxSignatureCerts and MaxSigners (ErrTooManyCertificates), each a
// *RequestError naming the field; or the store (or Logins) failing.
func (s *Service) CheckSignature(ctx context.Context, c SignatureCheck) (*SignatureVerdict, error) {
	if len(c.Signature) > 0 {
		v, err := s.checkRaw(ctx, c)
		if err != nil || c.Logins == nil {
			return v, err
		}
		if v.LoginSession, err = c.Logins.LoginProof(ctx, c.AppID, c.Data, c.Signature); err != nil {
			return nil, err
		}
		return v, nil
	}
	return s.checkCMS(ctx, c)
}

// tooMany refuses a check that carries more certificates or signers than
// it may.
func tooMany(field, format string, args ...any) error {
	return &RequestError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrTooManyCertificates}
}

// parseCertField parses a PEM certificate field; a malformed one is
// ErrMalformedPEM naming the field.
func parseCertField(field, pemText string) ([]*smx509.Certificate, error) {
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(pemText))
	if err != nil {
		return nil, &RequestError{Field: field, Reason: err.Error(), Err: ErrMalformedPEM}
	}
	return certs, nil
}

func (s *Service) checkRaw(ctx context.Context, c SignatureCheck) (*SignatureVerdict, error) {
	certs, err := parseCertField("certificate_pem", c.CertificatePEM)
	if err != nil {
		return nil, err
	}
	if len(certs) > MaxSignatureCerts {
		return nil, tooMany("certificate_pem", "%d certificates, at most %d", len(certs), MaxSignatureCerts)
	}
	leaf := certs[0]
	if _, err := gmcrypto.KeyAlg(leaf.PublicKey); err != nil {
		return nil, &RequestError{Field: "certificate_pem", Reason: "the certificate's key is neither SM2 nor RSA", Err: gmcrypto.ErrUnsupported}
	}
	if len(c.Data) > 0 {
		err = gmcrypto.Verify(leaf.PublicKey, c.Data, c.Signature, nil)
	} else {
		err = gmcrypto.VerifyDigest(leaf.PublicKey, c.Digest, c.Signature, nil)
	}
	if err != nil {
		return &SignatureVerdict{Signer: leaf, Reason: protocol.ReasonBadSignature, Message: "the signature does not verify under the certificate's key"}, nil
	}
	return s.CheckSigner(ctx, certs)
}

// malformedCMS is the error of a CMS that cannot be parsed.
func malformedCMS(reason string) error {
	return &RequestError{Field: "cms", Reason: reason, Err: gmcrypto.ErrMalformed}
}

func (s *Service) checkCMS(ctx context.Context, c SignatureCheck) (*SignatureVerdict, error) {
	kind, err := gmcrypto.CMSKind(c.CMS)
	if err != nil {
		return nil, malformedCMS("not a CMS SignedData")
	}
	if kind != gmcrypto.CMSKindSignedData {
		return nil, invalid("cms", "is an EnvelopedData, not a SignedData (a decrypt session opens envelopes)")
	}
	detached, err := gmcrypto.CMSDetached(c.CMS)
	if err != nil {
		return nil, malformedCMS("the SignedData cannot be parsed")
	}
	if detached && len(c.Data) == 0 && len(c.Digest) == 0 {
		return nil, invalid("data", "a detached CMS needs the data or its digest")
	}
	var extra []*smx509.Certificate
	if c.CertificatePEM != "" {
		if extra, err = parseCertField("certificate_pem", c.CertificatePEM); err != nil {
			return nil, err
		}
	}
	nSigners, nCerts, err := gmcrypto.CMSCounts(c.CMS)
	if err != nil {
		return nil, malformedCMS("the SignedData cannot be parsed")
	}
	switch {
	case nSigners > MaxSigners:
		return nil, tooMany("cms", "%d signers, at most %d", nSigners, MaxSigners)
	case nCerts+len(extra) > MaxSignatureCerts:
		return nil, tooMany("cms", "%d certificates (with certificate_pem), at most %d", nCerts+len(extra), MaxSignatureCerts)
	}
	var sc *gmcrypto.SignedCMS
	switch {
	case len(c.Digest) > 0:
		sc, err = gmcrypto.VerifyCMSDigest(c.CMS, c.Digest)
	case len(c.Data) > 0:
		sc, err = gmcrypto.VerifyCMS(c.CMS, c.Data)
	default:
		sc, err = gmcrypto.VerifyCMS(c.CMS, nil)
	}
	switch {
	case errors.Is(err, gmcrypto.ErrVerification):
		return &SignatureVerdict{Reason: protocol.ReasonBadSignature, Message: "the CMS signature does not verify"}, nil
	case errors.Is(err, gmcrypto.ErrMalformed):
		return nil, malformedCMS("the SignedData cannot be parsed")
	case err != nil:
		return nil, err
	}
	var first *SignatureVerdict
	for _, signer := range sc.Signers {
		chain := []*smx509.Certificate{signer}
		for _, cert := range append(append([]*smx509.Certificate{}, sc.Certificates...), extra...) {
			if !slices.ContainsFunc(chain, func(d *smx509.Certificate) bool { return bytes.Equal(cert.Raw, d.Raw) }) {
				chain = append(chain, cert)
			}
		}
		v, err := s.CheckSigner(ctx, chain)
		if err != nil {
			return nil, err
		}
		if !v.Valid {
			first = v
			break
		}
		if first == nil {
			first = v
		}
	}
	if first == nil { // VerifyCMS refuses a SignedData without signers
		return &SignatureVerdict{Reason: protocol.ReasonBadSignature, Message: "the CMS has no signer"}, nil
	}
	first.SigningTime = sc.SigningTime
	first.Signers = len(sc.Signers)
	return first, nil
}

// CheckSigner checks a signer's chain (chain[0] is the signer's
// certificate), validity, key usage and revocation against the registered
// issuers, now by the CA's clock: a verdict with the signer's certificate,
// Valid false with a Reason when Verify refuses it (untrusted, expired,
// revoked, key usage). Errors are for a check that cannot be made.
func (s *Service) CheckSigner(ctx context.Context, chain []*smx509.Certificate) (*SignatureVerdict, error) {
	v, err := s.Verify(ctx, chain, UsageSign, s.Now())
	if err != nil {
		reason := ""
		switch {
		case errors.Is(err, ErrUntrusted):
			reason = protocol.ReasonUntrusted
		case errors.Is(err, ErrCertificateExpired):
			reason = protocol.ReasonExpired
		case errors.Is(err, ErrCertificateRevoked):
			reason = protocol.ReasonRevoked
		case errors.Is(err, ErrKeyUsage):
			reason = protocol.ReasonKeyUsage
		default:
			return nil, err
		}
		return &SignatureVerdict{Signer: chain[0], Reason: reason, Message: err.Error()}, nil
	}
	return &SignatureVerdict{Valid: true, Signer: chain[0], Verified: v}, nil
}
