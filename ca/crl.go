package ca

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// reasonCodes are the revocation reasons Revoke accepts, RFC 5280 names
// with their CRLReason codes. certificateHold (6) and removeFromCRL (8) are
// not accepted: this CA has no way to release a hold, and removeFromCRL
// belongs to delta CRLs only.
var reasonCodes = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"cACompromise":         2,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"privilegeWithdrawn":   9,
	"aACompromise":         10,
}

// Reasons returns the revocation reason names Revoke accepts, sorted:
// the RFC 5280 CRLReason names except certificateHold and removeFromCRL.
func Reasons() []string {
	names := make([]string, 0, len(reasonCodes))
	for n := range reasonCodes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// revocationRecord is what revocations/<issuer>/<serial> holds: the
// entries of the issuer's CRL.
type revocationRecord struct {
	Serial       string    `json:"serial"`
	CredentialID string    `json:"credential"`
	RevokedAt    time.Time `json:"revoked_at"`
	Reason       string    `json:"reason"`
}

// crlRecord is what crls/<issuer> holds: the current signed CRL.
type crlRecord struct {
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	DER        []byte    `json:"der"`
	// Covered is the highest store revision among the revocation entries
	// the CRL lists, Count their number: a later revocation makes it stale.
	Covered int64 `json:"covered"`
	Count   int   `json:"count"`
}

// Revoke revokes a credential with an RFC 5280 reason name (see Reasons;
// ErrInvalidReason otherwise; "" means unspecified). A certified credential enters its
// issuer's revocation list (the CRL is re-signed on its next request); a
// pending one is simply cancelled. Either way it frees the user's slot for
// a new credential. Errors: ErrCredentialNotFound, ErrAlreadyRevoked.
func (s *Service) Revoke(ctx context.Context, credentialID, reason string) (*Credential, error) {
	if reason == "" {
		reason = "unspecified"
	}
	if _, ok := reasonCodes[reason]; !ok {
		return nil, fmt.Errorf("%w: %q (one of %s)", ErrInvalidReason, reason, strings.Join(Reasons(), ", "))
	}
	var out *Credential
	err := retry(ctx, func() error {
		c, crev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if !c.RevokedAt.IsZero() {
			return fmt.Errorf("%w: %s at %s", ErrAlreadyRevoked, c.ID, c.RevokedAt.Format(time.RFC3339))
		}
		var b txnBuilder
		// A credential is certified when it holds a certificate, whatever
		// its recorded serial: its revocation is always recorded.
		if err := s.revokeOps(ctx, &b, c, crev, reason, s.now().UTC().Truncate(time.Second)); err != nil {
			return err
		}
		cred, err := c.toCredential(s.now())
		if err != nil {
			return err
		}
		if err := b.commitAction(ctx, s.store, cred); err != nil {
			return err
		}
		out = cred
		return nil
	})
	return out, err
}

// certSerial is the serial of a certified credential as records key it:
// the recorded one, or (for a record that lacks it) the certificate's.
func (c *credentialRecord) certSerial() (string, error) {
	if c.Serial != "" {
		return c.Serial, nil
	}
	cert, err := gmcrypto.ParseCertificate(c.Certificate)
	if err != nil {
		return "", fmt.Errorf("ca: corrupt credential %s: %w", c.ID, err)
	}
	return serialHex(cert.SerialNumber), nil
}

// revoked returns the revocation record of a serial, or nil.
func (s *Service) revoked(ctx context.Context, issuerID, serial string) (*revocationRecord, error) {
	var r revocationRecord
	_, err := s.getJSON(ctx, revocationKey(issuerID, serial), &r)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// CRL returns the issuer's current CRL in DER, signed by the issuer's key
// with its own algorithm (SM2-with-SM3 or SHA256-RSA). A new CRL, with a
// CRL number one above the last, is signed when there is none yet, after a
// revocation, or once half of Config.CRLNextUpdate has passed since the
// last. Errors: ErrIssuerNotFound, ErrIssuerExternal.
func (s *Service) CRL(ctx context.Context, issuerID string) ([]byte, error) {
	iss, _, err := s.loadIssuer(ctx, issuerID)
	if err != nil {
		return nil, err
	}
	if iss.Mode != ModeInternal {
		return nil, fmt.Errorf("%w: %s publishes its own CRL", ErrIssuerExternal, iss.ID)
	}
	var out []byte
	err = retry(ctx, func() error {
		var cur crlRecord
		crev, err := s.getJSON(ctx, crlKey(iss.ID), &cur)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		kvs, _, err := s.store.List(ctx, pfxRevocations+iss.ID+"/")
		if err != nil {
			return err
		}
		var covered int64
		for _, kv := range kvs {
			covered = max(covered, kv.Revision)
		}
		now := s.now().UTC()
		fresh := crev != 0 && cur.Covered >= covered && cur.Count == len(kvs) &&
			now.Before(cur.ThisUpdate.Add(s.cfg.CRLNextUpdate/2)) && !now.Before(cur.ThisUpdate)
		if fresh {
			out = cur.DER
			return nil
		}
		der, err := s.signCRL(iss, kvs, cur.Number+1, now)
		if err != nil {
			return err
		}
		next := crlRecord{
			Number: cur.Number + 1, ThisUpdate: now.Truncate(time.Second), NextUpdate: now.Add(s.cfg.CRLNextUpdate).Truncate(time.Second),
			DER: der, Covered: covered, Count: len(kvs),
		}
		var b txnBuilder
		b.cond(crlKey(iss.ID), crev)
		b.put(crlKey(iss.ID), &next, 0)
		if err := b.commit(ctx, s.store); err != nil {
			return err
		}
		out = der
		return nil
	})
	return out, err
}

func (s *Service) signCRL(iss *issuerRecord, kvs []storage.KV, number int64, now time.Time) ([]byte, error) {
	entries := make([]smx509.RevocationListEntry, 0, len(kvs))
	for _, kv := range kvs {
		var r revocationRecord
		if err := jsonUnmarshal(kv, &r); err != nil {
			return nil, err
		}
		sn, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("ca: corrupt revocation %s", kv.Key)
		}
		entries = append(entries, smx509.RevocationListEntry{
			SerialNumber: sn, RevocationTime: r.RevokedAt, ReasonCode: reasonCodes[r.Reason],
		})
	}
	chain, err := parseChainDER(iss.Chain)
	if err != nil {
		return nil, err
	}
	cert, err := signingCert(chain[0])
	if err != nil {
		return nil, err
	}
	key, err := s.issuerSigner(iss)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.ZeroKey(key)
	tmpl := &smx509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now.Truncate(time.Second),
		NextUpdate:                now.Add(s.cfg.CRLNextUpdate).Truncate(time.Second),
		RevokedCertificateEntries: entries,
	}
	der, err := smx509.CreateRevocationList(rand.Reader, tmpl, cert, key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign CRL of %s: %w", iss.ID, err)
	}
	return der, nil
}
