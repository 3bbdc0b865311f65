package ca

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/storage"
)

// Seal re-issue after a renewal.
//
// A seal's SES_Seal lists the signing certificates it is bound to. When
// one of them belongs to a credential that a renewal superseded, the
// seal is re-issued: the same issuer signs a new SES_Seal under the same
// seal id (so portals that name the seal keep working), with the
// successor's certificate in place of the superseded one. The superseded
// certificate is not kept in the list: its credential can no longer sign
// (signing uses active credentials only), and a document sealed earlier
// carries the SES_Seal it was sealed with, whose list names the old
// certificate, so it verifies as before (the registry is asked only
// whether the seal id is revoked). The record keeps a short history of
// the earlier versions (SealVersion: the SM3 of each SES_Seal) for the
// operator. A seal whose validity was not asked (DefaultValidity, or, in
// a record from before that flag, a NotAfter equal to the end of its
// certificates) ends with the successor's certificate, at most 3 years
// after it was made.
//
// The renewal's write (RenewCredential at an internal issuer,
// ImportCertificate's supersedeOnImport at an external one) also stores
// the marker sealreissues/<owner>/<superseded credential> when the owner
// has seals. The caller (package api) then re-issues each seal
// (ReissueSeal, one write and one audit entry per seal, conditional on
// the seal's revision) and clears the marker (ClearSealReissue). A crash
// in between leaves the marker: the next start re-issues what is left
// (PendingSealReissues); and a seal that is used (scan, confirm) before
// that is re-issued on the spot, since whether a seal needs it is read
// from the credentials, not from the marker.
//
// A seal whose validity follows its certificates expires with the
// superseded certificate when its re-issue keeps failing until that
// certificate's end. Such a seal is still re-issued (it comes back
// active under the successor) when all of these hold: it is not
// revoked; its validity follows the certificates (DefaultValidity, or a
// record from before that flag ending with them); its NotAfter is the
// end of the certificates it lists, not the 3-year bound of a seal made
// without validity_days; and the marker of the renewal of a credential
// it lists is still there. A revoked seal, one with validity_days, one
// that reached its 3 years, and one whose certificates ended without a
// renewal (no marker) stay as they are.

const pfxSealReissues = "sealreissues/" // sealreissues/<owner>/<superseded credential>

// maxSealVersions bounds a seal's Previous.
const maxSealVersions = maxRenewalChain

func sealReissueKey(owner, credentialID string) string {
	return pfxSealReissues + owner + "/" + credentialID
}

// sealReissueRecord is what a marker holds.
type sealReissueRecord struct {
	Successor string    `json:"successor"`
	At        time.Time `json:"at"`
}

// markSealReissue adds to b the marker of old's supersession by succ when
// old is a signing credential whose owner has seals.
func (s *Service) markSealReissue(ctx context.Context, b *txnBuilder, old *credentialRecord, succ string, now time.Time) error {
	if old.Purpose != PurposeSign {
		return nil
	}
	owned, _, err := s.store.List(ctx, pfxUserSeals+old.UserID+"/")
	if err != nil || len(owned) == 0 {
		return err
	}
	b.put(sealReissueKey(old.UserID, old.ID), &sealReissueRecord{Successor: succ, At: now}, 0)
	return nil
}

// PendingSealReissue is a renewal whose seals may still wait for their
// re-issue.
type PendingSealReissue struct {
	Owner      string // the seals' owner
	Credential string // the superseded credential
}

// PendingSealReissues lists the markers of renewals whose seals have not
// all been re-issued (a crash or an error after the renewal's write).
func (s *Service) PendingSealReissues(ctx context.Context) ([]PendingSealReissue, error) {
	kvs, _, err := s.store.List(ctx, pfxSealReissues)
	if err != nil {
		return nil, err
	}
	out := []PendingSealReissue{}
	for _, kv := range kvs {
		owner, cred, ok := strings.Cut(strings.TrimPrefix(kv.Key, pfxSealReissues), "/")
		if ok {
			out = append(out, PendingSealReissue{Owner: owner, Credential: cred})
		}
	}
	return out, nil
}

// ClearSealReissue removes the marker of credential's renewal when no seal
// of owner waits for a re-issue any more, and tells whether it did (or
// there was none).
func (s *Service) ClearSealReissue(ctx context.Context, owner, credential string) (bool, error) {
	due, err := s.SealsToReissue(ctx, owner)
	if err != nil || len(due) > 0 {
		return false, err
	}
	if !ValidID(owner) || !ValidID(credential) {
		return true, nil
	}
	key := sealReissueKey(owner, credential)
	kv, err := s.store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// A marker written again meanwhile stays, for the next start.
	if _, err := s.store.Txn(ctx, storage.IfRevision(key, kv.Revision), storage.Delete(key)); errors.Is(err, storage.ErrConflict) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// sealReissueMarks returns the credentials of owner whose renewal left a
// marker.
func (s *Service) sealReissueMarks(ctx context.Context, owner string) (map[string]bool, error) {
	out := map[string]bool{}
	if !ValidID(owner) {
		return out, nil
	}
	kvs, _, err := s.store.List(ctx, pfxSealReissues+owner+"/")
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		out[strings.TrimPrefix(kv.Key, pfxSealReissues+owner+"/")] = true
	}
	return out, nil
}

// SealsToReissue lists the ids of owner's seals that ReissueSeal would
// re-issue: active ones, and expired ones that only their superseded
// certificate's end expired (see the notes above).
func (s *Service) SealsToReissue(ctx context.Context, owner string) ([]string, error) {
	out := []string{}
	if !ValidID(owner) {
		return out, nil
	}
	kvs, _, err := s.store.List(ctx, pfxUserSeals+owner+"/")
	if err != nil || len(kvs) == 0 {
		return out, err
	}
	creds, err := s.userCredentials(ctx, owner)
	if err != nil {
		return nil, err
	}
	marks, err := s.sealReissueMarks(ctx, owner)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		rec, _, err := s.loadSeal(ctx, strings.TrimPrefix(kv.Key, pfxUserSeals+owner+"/"))
		if errors.Is(err, ErrSealNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := s.reissuePlan(rec, creds, marks)
		if err != nil {
			return nil, err
		}
		if p != nil {
			out = append(out, rec.ID)
		}
	}
	return out, nil
}

// SealNeedsReissue tells whether ReissueSeal would re-issue sl (active,
// or expired with its superseded certificate: see the notes above). To
// check several seals of one owner, as a scan does, use a
// SealReissueCheck: it reads what they share once.
func (s *Service) SealNeedsReissue(ctx context.Context, sl *Seal) (bool, error) {
	if sl == nil {
		return false, nil
	}
	return s.SealReissueCheck(sl.Owner).Needs(ctx, sl)
}

// SealReissueCheck tells, like SealNeedsReissue, whether seals of one
// owner need a re-issue, reading the owner's credentials (for any seal
// it checks) and the renewals' markers (for an expired one) at most once
// each: a scan checks every seal of its user. It is meant for one
// request: a renewal meanwhile is seen by the next one. Not safe for
// concurrent use.
type SealReissueCheck struct {
	s     *Service
	owner string
	creds []credAtRev
	marks map[string]bool
	// read: creds and marks hold what the store holds.
	credsRead, marksRead bool
}

// SealReissueCheck returns a SealReissueCheck of owner's seals.
func (s *Service) SealReissueCheck(owner string) *SealReissueCheck {
	return &SealReissueCheck{s: s, owner: owner}
}

// Needs tells whether ReissueSeal would re-issue sl (nil, or a seal of
// another owner than the check's, is checked on its own).
func (c *SealReissueCheck) Needs(ctx context.Context, sl *Seal) (bool, error) {
	if sl == nil || (sl.State != SealActive && sl.State != SealExpired) {
		return false, nil
	}
	if sl.Owner != c.owner {
		return c.s.SealReissueCheck(sl.Owner).Needs(ctx, sl)
	}
	var marks map[string]bool
	if sl.State == SealExpired {
		// The markers are looked at first: an expired seal without one
		// (the usual case) costs no more than this list, once per check.
		if !c.marksRead {
			m, err := c.s.sealReissueMarks(ctx, c.owner)
			if err != nil {
				return false, err
			}
			c.marks, c.marksRead = m, true
		}
		if marks = c.marks; len(marks) == 0 {
			return false, nil
		}
	}
	if !c.credsRead {
		creds, err := c.s.userCredentials(ctx, c.owner)
		if err != nil {
			return false, err
		}
		c.creds, c.credsRead = creds, true
	}
	p, err := c.s.reissuePlan(&sealRecord{Seal: *sl}, c.creds, marks)
	return p != nil, err
}

// ReissuedSeal is ReissueSeal's result (and its audit entry's): the seal
// as re-issued and, in order, the superseded credentials whose
// certificates it no longer lists and their successors, which it lists.
// Expired is the end of the earlier version when the seal had expired
// with its superseded certificate (zero when it was active).
type ReissuedSeal struct {
	Seal     *Seal
	Replaced []string
	By       []string
	Expired  time.Time
}

// reissue is what a re-issue of one seal changes.
type reissue struct {
	certs    [][]byte
	signers  []string
	from, to []string
	notAfter time.Time
	follows  bool      // the validity follows the certificates
	expired  time.Time // rec.NotAfter when rec had expired
	image    *seal.Image
}

// reissuePlan returns what a re-issue of rec would change given the
// owner's credentials and the credentials whose renewal left a marker
// (marks), or nil when nothing: rec is revoked, or expired otherwise than
// with a superseded certificate whose renewal is marked (see the notes
// above), or no certificate it lists belongs to a superseded credential
// whose newest successor is an active signing credential with a
// certificate.
func (s *Service) reissuePlan(rec *sealRecord, creds []credAtRev, marks map[string]bool) (*reissue, error) {
	now := s.now()
	state := rec.toSeal(now).State
	if state == SealRevoked || (state == SealExpired && len(marks) == 0) {
		return nil, nil
	}
	ses, err := seal.Parse(rec.SESSeal)
	if err != nil {
		return nil, fmt.Errorf("ca: seal %s: %w", rec.ID, err)
	}
	byID := make(map[string]*credentialRecord, len(creds))
	for _, c := range creds {
		byID[c.rec.ID] = c.rec
	}
	byCert := func(der []byte) *credentialRecord {
		for _, c := range creds {
			if len(c.rec.Certificate) > 0 && bytes.Equal(c.rec.Certificate, der) {
				return c.rec
			}
		}
		return nil
	}
	// newest follows c's successors to the first one not superseded: an
	// active signing credential with a certificate, or nil.
	newest := func(c *credentialRecord) *credentialRecord {
		for range maxRenewalChain {
			if c.SupersededBy == "" {
				break
			}
			next := byID[c.SupersededBy]
			if next == nil {
				return nil
			}
			c = next
		}
		if c.SupersededBy != "" || c.state(now) != StateActive || c.Purpose != PurposeSign || len(c.Certificate) == 0 {
			return nil
		}
		return c
	}
	p := &reissue{}
	var oldEnd, newEnd time.Time
	add := func(der []byte, c *credentialRecord, end time.Time) {
		for _, have := range p.certs {
			if bytes.Equal(have, der) {
				return
			}
		}
		p.certs = append(p.certs, der)
		if c != nil {
			p.signers = append(p.signers, c.ID)
		}
		if end.After(newEnd) {
			newEnd = end
		}
	}
	for _, der := range ses.SignerCerts {
		c := byCert(der)
		end := certEnd(c, der)
		if end.After(oldEnd) {
			oldEnd = end
		}
		if c != nil && c.SupersededBy != "" {
			if succ := newest(c); succ != nil {
				p.from, p.to = append(p.from, c.ID), append(p.to, succ.ID)
				add(succ.Certificate, succ, succ.NotAfter)
				continue
			}
		}
		add(der, c, end)
	}
	if len(p.from) == 0 {
		return nil, nil
	}
	p.notAfter = rec.NotAfter
	endsWithCerts := rec.NotAfter.Equal(oldEnd.UTC().Truncate(time.Second))
	p.follows = rec.DefaultValidity || (rec.Version == 0 && endsWithCerts)
	if state == SealExpired {
		// Expired only by the end of the superseded certificates, with the
		// renewal's marker still there: re-issued as if it had been done
		// in time. Its own validity (validity_days, the 3 years) is not
		// lifted.
		if !p.follows || !endsWithCerts || !slices.ContainsFunc(p.from, func(id string) bool { return marks[id] }) {
			return nil, nil
		}
		p.expired = rec.NotAfter
	}
	if p.follows && !newEnd.IsZero() {
		p.notAfter = newEnd.UTC().Truncate(time.Second)
		if limit := rec.CreatedAt.AddDate(0, 0, defaultSealValidityDays); limit.Before(p.notAfter) {
			p.notAfter = limit
		}
	}
	if !p.notAfter.After(rec.NotBefore) || !p.notAfter.After(now) {
		return nil, nil
	}
	if p.image, err = seal.CheckPNG(ses.PNG); err != nil {
		return nil, fmt.Errorf("ca: seal %s: %w", rec.ID, err)
	}
	return p, nil
}

// certEnd is the end of the signer certificate der (of credential c, when
// the registry knows it).
func certEnd(c *credentialRecord, der []byte) time.Time {
	if c != nil {
		return c.NotAfter
	}
	if cert, err := gmcrypto.ParseCertificate(der); err == nil {
		return cert.NotAfter
	}
	return time.Time{}
}

// ReissueSeal re-issues seal id when a certificate it lists belongs to a
// credential a renewal superseded (see the notes above): a new SES_Seal
// under the same id, signed by the seal's issuer, with the successors'
// certificates instead, Version one more, the earlier version kept in
// Previous; a seal that expired with the superseded certificate comes
// back active (the rule in the notes above; ReissuedSeal.Expired). The
// write is conditional on the seal's revision and carries ctx's audit
// action (its result is the *ReissuedSeal). Errors:
// ErrSealNotFound, ErrSealCurrent (nothing to change: also when another
// node re-issued it first), ErrIssuerNotFound, ErrIssuerExternal.
func (s *Service) ReissueSeal(ctx context.Context, id string) (*ReissuedSeal, error) {
	var out *ReissuedSeal
	err := retry(ctx, func() error {
		rec, rev, err := s.loadSeal(ctx, id)
		if err != nil {
			return err
		}
		creds, err := s.userCredentials(ctx, rec.Owner)
		if err != nil {
			return err
		}
		marks, err := s.sealReissueMarks(ctx, rec.Owner)
		if err != nil {
			return err
		}
		p, err := s.reissuePlan(rec, creds, marks)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%w: %s", ErrSealCurrent, id)
		}
		iss, _, err := s.loadIssuer(ctx, rec.IssuerID)
		if err != nil {
			return err
		}
		key, err := s.issuerSigner(iss)
		if err != nil {
			return err
		}
		defer gmcrypto.ZeroKey(key)
		chain, err := parseChainDER(iss.Chain)
		if err != nil || len(chain) == 0 {
			return fmt.Errorf("ca: corrupt issuer %s", iss.ID)
		}
		now := s.now().UTC().Truncate(time.Second)
		der, err := seal.Make(&seal.Spec{
			ID: rec.ID, Name: rec.Name, Kind: rec.Kind, Image: p.image, WidthMM: rec.WidthMM, HeightMM: rec.HeightMM,
			Created: now, NotBefore: rec.NotBefore, NotAfter: p.notAfter, SignerCerts: p.certs,
		}, key, chain[0])
		if err != nil {
			return err
		}
		issued := rec.CreatedAt
		if !rec.ReissuedAt.IsZero() {
			issued = rec.ReissuedAt
		}
		fp := sm3.Sum(rec.SESSeal)
		prev := SealVersion{Version: rec.version(), IssuedAt: issued, NotAfter: rec.NotAfter,
			SESSM3: hex.EncodeToString(fp[:]), SignerCredentials: rec.SignerCredentials}
		rec.Previous = append([]SealVersion{prev}, rec.Previous...)
		if len(rec.Previous) > maxSealVersions {
			rec.Previous = rec.Previous[:maxSealVersions]
		}
		rec.Version = rec.version() + 1
		rec.ReissuedAt, rec.NotAfter, rec.SESSeal, rec.SignerCredentials = now, p.notAfter, der, p.signers
		rec.DefaultValidity = p.follows
		var b txnBuilder
		b.cond(sealKey(rec.ID), rev)
		b.put(sealKey(rec.ID), rec, 0)
		res := &ReissuedSeal{Seal: rec.toSeal(s.now()), Replaced: p.from, By: p.to, Expired: p.expired}
		if err := b.commitAction(ctx, s.store, res); err != nil {
			return err
		}
		out = res
		return nil
	})
	return out, err
}
