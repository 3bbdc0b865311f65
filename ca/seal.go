package ca

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// Electronic seals (电子签章): the registry of seals the operator makes for
// users. A seal is a transparent PNG with a printed size and a kind, bound
// to its owner's signing certificates in a GB/T 38540 SES_Seal that the
// issuer which made it signs. Records: seals/<id>, and the index
// userseals/<owner>/<id>.
//
// A seal record is never removed while its owner exists, revoked or not:
// /v1/verify looks a document's seal up by its id (SealRevoked), and a
// revoked seal whose record were gone would verify as a seal this
// registry does not know instead of a revoked one. Only active seals
// count against MaxSealsPerUser. When the owner's signing credential is
// renewed the seal is re-issued under the same id (sealreissue.go).

const (
	pfxSeals     = "seals/"
	pfxUserSeals = "userseals/"
	prefixSeal   = "sel_"
	// MaxSealImageBytes bounds a seal's PNG in the registry (the record,
	// base64 in JSON, must fit one etcd write).
	MaxSealImageBytes = 256 << 10
	// MaxSealsPerUser bounds a user's active seals (revoked and expired
	// ones do not count).
	MaxSealsPerUser = 32
	// defaultSealValidityDays is a seal's validity when none is asked; it
	// never outlasts the owner's last signing certificate.
	defaultSealValidityDays = 3 * 365
)

// Seal states.
const (
	SealActive  State = "active"
	SealRevoked State = "revoked"
	SealExpired State = "expired"
)

func sealKey(id string) string            { return pfxSeals + id }
func userSealKey(owner, id string) string { return pfxUserSeals + owner + "/" + id }

// SealRequest asks for a new seal.
type SealRequest struct {
	Owner    string    // user id
	Name     string    // e.g. "某某有限公司 公章"
	Kind     seal.Kind //
	ImagePNG []byte    // transparent PNG
	WidthMM  float64
	HeightMM float64
	// Issuer makes (signs) the seal; empty: the issuer of the owner's first
	// active signing credential. It must be internal (its key is needed).
	Issuer string
	// ValidityDays: 0 means 3 years, cut at the owner's last signing
	// certificate's end (and moved with it when a renewal re-issues the
	// seal).
	ValidityDays int
	// Replaces are seals of the owner that the new one supersedes: those
	// still active are revoked (reason "superseded") in the write that
	// stores the new seal, and do not count against MaxSealsPerUser (a
	// hand-drawn signature drawn again).
	Replaces []string
}

// Seal is a registered seal.
type Seal struct {
	ID               string    `json:"id"`
	Owner            string    `json:"owner"`
	Name             string    `json:"name"`
	Kind             seal.Kind `json:"kind"`
	WidthMM          float64   `json:"width_mm"`
	HeightMM         float64   `json:"height_mm"`
	IssuerID         string    `json:"issuer"`
	State            State     `json:"state"`
	NotBefore        time.Time `json:"not_before"`
	NotAfter         time.Time `json:"not_after"`
	CreatedAt        time.Time `json:"created_at"`
	RevokedAt        time.Time `json:"revoked_at,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// SESSeal is the GB/T 38540 SES_Seal (DER; base64 in JSON); it holds
	// the PNG. It is the current version: a re-issue replaces it.
	SESSeal []byte `json:"ses_seal"`
	// Version is the SES_Seal's version: 1 as made, one more for each
	// re-issue (0 in a record from before versions: read as 1).
	Version int `json:"version,omitempty"`
	// ReissuedAt is when the current version was made by a re-issue.
	ReissuedAt time.Time `json:"reissued_at,omitzero"`
	// SignerCredentials are the owner's credentials whose certificates the
	// current SES_Seal lists (empty in a record from before it was kept).
	SignerCredentials []string `json:"signer_credentials,omitempty"`
	// DefaultValidity: no validity was asked, so the seal ends with the
	// owner's last signing certificate, at most 3 years after CreatedAt;
	// a re-issue moves NotAfter with the renewed certificates.
	DefaultValidity bool `json:"default_validity,omitempty"`
	// Previous are the earlier versions, newest first (at most
	// maxSealVersions): what a document sealed with one of them carries.
	Previous []SealVersion `json:"previous_versions,omitempty"`
	// Superseded names, in CreateSeal's answer only, the seals it revoked
	// as superseded (SealRequest.Replaces).
	Superseded []string `json:"-"`
}

// SealVersion is an earlier version of a seal's SES_Seal.
type SealVersion struct {
	Version  int       `json:"version"`
	IssuedAt time.Time `json:"issued_at"`
	NotAfter time.Time `json:"not_after"`
	// SESSM3 is the hex SM3 of that SES_Seal's DER, the one a document
	// sealed with this version carries.
	SESSM3            string   `json:"ses_sm3"`
	SignerCredentials []string `json:"signer_credentials,omitempty"`
}

type sealRecord struct {
	Seal
}

func (r *sealRecord) toSeal(now time.Time) *Seal {
	out := r.Seal
	out.Version = r.version()
	switch {
	case !r.RevokedAt.IsZero():
		out.State = SealRevoked
	case now.After(r.NotAfter):
		out.State = SealExpired
	default:
		out.State = SealActive
	}
	return &out
}

// version is the record's version (1 for a record from before versions).
func (r *sealRecord) version() int { return max(r.Version, 1) }

// CreateSeal makes a seal for a user: the PNG is checked (seal.CheckPNG,
// at most MaxSealImageBytes), the SES_Seal lists the owner's active
// signing certificates and is signed by the issuer. The seals of
// req.Replaces still active are revoked as superseded in the same write.
// Errors: a *RequestError, seal.ErrBadImage, seal.ErrBadSeal,
// ErrUserNotFound, ErrIssuerNotFound, ErrIssuerExternal, ErrSealLimit
// (the owner holds MaxSealsPerUser active seals besides those replaced),
// ErrNoSigningCredential (the owner has no active signing certificate;
// nothing is signed or stored).
func (s *Service) CreateSeal(ctx context.Context, req SealRequest) (*Seal, error) {
	if len(req.ImagePNG) > MaxSealImageBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", seal.ErrBadImage, len(req.ImagePNG), MaxSealImageBytes)
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "" || len(name) > seal.MaxNameLen:
		return nil, invalid("name", "required, at most %d bytes", seal.MaxNameLen)
	case !utf8.ValidString(name):
		return nil, invalid("name", "not valid UTF-8")
	case hiddenRune(name) >= 0:
		// The phone shows the name beside the seal's picture.
		return nil, invalid("name", "%s", protocol.HiddenReason(hiddenRune(name)))
	case !req.Kind.Valid():
		return nil, invalid("kind", "must be official, contract, finance, legal_rep or personal")
	case math.IsNaN(req.WidthMM) || math.IsNaN(req.HeightMM) || req.WidthMM < seal.MinSizeMM || req.WidthMM > seal.MaxSizeMM || req.HeightMM < seal.MinSizeMM || req.HeightMM > seal.MaxSizeMM:
		return nil, invalid("width_mm", "width_mm and height_mm must be %g to %g", seal.MinSizeMM, seal.MaxSizeMM)
	case req.ValidityDays < 0 || req.ValidityDays > 36500:
		return nil, invalid("validity_days", "must be 0 to 36500")
	}
	img, err := seal.CheckPNG(req.ImagePNG)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.loadUser(ctx, req.Owner); err != nil {
		return nil, err
	}
	// Checked before the issuer signs, and again in the write.
	if _, _, err := s.sealsToReplace(ctx, req.Owner, req.Replaces); err != nil {
		return nil, err
	}
	creds, err := s.Credentials(ctx, CredentialFilter{UserID: req.Owner, State: StateActive})
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	var certs [][]byte
	var signers []string
	var lastEnd time.Time
	issuerID := req.Issuer
	for _, c := range creds {
		if c.Purpose != PurposeSign || c.Certificate == nil {
			continue
		}
		certs = append(certs, c.Certificate.Raw)
		signers = append(signers, c.ID)
		if c.NotAfter.After(lastEnd) {
			lastEnd = c.NotAfter
		}
		if issuerID == "" {
			issuerID = c.IssuerID
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: %s has none to bind the seal to", ErrNoSigningCredential, req.Owner)
	}
	iss, _, err := s.loadIssuer(ctx, issuerID)
	if err != nil {
		return nil, err
	}
	key, err := s.issuerSigner(iss)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.ZeroKey(key)
	chain, err := parseChainDER(iss.Chain)
	if err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("ca: corrupt issuer %s", iss.ID)
	}
	days := req.ValidityDays
	if days == 0 {
		days = defaultSealValidityDays
	}
	notAfter := now.AddDate(0, 0, days)
	if req.ValidityDays == 0 && lastEnd.Before(notAfter) {
		notAfter = lastEnd.UTC().Truncate(time.Second)
	}
	id, err := newID(prefixSeal)
	if err != nil {
		return nil, err
	}
	der, err := seal.Make(&seal.Spec{
		ID: id, Name: name, Kind: req.Kind, Image: img, WidthMM: req.WidthMM, HeightMM: req.HeightMM,
		Created: now, NotBefore: now, NotAfter: notAfter, SignerCerts: certs,
	}, key, chain[0])
	if err != nil {
		return nil, err
	}
	rec := &sealRecord{Seal{
		ID: id, Owner: req.Owner, Name: name, Kind: req.Kind, WidthMM: req.WidthMM, HeightMM: req.HeightMM,
		IssuerID: iss.ID, NotBefore: now, NotAfter: notAfter, CreatedAt: now, SESSeal: der,
		Version: 1, SignerCredentials: signers, DefaultValidity: req.ValidityDays == 0,
	}}
	var out *Seal
	err = retry(ctx, func() error {
		replaced, revs, err := s.sealsToReplace(ctx, req.Owner, req.Replaces)
		if err != nil {
			return err
		}
		var b txnBuilder
		b.cond(sealKey(id), 0)
		b.put(sealKey(id), rec, 0)
		b.put(userSealKey(req.Owner, id), struct{}{}, 0)
		sl := rec.toSeal(s.now())
		for i, r := range replaced {
			r.RevokedAt, r.RevocationReason = now, "superseded"
			b.cond(sealKey(r.ID), revs[i])
			b.put(sealKey(r.ID), r, 0)
			sl.Superseded = append(sl.Superseded, r.ID)
		}
		if err := b.commitAction(ctx, s.store, sl); err != nil {
			return err
		}
		out = sl
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sealsToReplace checks the cap on owner's active seals for one more and
// returns, with their revisions, the active seals of replace (the
// owner's; others and unknown ids are left alone), which make room.
// ErrSealLimit when there is none.
func (s *Service) sealsToReplace(ctx context.Context, owner string, replace []string) ([]*sealRecord, []int64, error) {
	owned, _, err := s.store.List(ctx, pfxUserSeals+owner+"/")
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	active := 0
	var out []*sealRecord
	var revs []int64
	for _, kv := range owned {
		id := strings.TrimPrefix(kv.Key, pfxUserSeals+owner+"/")
		rec, rev, err := s.loadSeal(ctx, id)
		if errors.Is(err, ErrSealNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if rec.Owner != owner || rec.toSeal(now).State != SealActive {
			continue
		}
		if slices.Contains(replace, id) {
			out, revs = append(out, rec), append(revs, rev)
			continue
		}
		active++
	}
	if active >= MaxSealsPerUser {
		return nil, nil, fmt.Errorf("%w: %s already holds %d active seals, the most one may hold; revoke one first", ErrSealLimit, owner, MaxSealsPerUser)
	}
	return out, revs, nil
}

func (s *Service) loadSeal(ctx context.Context, id string) (*sealRecord, int64, error) {
	return loadRecord[sealRecord](ctx, s, sealKey(id), id, ErrSealNotFound)
}

// GetSeal returns one seal (ErrSealNotFound if unknown).
func (s *Service) GetSeal(ctx context.Context, id string) (*Seal, error) {
	rec, _, err := s.loadSeal(ctx, id)
	if err != nil {
		return nil, err
	}
	return rec.toSeal(s.now()), nil
}

// Seals lists the seals of owner (every seal when owner is empty), sorted
// by id.
func (s *Service) Seals(ctx context.Context, owner string) ([]*Seal, error) {
	out := []*Seal{}
	if owner != "" && !ValidID(owner) {
		return out, nil
	}
	var ids []string
	if owner != "" {
		kvs, _, err := s.store.List(ctx, pfxUserSeals+owner+"/")
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			ids = append(ids, strings.TrimPrefix(kv.Key, pfxUserSeals+owner+"/"))
		}
	} else {
		kvs, _, err := s.store.List(ctx, pfxSeals)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			var rec sealRecord
			if err := jsonUnmarshal(kv, &rec); err != nil {
				return nil, err
			}
			out = append(out, rec.toSeal(s.now()))
		}
		return out, nil
	}
	for _, id := range ids {
		rec, _, err := s.loadSeal(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, rec.toSeal(s.now()))
	}
	return out, nil
}

// RevokeSeal revokes a seal with an RFC 5280 reason name, like a
// certificate (see Revoke). Errors: ErrSealNotFound, ErrInvalidReason,
// ErrSealAlreadyRevoked.
func (s *Service) RevokeSeal(ctx context.Context, id, reason string) (*Seal, error) {
	if reason == "" {
		reason = "unspecified"
	}
	if _, ok := reasonCodes[reason]; !ok {
		return nil, fmt.Errorf("%w: %q (one of %s)", ErrInvalidReason, reason, strings.Join(Reasons(), ", "))
	}
	var out *Seal
	err := retry(ctx, func() error {
		rec, rev, err := s.loadSeal(ctx, id)
		if err != nil {
			return err
		}
		if !rec.RevokedAt.IsZero() {
			return fmt.Errorf("%w: %s", ErrSealAlreadyRevoked, id)
		}
		rec.RevokedAt, rec.RevocationReason = s.now().UTC().Truncate(time.Second), reason
		var b txnBuilder
		b.cond(sealKey(id), rev)
		b.put(sealKey(id), rec, 0)
		sl := rec.toSeal(s.now())
		if err := b.commitAction(ctx, s.store, sl); err != nil {
			return err
		}
		out = sl
		return nil
	})
	return out, err
}

// SealForUse returns seal id for a seal by user userID: it must be the
// user's (else ErrSealNotFound, as for an unknown id) and active (else
// ErrSealNotActive).
func (s *Service) SealForUse(ctx context.Context, userID, id string) (*Seal, error) {
	rec, _, err := s.loadSeal(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Owner != userID {
		return nil, fmt.Errorf("%w: %s", ErrSealNotFound, id)
	}
	out := rec.toSeal(s.now())
	if out.State != SealActive || s.now().Before(rec.NotBefore) {
		return nil, fmt.Errorf("%w: %s is %s", ErrSealNotActive, id, out.State)
	}
	return out, nil
}

// SealRevoked tells whether the SES_Seal with esID id is revoked in this
// registry (false for a seal this registry does not know).
func (s *Service) SealRevoked(ctx context.Context, id string) (bool, error) {
	rec, _, err := s.loadSeal(ctx, id)
	if errors.Is(err, ErrSealNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !rec.RevokedAt.IsZero(), nil
}

// hiddenRune is the first rune of s that the phone would not show as it
// reads (protocol.HiddenRune), or -1.
func hiddenRune(s string) rune {
	if r, hidden := protocol.HiddenIn(s); hidden {
		return r
	}
	return -1
}
