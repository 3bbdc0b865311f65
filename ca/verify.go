package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/ukeygate/ukeygate/storage"
)

// maxPathDepth bounds the intermediates Verify walks through.
const maxPathDepth = 8

// Verify checks a certificate for use at time at. chain[0] is the
// certificate; chain[1:] may carry intermediates that lead to a registered
// issuer. Every registered issuer (internal or external, root or
// intermediate) is a trust anchor. It checks, in this order:
//
//   - the path: each certificate is signed by the next (names and
//     signatures, CA flags, keyCertSign, path length constraints) up to a
//     registered issuer, and no certificate has an unhandled critical
//     extension, else ErrUntrusted;
//   - validity: every certificate of the path, up to the root of the
//     registered issuer's chain, is valid at at, else ErrCertificateExpired;
//   - key usage: the certificate's key usage allows usage, else ErrKeyUsage;
//   - revocation: the certificate is not on the registered issuer's
//     revocation list (the entries its CRL is made of), else
//     ErrCertificateRevoked.
func (s *Service) Verify(ctx context.Context, chain []*smx509.Certificate, usage Usage, at time.Time) (*Verified, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	leaf := chain[0]
	issuers, err := s.Issuers(ctx)
	if err != nil {
		return nil, err
	}
	path, anchor, err := buildPath(leaf, chain[1:], issuers)
	if err != nil {
		return nil, err
	}
	full := append(path, anchor.Chain[1:]...)
	for i, c := range full {
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			what := "the certificate"
			if i > 0 {
				what = fmt.Sprintf("issuer certificate %q", c.Subject.String())
			}
			return nil, fmt.Errorf("%w: %s is valid from %s to %s", ErrCertificateExpired, what,
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if !usageAllows(leaf, usage) {
		return nil, fmt.Errorf("%w: key usage %#x", ErrKeyUsage, leaf.KeyUsage)
	}
	v := &Verified{
		Subject:  leaf.Subject.String(),
		Issuer:   leaf.Issuer.String(),
		IssuerID: anchor.ID,
		Serial:   serialHex(leaf.SerialNumber),
		NotAfter: leaf.NotAfter,
		Chain:    full,
	}
	// Our own revocation records and serial index are kept for the issuer
	// that signed the certificate, which is the anchor exactly when the
	// path has no outside intermediate.
	if len(path) == 2 {
		r, err := s.revoked(ctx, anchor.ID, v.Serial)
		if err != nil {
			return nil, err
		}
		if r != nil {
			return nil, fmt.Errorf("%w: serial %s, %s, at %s", ErrCertificateRevoked, v.Serial, r.Reason, r.RevokedAt.Format(time.RFC3339))
		}
		var sr serialRecord
		_, err = s.getJSON(ctx, serialKey(anchor.ID, v.Serial), &sr)
		switch {
		case err == nil:
			// The serial is ours only if the stored certificate is this one.
			if c, _, err := s.loadCredential(ctx, sr.CredentialID); err == nil && string(c.Certificate) == string(leaf.Raw) {
				v.CredentialID, v.UserID = c.ID, c.UserID
			}
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}
	return v, nil
}

// buildPath walks from leaf through the given intermediates to a
// registered issuer. It returns the path (leaf first, the anchor's
// certificate last) and the anchor.
func buildPath(leaf *smx509.Certificate, intermediates []*smx509.Certificate, issuers []*Issuer) ([]*smx509.Certificate, *Issuer, error) {
	path := []*smx509.Certificate{leaf}
	cur := leaf
	for depth := 0; depth <= maxPathDepth; depth++ {
		if len(cur.UnhandledCriticalExtensions) > 0 {
			return nil, nil, fmt.Errorf("%w: %q has an unhandled critical extension %v", ErrUntrusted, cur.Subject.String(), cur.UnhandledCriticalExtensions[0])
		}
		for _, iss := range issuers {
			if signedBy(cur, iss.Certificate) {
				path = append(path, iss.Certificate)
				if err := checkPathLen(path); err != nil {
					return nil, nil, err
				}
				return path, iss, nil
			}
		}
		var next *smx509.Certificate
		for _, c := range intermediates {
			if c != nil && c != cur && signedBy(cur, c) {
				next = c
				break
			}
		}
		if next == nil {
			return nil, nil, fmt.Errorf("%w: no registered issuer for %q (issuer %q)", ErrUntrusted, cur.Subject.String(), cur.Issuer.String())
		}
		path = append(path, next)
		cur = next
	}
	return nil, nil, fmt.Errorf("%w: chain longer than %d", ErrUntrusted, maxPathDepth)
}

// checkPathLen enforces the CA path length constraints of a path (leaf
// first): a CA at index i has i-1 CA certificates below it.
func checkPathLen(path []*smx509.Certificate) error {
	for i := 1; i < len(path); i++ {
		c := path[i]
		if c.BasicConstraintsValid && c.MaxPathLen >= 0 && i-1 > c.MaxPathLen {
			return fmt.Errorf("%w: path length constraint of %q exceeded", ErrUntrusted, c.Subject.String())
		}
	}
	return nil
}

// usageAllows reports whether a certificate's key usage allows u. A
// certificate without the key usage extension allows everything (RFC 5280).
func usageAllows(c *smx509.Certificate, u Usage) bool {
	if c.KeyUsage == 0 {
		return true
	}
	switch u {
	case UsageSign:
		return c.KeyUsage&(smx509.KeyUsageDigitalSignature|smx509.KeyUsageContentCommitment) != 0
	case UsageEncrypt:
		return c.KeyUsage&(smx509.KeyUsageKeyEncipherment|smx509.KeyUsageDataEncipherment|smx509.KeyUsageKeyAgreement) != 0
	default:
		return true
	}
}
