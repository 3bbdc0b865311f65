package ca

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/ukeygate/ukeygate/storage"
)

// maxPathDepth bounds the intermediates Verify walks through.
const maxPathDepth = 8

// MaxIntermediates is how many certificates Verify accepts after the
// first (chain[1:]); more is ErrTooManyCertificates, before any signature
// is checked. Every intermediate may cost a signature check at every level
// of the path, so their number bounds the CPU one Verify can take.
const MaxIntermediates = 10

// Verify checks a certificate for use at time at. chain[0] is the
// certificate; chain[1:] (at most MaxIntermediates, else
// ErrTooManyCertificates) may carry intermediates that lead to a registered
// issuer. Every registered issuer (internal or external, root or
// intermediate) is a trust anchor. It checks, in this order:
//
//   - the path: each certificate is signed by the next (names and
//     signatures), every certificate that signs another is a CA (v3,
//     basicConstraints cA, keyCertSign when key usage is present: a v1
//     certificate never is), path length constraints hold up to the root
//     of the registered issuer's chain, no certificate appears twice, and
//     no certificate has an unhandled critical extension, else ErrUntrusted;
//   - validity: every certificate of the path, up to the root of the
//     registered issuer's chain, is valid at at, else ErrCertificateExpired;
//   - key usage: the certificate's key usage allows usage, and for
//     UsageSign and UsageEncrypt the certificate is not itself a CA, else
//     ErrKeyUsage;
//   - revocation: the certificate is not on the revocation list of any
//     registered issuer whose key signed it (the entries its CRL is made
//     of), and is not one of the gateway's revoked credentials, else
//     ErrCertificateRevoked.
func (s *Service) Verify(ctx context.Context, chain []*smx509.Certificate, usage Usage, at time.Time) (*Verified, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	if n := len(chain) - 1; n > MaxIntermediates {
		return nil, fmt.Errorf("%w: %d intermediates, at most %d", ErrTooManyCertificates, n, MaxIntermediates)
	}
	leaf := chain[0]
	issuers, err := s.Issuers(ctx)
	if err != nil {
		return nil, err
	}
	path, anchors, err := buildPath(leaf, chain[1:], issuers)
	if err != nil {
		return nil, err
	}
	anchor := anchors[0]
	full := append(path, anchor.Chain[1:]...)
	for i, c := range full[len(path):] {
		if !isCA(c) {
			return nil, fmt.Errorf("%w: certificate %d of issuer %s's chain is not a CA certificate", ErrUntrusted, i+2, anchor.ID)
		}
	}
	if err := checkPathLen(full); err != nil {
		return nil, err
	}
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
	if usage != UsageAny && leaf.BasicConstraintsValid && leaf.IsCA {
		return nil, fmt.Errorf("%w: a CA certificate does not sign or encrypt for a user", ErrKeyUsage)
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
	// that signed the certificate: the path has no outside intermediate.
	// Every registered issuer whose key signed it counts (the same CA may
	// have been registered twice before AddIssuer refused duplicates).
	if len(path) == 2 {
		if err := s.checkOwnRecords(ctx, v, leaf, anchors); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkOwnRecords checks a certificate that registered issuers signed
// directly against their revocation records and serial indexes, and binds
// v to the credential it was issued for, if any.
func (s *Service) checkOwnRecords(ctx context.Context, v *Verified, leaf *smx509.Certificate, anchors []*Issuer) error {
	for _, iss := range anchors {
		r, err := s.revoked(ctx, iss.ID, v.Serial)
		if err != nil {
			return err
		}
		if r != nil {
			return fmt.Errorf("%w: serial %s of issuer %s, %s, at %s", ErrCertificateRevoked, v.Serial, iss.ID, r.Reason, r.RevokedAt.Format(time.RFC3339))
		}
	}
	for _, iss := range anchors {
		var sr serialRecord
		_, err := s.getJSON(ctx, serialKey(iss.ID, v.Serial), &sr)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		c, _, err := s.loadCredential(ctx, sr.CredentialID)
		if errors.Is(err, ErrCredentialNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		// The serial is ours only if the stored certificate is this one.
		if !bytes.Equal(c.Certificate, leaf.Raw) {
			continue
		}
		if !c.RevokedAt.IsZero() {
			return fmt.Errorf("%w: credential %s, %s, at %s", ErrCertificateRevoked, c.ID, c.RevocationReason, c.RevokedAt.Format(time.RFC3339))
		}
		if v.CredentialID == "" {
			v.CredentialID, v.UserID, v.IssuerID = c.ID, c.UserID, iss.ID
		}
	}
	return nil
}

// buildPath walks from leaf through the given intermediates to registered
// issuers. It returns the path (leaf first, the anchor's certificate last)
// and every registered issuer whose certificate signed the last
// intermediate (or the leaf), in id order; the first is the anchor.
//
// The walk is greedy and bounded: at each level the registered issuers are
// tried first, then the intermediates not yet in the path, those whose
// subject key id matches the child's authority key id first. Only a
// candidate that is a CA and whose subject is the child's issuer costs a
// signature check, and no certificate enters the path twice, so the work
// is at most (maxPathDepth+1) × (issuers + intermediates) signature checks.
func buildPath(leaf *smx509.Certificate, intermediates []*smx509.Certificate, issuers []*Issuer) ([]*smx509.Certificate, []*Issuer, error) {
	inter := dedupeCerts(leaf, intermediates)
	used := make([]bool, len(inter))
	path := []*smx509.Certificate{leaf}
	cur := leaf
	for depth := 0; ; depth++ {
		if len(cur.UnhandledCriticalExtensions) > 0 {
			return nil, nil, fmt.Errorf("%w: %q has an unhandled critical extension %v", ErrUntrusted, cur.Subject.String(), cur.UnhandledCriticalExtensions[0])
		}
		var anchors []*Issuer
		for _, iss := range issuers {
			if signedBy(cur, iss.Certificate) {
				anchors = append(anchors, iss)
			}
		}
		if len(anchors) > 0 {
			return append(path, anchors[0].Certificate), anchors, nil
		}
		if depth == maxPathDepth {
			return nil, nil, fmt.Errorf("%w: chain longer than %d", ErrUntrusted, maxPathDepth)
		}
		next := -1
		for _, i := range candidates(cur, inter, used) {
			if signedBy(cur, inter[i]) {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, nil, fmt.Errorf("%w: no registered issuer for %q (issuer %q)", ErrUntrusted, cur.Subject.String(), cur.Issuer.String())
		}
		used[next] = true
		cur = inter[next]
		path = append(path, cur)
	}
}

// dedupeCerts drops nil certificates, copies of leaf and repeated
// certificates (same DER) from the caller's intermediates.
func dedupeCerts(leaf *smx509.Certificate, in []*smx509.Certificate) []*smx509.Certificate {
	seen := map[string]bool{string(leaf.Raw): true}
	out := make([]*smx509.Certificate, 0, len(in))
	for _, c := range in {
		if c == nil || seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		out = append(out, c)
	}
	return out
}

// candidates returns the indexes of the unused intermediates that may have
// issued child (CA certificates whose subject is child's issuer): first
// those whose subject key id is child's authority key id, then those where
// either id is missing, then the rest.
func candidates(child *smx509.Certificate, inter []*smx509.Certificate, used []bool) []int {
	var match, unknown, other []int
	for i, c := range inter {
		if used[i] || !isCA(c) || string(child.RawIssuer) != string(c.RawSubject) {
			continue
		}
		switch {
		case len(child.AuthorityKeyId) == 0 || len(c.SubjectKeyId) == 0:
			unknown = append(unknown, i)
		case bytes.Equal(child.AuthorityKeyId, c.SubjectKeyId):
			match = append(match, i)
		default:
			other = append(other, i)
		}
	}
	return append(append(match, unknown...), other...)
}

// checkPathLen enforces the CA path length constraints of a path (leaf
// first, then every CA up to the root): a CA at index i has i-1 CA
// certificates below it (RFC 5280 6.1.4 (l), (m); self-issued
// intermediates are counted too, which is stricter than the RFC).
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
