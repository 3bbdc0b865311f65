package ca

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Delegation: an organisation user's credential used by a staff member
// (经办人) with the staff member's own PIN.
//
// The key scheme (docs/threat-model.md, "Delegation"):
//
//  1. The operator grants the delegation (AddDelegation): a record with no
//     key material, state pending_acceptance.
//  2. The delegate accepts it on their phone with their PIN
//     (AcceptDelegation): the gateway makes a fresh SM2 key pair for this
//     delegation, wraps its private key under the delegate's PIN key
//     (associated data: the record key + "/delegate") and stores the
//     public key. State pending_approval.
//  3. The organisation's holder approves it on their phone with the
//     organisation's PIN (ApproveDelegation): the gateway unwraps the
//     organisation's credential key, wraps it under a fresh random SM4 key
//     (associated data: the record key + "/org") and encrypts that SM4 key
//     to the delegation's public key (SM2, GM/T 0009 ASN.1). State active.
//  4. A confirm by the delegate (UnlockDelegatedKey) checks the delegate's
//     PIN (the delegate's own counter and lock), unwraps the delegation's
//     private key, decrypts the SM4 key and unwraps the organisation's key.
//
// At no time is the organisation's key stored under the master key alone:
// opening it needs the organisation's PIN or a delegate's PIN. Revoking
// a delegation (RevokeDelegation) erases its key pair and the sealed copy
// of the organisation's key; DeleteDelegationsOf removes every delegation
// of a user (either side) with its wraps.

// delegationRecord is what delegations/<id> holds.
type delegationRecord struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"org"`
	DelegateID   string    `json:"delegate"`
	CredentialID string    `json:"credential"`
	Kinds        []string  `json:"kinds,omitempty"`
	Apps         []string  `json:"apps,omitempty"`
	NotAfter     time.Time `json:"not_after"`
	CreatedAt    time.Time `json:"created_at"`
	AcceptedAt   time.Time `json:"accepted_at,omitzero"`
	ApprovedAt   time.Time `json:"approved_at,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	// PublicKey is the SubjectPublicKeyInfo DER of the delegation's SM2
	// key pair (set at acceptance); WrappedKey its PKCS#8 private key
	// wrapped under the delegate's PIN key.
	PublicKey  []byte `json:"public_key,omitempty"`
	WrappedKey []byte `json:"wrapped_key,omitempty"`
	// SealedKEK is a random SM4 key encrypted to PublicKey; SealedOrgKey
	// the organisation credential's PKCS#8 private key wrapped under it
	// (set at approval).
	SealedKEK    []byte `json:"sealed_kek,omitempty"`
	SealedOrgKey []byte `json:"sealed_org_key,omitempty"`
	// Superseded are the copies of the organisation's superseded
	// encryption keys (credentials renewed from CredentialID, following
	// supersedes), newest first, at most MaxDelegationSuperseded: each
	// sealed to PublicKey like SealedOrgKey (kept at a renewal, or made
	// at approval), so a delegate opens ciphertexts made for last year's
	// certificate with their own PIN (renew.go).
	Superseded []delegationCopy `json:"superseded,omitempty"`
	// Next is the move to the renewal of the credential that waits for its
	// certificate at an external issuer (renew.go), done at its import.
	Next *delegationNext `json:"next,omitempty"`
}

// delegationCopy is a delegation's copy of one of the organisation's
// superseded encryption keys: a random SM4 key encrypted to the
// delegation's public key (SealedKEK) and the credential's PKCS#8 key
// wrapped under it (SealedOrgKey, associated data orgWrapAD).
type delegationCopy struct {
	CredentialID string `json:"credential"`
	SealedKEK    []byte `json:"sealed_kek,omitempty"`
	SealedOrgKey []byte `json:"sealed_org_key,omitempty"`
}

// MaxDelegationSuperseded bounds the copies of superseded encryption keys
// one delegation keeps (the newest): with yearly renewals, four years of
// ciphertexts. The organisation's own phone opens older ones. The copies
// live in the delegation's record, so they add no record to a PIN change
// (which re-wraps only the delegation's private key) and no operation to
// a renewal's write.
const MaxDelegationSuperseded = 4

// supersededCopy is d's copy of superseded credential credentialID, or nil.
func (d *delegationRecord) supersededCopy(credentialID string) *delegationCopy {
	for i := range d.Superseded {
		if d.Superseded[i].CredentialID == credentialID {
			return &d.Superseded[i]
		}
	}
	return nil
}

// keepSuperseded puts the copy (kek, org) of credential credentialID's
// key first among d's superseded copies (replacing an older copy of the
// same credential) and drops the oldest beyond MaxDelegationSuperseded.
func (d *delegationRecord) keepSuperseded(credentialID string, kek, org []byte) {
	out := []delegationCopy{{CredentialID: credentialID, SealedKEK: kek, SealedOrgKey: org}}
	for _, c := range d.Superseded {
		if c.CredentialID != credentialID && len(out) < MaxDelegationSuperseded {
			out = append(out, c)
		}
	}
	d.Superseded = out
}

func (d *delegationRecord) state(now time.Time) string {
	switch {
	case !d.RevokedAt.IsZero():
		return protocol.DelegationRevoked
	case !now.Before(d.NotAfter):
		return protocol.DelegationExpired
	case !d.ApprovedAt.IsZero():
		return protocol.DelegationActive
	case !d.AcceptedAt.IsZero():
		return protocol.DelegationPendingApproval
	default:
		return protocol.DelegationPendingAcceptance
	}
}

// Delegation is a delegation as the API shows it (the wire type).
type Delegation = protocol.Delegation

func (d *delegationRecord) toDelegation(now time.Time) *Delegation {
	return &Delegation{
		ID: d.ID, Organization: d.OrgID, User: d.DelegateID, Credential: d.CredentialID,
		Kinds: slices.Clone(d.Kinds), Apps: slices.Clone(d.Apps), NotAfter: d.NotAfter, State: d.state(now),
		CreatedAt: d.CreatedAt, AcceptedAt: d.AcceptedAt, ApprovedAt: d.ApprovedAt, RevokedAt: d.RevokedAt,
		SupersededCredentials: d.supersededIDs(),
	}
}

// supersededIDs lists the credentials of d's superseded copies, newest
// first (nil when none).
func (d *delegationRecord) supersededIDs() []string {
	var ids []string
	for _, c := range d.Superseded {
		ids = append(ids, c.CredentialID)
	}
	return ids
}

// Allows reports whether a delegation's scope admits a session of kind
// for app: an empty list admits everything.
func delegationAllows(kinds, apps []string, kind, app string) bool {
	return (len(kinds) == 0 || slices.Contains(kinds, kind)) && (len(apps) == 0 || slices.Contains(apps, app))
}

// DelegationRequest grants a delegation (AddDelegation).
type DelegationRequest struct {
	// OrgID is the organisation user; DelegateID the staff member (a
	// person user); CredentialID one of the organisation's usual (not
	// cosign) credentials.
	OrgID        string
	DelegateID   string
	CredentialID string
	// Kinds are session kinds (login, sign, decrypt, seal); empty: every
	// kind the credential serves. Apps are app ids; empty: every app.
	Kinds []string
	Apps  []string
	// NotAfter ends the delegation: after now, within MaxDelegationDays.
	NotAfter time.Time
}

// MaxDelegationDays bounds how long a delegation may last.
const MaxDelegationDays = 3 * 366

// maxDelegationScope bounds the kinds and apps of one delegation.
const maxDelegationScope = 32

// delegableKinds are the session kinds that use a key.
var delegableKinds = []string{string(protocol.KindLogin), string(protocol.KindSign), string(protocol.KindDecrypt), string(protocol.KindSeal)}

// Validate checks what can be checked without the store.
func (r *DelegationRequest) Validate() error {
	if !ValidID(r.DelegateID) {
		return invalid("user", "must be a user id")
	}
	if !ValidID(r.CredentialID) {
		return invalid("credential", "must be a credential id")
	}
	if r.DelegateID == r.OrgID {
		return invalid("user", "an organisation cannot delegate to itself")
	}
	if len(r.Kinds) > maxDelegationScope {
		return invalid("kinds", "at most %d", maxDelegationScope)
	}
	for i, k := range r.Kinds {
		if !slices.Contains(delegableKinds, k) {
			return invalid(fmt.Sprintf("kinds[%d]", i), "must be one of %s", strings.Join(delegableKinds, ", "))
		}
		if slices.Contains(r.Kinds[:i], k) {
			return invalid(fmt.Sprintf("kinds[%d]", i), "given twice")
		}
	}
	if len(r.Apps) > maxDelegationScope {
		return invalid("apps", "at most %d", maxDelegationScope)
	}
	for i, a := range r.Apps {
		if !ValidID(a) {
			return invalid(fmt.Sprintf("apps[%d]", i), "must be an app id")
		}
		if slices.Contains(r.Apps[:i], a) {
			return invalid(fmt.Sprintf("apps[%d]", i), "given twice")
		}
	}
	if r.NotAfter.IsZero() {
		return invalid("not_after", "required")
	}
	return nil
}

// Storage keys of delegations.
const (
	pfxDelegations    = "delegations/"
	pfxOrgDelegations = "orgdelegations/"  // orgdelegations/<org>/<id>: index
	pfxUserDelegation = "userdelegations/" // userdelegations/<delegate>/<id>: index
	prefixDelegation  = "dlg_"
)

func delegationKey(id string) string { return pfxDelegations + id }
func orgDelegationKey(org, id string) string {
	return pfxOrgDelegations + org + "/" + id
}
func userDelegationKey(user, id string) string {
	return pfxUserDelegation + user + "/" + id
}

// Associated data of the two wraps of a delegation.
func delegateWrapAD(id string) []byte { return []byte(delegationKey(id) + "/delegate") }
func orgWrapAD(id string) []byte      { return []byte(delegationKey(id) + "/org") }

// AddDelegation grants a delegation of an organisation's credential to a
// staff member. Errors: a *RequestError, ErrUserNotFound (either user),
// ErrNotOrganization (OrgID is not an organisation, or DelegateID is one),
// ErrCredentialNotFound (not the organisation's), ErrCredentialNotActive,
// ErrIsCosign (a two-party credential cannot be delegated: the gateway
// never holds its key), ErrCredentialLimit (the delegate holds as many
// credentials and delegations as a PIN change re-wraps). Audited by the
// caller's action (audit.WithAction) in the same transaction.
func (s *Service) AddDelegation(ctx context.Context, req DelegationRequest) (*Delegation, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if !req.NotAfter.After(now) {
		return nil, invalid("not_after", "must be in the future")
	}
	if req.NotAfter.After(now.AddDate(0, 0, MaxDelegationDays)) {
		return nil, invalid("not_after", "at most %d days ahead", MaxDelegationDays)
	}
	org, _, err := s.loadUser(ctx, req.OrgID)
	if err != nil {
		return nil, err
	}
	if !org.organization() {
		return nil, fmt.Errorf("%w: %s is not an organisation", ErrNotOrganization, org.ID)
	}
	del, _, err := s.loadUser(ctx, req.DelegateID)
	if errors.Is(err, ErrUserNotFound) {
		return nil, &RequestError{Field: "user", Reason: "no such user", Err: ErrUserNotFound}
	}
	if err != nil {
		return nil, err
	}
	if del.organization() {
		return nil, fmt.Errorf("%w: the delegate %s must be a person", ErrNotOrganization, del.ID)
	}
	if err := s.checkRewrapLimit(ctx, del.ID, 1); err != nil {
		return nil, err
	}
	c, _, err := s.loadCredential(ctx, req.CredentialID)
	if err != nil {
		return nil, err
	}
	if c.UserID != org.ID {
		return nil, fmt.Errorf("%w: %s", ErrCredentialNotFound, req.CredentialID)
	}
	if c.Cosign {
		return nil, fmt.Errorf("%w: %s is a two-party credential; its key never exists at the gateway", ErrIsCosign, c.ID)
	}
	if st := c.state(now); st != StateActive {
		return nil, fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
	}
	for i, k := range req.Kinds {
		if (k == string(protocol.KindDecrypt)) != (c.Purpose == PurposeEncrypt) {
			return nil, invalid(fmt.Sprintf("kinds[%d]", i), "a %s credential cannot serve %s sessions", c.Purpose, k)
		}
	}
	existing, err := s.indexedDelegations(ctx, pfxUserDelegation+del.ID+"/")
	if err != nil {
		return nil, err
	}
	for _, d := range existing {
		if st := d.rec.state(now); d.rec.CredentialID == c.ID && st != protocol.DelegationRevoked && st != protocol.DelegationExpired {
			return nil, invalid("credential", "already delegated to %s (%s, %s): revoke it first", del.ID, d.rec.ID, st)
		}
	}
	id, err := newID(prefixDelegation)
	if err != nil {
		return nil, err
	}
	rec := &delegationRecord{
		ID: id, OrgID: org.ID, DelegateID: del.ID, CredentialID: c.ID,
		Kinds: req.Kinds, Apps: req.Apps, NotAfter: req.NotAfter.UTC(), CreatedAt: now,
	}
	var b txnBuilder
	b.cond(delegationKey(id), 0)
	b.put(delegationKey(id), rec, 0)
	b.put(orgDelegationKey(org.ID, id), struct{}{}, 0)
	b.put(userDelegationKey(del.ID, id), struct{}{}, 0)
	out := s.delegationView(ctx, rec)
	if err := b.commitAction(ctx, s.store, out); err != nil {
		return nil, err
	}
	return out, nil
}

// delegationView is the wire view of rec with both users' names (a user
// that cannot be read is shown by id only).
func (s *Service) delegationView(ctx context.Context, rec *delegationRecord) *Delegation {
	d := rec.toDelegation(s.now())
	if u, _, err := s.loadUser(ctx, rec.OrgID); err == nil {
		d.OrganizationName = u.Organization
		if d.OrganizationName == "" {
			d.OrganizationName = u.Name
		}
	}
	if u, _, err := s.loadUser(ctx, rec.DelegateID); err == nil {
		d.UserName = u.Name
	}
	return d
}

func (s *Service) loadDelegation(ctx context.Context, id string) (*delegationRecord, int64, error) {
	return loadRecord[delegationRecord](ctx, s, delegationKey(id), id, ErrDelegationNotFound)
}

type delegationAtRev struct {
	rec *delegationRecord
	rev int64
}

// indexedDelegations reads the delegations an index prefix lists.
func (s *Service) indexedDelegations(ctx context.Context, prefix string) ([]delegationAtRev, error) {
	idx, _, err := s.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]delegationAtRev, 0, len(idx))
	for _, kv := range idx {
		d, rev, err := s.loadDelegation(ctx, strings.TrimPrefix(kv.Key, prefix))
		if errors.Is(err, ErrDelegationNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, delegationAtRev{d, rev})
	}
	return out, nil
}

// Delegations lists the delegations of organisation orgID's credentials
// (ErrUserNotFound if the user does not exist), by id.
func (s *Service) Delegations(ctx context.Context, orgID string) ([]*Delegation, error) {
	if _, _, err := s.loadUser(ctx, orgID); err != nil {
		return nil, err
	}
	ds, err := s.indexedDelegations(ctx, pfxOrgDelegations+orgID+"/")
	if err != nil {
		return nil, err
	}
	out := make([]*Delegation, 0, len(ds))
	for _, d := range ds {
		out = append(out, s.delegationView(ctx, d.rec))
	}
	return out, nil
}

// UserDelegations lists what a phone user sees: the delegations granted
// to them and, for an organisation, those of its credentials.
func (s *Service) UserDelegations(ctx context.Context, userID string) ([]*Delegation, error) {
	var out []*Delegation
	for _, p := range []string{pfxUserDelegation, pfxOrgDelegations} {
		ds, err := s.indexedDelegations(ctx, p+userID+"/")
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			out = append(out, s.delegationView(ctx, d.rec))
		}
	}
	if out == nil {
		out = []*Delegation{}
	}
	return out, nil
}

// RevokeDelegation revokes delegation id of organisation orgID: the
// delegation's key pair and its copy of the organisation's key are erased
// in the same write, so nothing the delegate holds opens the key any
// more. Errors: ErrDelegationNotFound (also another organisation's),
// ErrDelegationRevoked (already). Audited by the caller's action.
func (s *Service) RevokeDelegation(ctx context.Context, orgID, id string) (*Delegation, error) {
	var out *Delegation
	err := retry(ctx, func() error {
		d, rev, err := s.loadDelegation(ctx, id)
		if err != nil {
			return err
		}
		if d.OrgID != orgID {
			return fmt.Errorf("%w: %s", ErrDelegationNotFound, id)
		}
		if !d.RevokedAt.IsZero() {
			return fmt.Errorf("%w: %s", ErrDelegationRevoked, id)
		}
		d.RevokedAt = s.now().UTC()
		d.eraseKeys()
		var b txnBuilder
		b.cond(delegationKey(id), rev)
		b.put(delegationKey(id), d, 0)
		out = s.delegationView(ctx, d)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// eraseKeys erases every key of d: its key pair, its copy of the
// organisation's key and every copy of a superseded one (of those, only
// the credential ids stay, so a confirm naming one is told the delegation
// is revoked).
func (d *delegationRecord) eraseKeys() {
	d.PublicKey, d.WrappedKey, d.SealedKEK, d.SealedOrgKey, d.Next = nil, nil, nil, nil, nil
	for i := range d.Superseded {
		d.Superseded[i].SealedKEK, d.Superseded[i].SealedOrgKey = nil, nil
	}
}

// usable reports why d cannot be used now (nil: it can).
func (d *delegationRecord) usable(now time.Time) error {
	switch d.state(now) {
	case protocol.DelegationRevoked:
		return fmt.Errorf("%w: %s", ErrDelegationRevoked, d.ID)
	case protocol.DelegationExpired:
		return fmt.Errorf("%w: %s ended %s", ErrDelegationExpired, d.ID, d.NotAfter.Format(time.RFC3339))
	case protocol.DelegationActive:
		return nil
	}
	return fmt.Errorf("%w: %s is %s", ErrDelegationNotActive, d.ID, d.state(now))
}

// AcceptDelegation is the delegate's acceptance, with their own PIN
// (checked with their lockout): the delegation's key pair is made and its
// private key wrapped under the delegate's PIN key. Errors:
// ErrDelegationNotFound (also one granted to someone else),
// ErrDelegationRevoked, ErrDelegationExpired, ErrDelegationState (already
// accepted), ErrCredentialLimit, the PIN errors. Audited by the caller's
// action.
func (s *Service) AcceptDelegation(ctx context.Context, delegateID, id, pin string) (*Delegation, error) {
	var out *Delegation
	err := retry(ctx, func() error {
		d, drev, err := s.loadDelegation(ctx, id)
		if err != nil {
			return err
		}
		if d.DelegateID != delegateID {
			return fmt.Errorf("%w: %s", ErrDelegationNotFound, id)
		}
		switch st := d.state(s.now()); st {
		case protocol.DelegationRevoked, protocol.DelegationExpired:
			return d.usable(s.now())
		case protocol.DelegationPendingAcceptance:
		default:
			return fmt.Errorf("%w: %s is %s", ErrDelegationState, id, st)
		}
		if err := s.checkRewrapLimit(ctx, delegateID, 1); err != nil {
			return err
		}
		u, urev, err := s.loadUser(ctx, delegateID)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
		if err != nil {
			return err
		}
		defer gmcrypto.ZeroKey(key)
		pub, err := gmcrypto.MarshalPublicKey(key.Public())
		if err != nil {
			return err
		}
		der, err := gmcrypto.MarshalPrivateKey(key)
		if err != nil {
			return err
		}
		wrapped, err := gmcrypto.Wrap(pinKey, der, delegateWrapAD(id))
		gmcrypto.Zero(der)
		if err != nil {
			return err
		}
		d.PublicKey, d.WrappedKey, d.AcceptedAt = pub, wrapped, s.now().UTC()
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(delegationKey(id), drev)
		b.put(delegationKey(id), d, 0)
		out = s.delegationView(ctx, d)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// ApproveDelegation is the organisation holder's approval, with the
// organisation's PIN (checked with the organisation's lockout): the
// credential's key is unwrapped and sealed to the delegation's public key.
// Errors: ErrDelegationNotFound (also another organisation's),
// ErrDelegationRevoked, ErrDelegationExpired, ErrDelegationState (not
// accepted yet, or already approved), ErrCredentialNotActive,
// ErrAwaitingRecovery (after a PIN reset, until the escrow recovery;
// checked before the PIN), the PIN errors. Audited by the caller's action.
func (s *Service) ApproveDelegation(ctx context.Context, orgID, id, pin string) (*Delegation, error) {
	var out *Delegation
	err := retry(ctx, func() error {
		d, drev, err := s.loadDelegation(ctx, id)
		if err != nil {
			return err
		}
		if d.OrgID != orgID {
			return fmt.Errorf("%w: %s", ErrDelegationNotFound, id)
		}
		switch st := d.state(s.now()); st {
		case protocol.DelegationRevoked, protocol.DelegationExpired:
			return d.usable(s.now())
		case protocol.DelegationPendingApproval:
		default:
			return fmt.Errorf("%w: %s is %s", ErrDelegationState, id, st)
		}
		c, crev, err := s.loadCredential(ctx, d.CredentialID)
		if err != nil {
			return err
		}
		if st := c.state(s.now()); st != StateActive || c.UserID != orgID || c.Cosign {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
		}
		if c.AwaitingRecovery {
			// After a PIN reset its key is under no PIN anyone knows
			// until the escrow recovery wraps it under the new one.
			return fmt.Errorf("%w: %s", ErrAwaitingRecovery, c.ID)
		}
		u, urev, err := s.loadUser(ctx, orgID)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		der, err := gmcrypto.Unwrap(pinKey, c.WrappedKey, []byte(credentialKey(c.ID)))
		if err != nil {
			return fmt.Errorf("ca: credential %s does not open under the verified PIN: %w", c.ID, err)
		}
		defer gmcrypto.Zero(der)
		sealedKEK, sealedOrg, err := d.seal(der)
		if err != nil {
			return err
		}
		var b txnBuilder
		// The superseded encryption keys that still decrypt, sealed too
		// (the same PIN opens them), so a delegation approved after a
		// renewal opens what a delegation carried over by it opens.
		if d.Superseded, err = s.sealSuperseded(ctx, &b, d, c, pinKey); err != nil {
			return err
		}
		d.SealedKEK, d.SealedOrgKey, d.ApprovedAt = sealedKEK, sealedOrg, s.now().UTC()
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(credentialKey(c.ID), crev)
		b.cond(delegationKey(id), drev)
		b.put(delegationKey(id), d, 0)
		out = s.delegationView(ctx, d)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// seal makes a copy of the organisation key der (PKCS#8) for d: a fresh
// SM4 key wraps der (associated data orgWrapAD) and is encrypted to d's
// public key (SM2, GM/T 0009 ASN.1). It returns the encrypted SM4 key and
// the wrapped organisation key.
func (d *delegationRecord) seal(der []byte) (sealedKEK, sealedOrg []byte, err error) {
	pub, err := gmcrypto.ParsePublicKey(d.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: corrupt delegation %s: %w", d.ID, err)
	}
	kek, err := gmcrypto.RandomBytes(gmcrypto.KeySize)
	if err != nil {
		return nil, nil, err
	}
	defer gmcrypto.Zero(kek)
	if sealedOrg, err = gmcrypto.Wrap(kek, der, orgWrapAD(d.ID)); err != nil {
		return nil, nil, err
	}
	if sealedKEK, err = gmcrypto.Encrypt(pub, kek, gmcrypto.FormatASN1); err != nil {
		return nil, nil, err
	}
	return sealedKEK, sealedOrg, nil
}

// sealSuperseded returns, for the approval of d (of the organisation's
// credential c, whose holder's PIN key is pinKey), copies sealed to d of
// the keys of the encryption credentials c renewed (following
// Supersedes, newest first, at most MaxDelegationSuperseded) that still
// decrypt: superseded, not revoked, not awaiting recovery. It adds to b
// the condition on each credential read. Nil for a signing credential.
func (s *Service) sealSuperseded(ctx context.Context, b *txnBuilder, d *delegationRecord, c *credentialRecord, pinKey []byte) ([]delegationCopy, error) {
	if c.Purpose != PurposeEncrypt {
		return nil, nil
	}
	now := s.now()
	var out []delegationCopy
	seen := map[string]bool{c.ID: true}
	for next, steps := c.Supersedes, 0; next != "" && !seen[next] && steps < maxRenewalChain && len(out) < MaxDelegationSuperseded; steps++ {
		p, prev, err := s.loadCredential(ctx, next)
		if errors.Is(err, ErrCredentialNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if p.UserID != c.UserID {
			break
		}
		seen[p.ID], next = true, p.Supersedes
		if p.state(now) != StateSuperseded || p.Purpose != PurposeEncrypt || p.unlockable(now, true) != nil {
			continue // revoked: never decrypts again
		}
		der, err := gmcrypto.Unwrap(pinKey, p.WrappedKey, []byte(credentialKey(p.ID)))
		if err != nil {
			return nil, fmt.Errorf("ca: credential %s does not open under the verified PIN: %w", p.ID, err)
		}
		kek, org, err := d.seal(der)
		gmcrypto.Zero(der)
		if err != nil {
			return nil, err
		}
		out = append(out, delegationCopy{CredentialID: p.ID, SealedKEK: kek, SealedOrgKey: org})
		b.cond(credentialKey(p.ID), prev)
	}
	return out, nil
}

// DelegatedCredential is an organisation's credential as a delegate may
// use it: the credential and the delegation that lets them.
type DelegatedCredential struct {
	Credential *Credential
	Delegation *Delegation
}

// Allows reports whether the delegation admits a session of kind for app.
func (dc *DelegatedCredential) Allows(kind, app string) bool {
	return delegationAllows(dc.Delegation.Kinds, dc.Delegation.Apps, kind, app)
}

// DelegatedCredentials lists the organisations' active credentials that
// delegate may use now through an active delegation, with the
// delegation (organisation name filled in).
func (s *Service) DelegatedCredentials(ctx context.Context, delegateID string) ([]*DelegatedCredential, error) {
	return s.delegatedCredentials(ctx, delegateID, false)
}

// DelegatedSuperseded lists the organisations' superseded encryption
// credentials that delegate may decrypt with now: those whose copy an
// active delegation of an active credential keeps (newest first within
// each delegation) and that still decrypt (superseded, not revoked, not
// awaiting recovery), with the delegation.
func (s *Service) DelegatedSuperseded(ctx context.Context, delegateID string) ([]*DelegatedCredential, error) {
	return s.delegatedCredentials(ctx, delegateID, true)
}

func (s *Service) delegatedCredentials(ctx context.Context, delegateID string, superseded bool) ([]*DelegatedCredential, error) {
	if !ValidID(delegateID) {
		return nil, nil
	}
	ds, err := s.indexedDelegations(ctx, pfxUserDelegation+delegateID+"/")
	if err != nil {
		return nil, err
	}
	var out []*DelegatedCredential
	now := s.now()
	for _, d := range ds {
		if d.rec.usable(now) != nil || (superseded && len(d.rec.Superseded) == 0) {
			continue
		}
		c, _, err := s.loadCredential(ctx, d.rec.CredentialID)
		if errors.Is(err, ErrCredentialNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.state(now) != StateActive || c.UserID != d.rec.OrgID {
			continue
		}
		var creds []*credentialRecord
		if !superseded {
			creds = append(creds, c)
		}
		for _, cp := range d.rec.Superseded {
			if !superseded {
				break
			}
			p, _, err := s.loadCredential(ctx, cp.CredentialID)
			if errors.Is(err, ErrCredentialNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if p.delegatedDecryptable(now, d.rec) == nil {
				creds = append(creds, p)
			}
		}
		if len(creds) == 0 {
			continue
		}
		view := s.delegationView(ctx, d.rec)
		for _, c := range creds {
			cred, err := c.toCredential(now)
			if err != nil {
				return nil, err
			}
			out = append(out, &DelegatedCredential{Credential: cred, Delegation: view})
		}
	}
	return out, nil
}

// delegatedDecryptable reports why superseded credential p's copy in
// delegation d cannot decrypt now (nil: it can): p must be the
// organisation's, a superseded encryption credential whose key still
// decrypts (the owner's rule: not revoked, not awaiting recovery).
func (p *credentialRecord) delegatedDecryptable(now time.Time, d *delegationRecord) error {
	if p.UserID != d.OrgID || d.supersededCopy(p.ID) == nil {
		return fmt.Errorf("%w: %s", ErrCredentialNotFound, p.ID)
	}
	if st := p.state(now); st != StateSuperseded || p.Purpose != PurposeEncrypt {
		return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, p.ID, st)
	}
	return p.unlockable(now, true)
}

// DelegatedCredential returns the organisation credential credentialID as
// delegate may use it now: the delegate's delegation of it that is
// active, else the refusal of the best one there is
// (ErrDelegationRevoked, ErrDelegationExpired, ErrDelegationNotActive),
// else ErrCredentialNotFound (no delegation at all: the phone must not
// learn whose credential it is). The credential must be active
// (ErrCredentialNotActive), or a superseded encryption credential whose
// copy the delegation keeps and that still decrypts (the delegation's
// own credential active).
func (s *Service) DelegatedCredential(ctx context.Context, delegateID, credentialID string) (*DelegatedCredential, error) {
	if !ValidID(delegateID) || !ValidID(credentialID) {
		return nil, fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
	}
	ds, err := s.indexedDelegations(ctx, pfxUserDelegation+delegateID+"/")
	if err != nil {
		return nil, err
	}
	now := s.now()
	var refusal error
	for _, d := range ds {
		if d.rec.CredentialID != credentialID && d.rec.supersededCopy(credentialID) == nil {
			continue
		}
		if err := d.rec.usable(now); err != nil {
			if refusal == nil || errors.Is(refusal, ErrDelegationRevoked) {
				refusal = err // revoked < expired < not active: the latest grant's story
			}
			continue
		}
		c, _, err := s.loadCredential(ctx, d.rec.CredentialID)
		if err != nil {
			return nil, err
		}
		if st := c.state(now); st != StateActive || c.UserID != d.rec.OrgID {
			return nil, fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
		}
		if c.ID != credentialID {
			if c, _, err = s.loadCredential(ctx, credentialID); err != nil {
				return nil, err
			}
			if err := c.delegatedDecryptable(now, d.rec); err != nil {
				return nil, err
			}
		}
		cred, err := c.toCredential(now)
		if err != nil {
			return nil, err
		}
		return &DelegatedCredential{Credential: cred, Delegation: s.delegationView(ctx, d.rec)}, nil
	}
	if refusal != nil {
		return nil, refusal
	}
	return nil, fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
}

// UnlockDelegatedKey checks the delegate's PIN (the delegate's own
// counter and lock; the organisation's are not touched) and returns the
// organisation credential's private key through delegation id, with the
// credential. The delegation must be the delegate's, active, and of an
// active credential; it is re-read here, so a revocation that came after
// the scan is refused. The caller zeroes the key (gmcrypto.ZeroKey).
func (s *Service) UnlockDelegatedKey(ctx context.Context, delegateID, id, pin string) (crypto.Signer, *Credential, error) {
	return s.unlockDelegated(ctx, delegateID, id, "", pin)
}

// UnlockDelegatedDecryptKey is UnlockDelegatedKey for a decryption with
// credential credentialID: the delegation's own credential, or one of the
// organisation's superseded encryption credentials whose copy the
// delegation keeps and that still decrypts (else ErrCredentialNotFound
// for no copy, ErrCredentialNotActive for a revoked one; checked before
// the PIN).
func (s *Service) UnlockDelegatedDecryptKey(ctx context.Context, delegateID, id, credentialID, pin string) (crypto.Signer, *Credential, error) {
	return s.unlockDelegated(ctx, delegateID, id, credentialID, pin)
}

// unlockDelegated is UnlockDelegatedKey ("" credentialID: the
// delegation's credential) and UnlockDelegatedDecryptKey.
func (s *Service) unlockDelegated(ctx context.Context, delegateID, id, credentialID, pin string) (crypto.Signer, *Credential, error) {
	var key crypto.Signer
	var out *Credential
	err := retry(ctx, func() error {
		d, drev, err := s.loadDelegation(ctx, id)
		if err != nil {
			return err
		}
		if d.DelegateID != delegateID {
			return fmt.Errorf("%w: %s", ErrDelegationNotFound, id)
		}
		now := s.now()
		if err := d.usable(now); err != nil {
			return err
		}
		c, crev, err := s.loadCredential(ctx, d.CredentialID)
		if err != nil {
			return err
		}
		if st := c.state(now); st != StateActive || c.UserID != d.OrgID {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, c.ID, st)
		}
		target, sealedKEK, sealedOrg := c, d.SealedKEK, d.SealedOrgKey
		var trev int64
		if credentialID != "" && credentialID != c.ID {
			cp := d.supersededCopy(credentialID)
			if cp == nil || cp.SealedKEK == nil {
				return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
			}
			if target, trev, err = s.loadCredential(ctx, credentialID); err != nil {
				return err
			}
			if err := target.delegatedDecryptable(now, d); err != nil {
				return err
			}
			sealedKEK, sealedOrg = cp.SealedKEK, cp.SealedOrgKey
		}
		u, urev, err := s.loadUser(ctx, delegateID)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(credentialKey(c.ID), crev)
		if target != c {
			b.cond(credentialKey(target.ID), trev)
		}
		b.cond(delegationKey(id), drev)
		if err := b.commit(ctx, s.store); err != nil {
			return err
		}
		k, err := d.open(pinKey, sealedKEK, sealedOrg)
		if err != nil {
			return err
		}
		if pub, err := gmcrypto.MarshalPublicKey(k.Public()); err != nil || !bytes.Equal(pub, target.PublicKey) {
			gmcrypto.ZeroKey(k)
			return fmt.Errorf("ca: corrupt delegation %s: its copy is not the key of %s", d.ID, target.ID)
		}
		cr, err := target.toCredential(now)
		if err != nil {
			gmcrypto.ZeroKey(k)
			return err
		}
		key, out = k, cr
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return key, out, nil
}

// open unwraps the delegation's private key with the delegate's PIN key,
// decrypts the KEK sealedKEK and unwraps the organisation's key sealedOrg
// (the current copy, or one of the superseded ones).
func (d *delegationRecord) open(pinKey, sealedKEK, sealedOrg []byte) (crypto.Signer, error) {
	der, err := gmcrypto.Unwrap(pinKey, d.WrappedKey, delegateWrapAD(d.ID))
	if err != nil {
		return nil, fmt.Errorf("ca: delegation %s does not open under the verified PIN: %w", d.ID, err)
	}
	dk, err := gmcrypto.ParsePrivateKey(der)
	gmcrypto.Zero(der)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt delegation %s: %w", d.ID, err)
	}
	defer gmcrypto.ZeroKey(dk)
	kek, err := gmcrypto.Decrypt(dk, sealedKEK, gmcrypto.FormatASN1)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt delegation %s: %w", d.ID, err)
	}
	defer gmcrypto.Zero(kek)
	orgDER, err := gmcrypto.Unwrap(kek, sealedOrg, orgWrapAD(d.ID))
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt delegation %s: %w", d.ID, err)
	}
	defer gmcrypto.Zero(orgDER)
	k, err := gmcrypto.ParsePrivateKey(orgDER)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt delegation %s: %w", d.ID, err)
	}
	return k, nil
}

// checkRewrapLimit refuses (ErrCredentialLimit) when userID's credentials
// and accepted delegations, plus more, would not fit one PIN change's
// transaction.
func (s *Service) checkRewrapLimit(ctx context.Context, userID string, more int) error {
	n, err := s.rewrapCount(ctx, userID)
	if err != nil {
		return err
	}
	if n+more > maxCredentialsPerUser {
		return fmt.Errorf("%w: %d credentials and delegations", ErrCredentialLimit, n)
	}
	return nil
}

// rewrapCount is how many records a PIN change of userID re-wraps: the
// credentials and the delegations granted to them.
func (s *Service) rewrapCount(ctx context.Context, userID string) (int, error) {
	creds, _, err := s.store.List(ctx, pfxUserCreds+userID+"/")
	if err != nil {
		return 0, err
	}
	dels, _, err := s.store.List(ctx, pfxUserDelegation+userID+"/")
	if err != nil {
		return 0, err
	}
	return len(creds) + len(dels), nil
}

// rewrapDelegations adds to b the re-wrap, from oldKey to newKey, of the
// key of every delegation granted to userID that holds one (a PIN change).
func (s *Service) rewrapDelegations(ctx context.Context, b *txnBuilder, userID string, oldKey, newKey []byte) error {
	ds, err := s.indexedDelegations(ctx, pfxUserDelegation+userID+"/")
	if err != nil {
		return err
	}
	for _, d := range ds {
		if len(d.rec.WrappedKey) == 0 {
			continue
		}
		ad := delegateWrapAD(d.rec.ID)
		der, err := gmcrypto.Unwrap(oldKey, d.rec.WrappedKey, ad)
		if err != nil {
			return fmt.Errorf("ca: delegation %s does not open under the current PIN: %w", d.rec.ID, err)
		}
		w, err := gmcrypto.Wrap(newKey, der, ad)
		gmcrypto.Zero(der)
		if err != nil {
			return err
		}
		d.rec.WrappedKey = w
		b.cond(delegationKey(d.rec.ID), d.rev)
		b.put(delegationKey(d.rec.ID), d.rec, 0)
	}
	return nil
}

// DeleteDelegationsOf removes every delegation where userID is the
// organisation or the delegate: the records with their key wraps and both
// indexes (with the audit entry of ctx's action, if any, in the first
// transaction; a user with many delegations needs several, each removing
// whole delegations). It returns how many it removed. For account
// deletion (privacy): after it nothing opens an organisation's key
// through userID. Safe to call for a user with none (0, nil).
func (s *Service) DeleteDelegationsOf(ctx context.Context, userID string) (int, error) {
	n := 0
	err := retry(ctx, func() error {
		groups, count, err := s.delegationDeleteGroups(ctx, userID)
		if err != nil {
			return err
		}
		var batch []storage.Op
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			b := txnBuilder{ops: batch}
			batch = nil
			return b.commitAction(ctx, s.store, nil)
		}
		for _, g := range groups {
			if len(batch)+len(g) > storage.MaxTxnOps-8 {
				if err := flush(); err != nil {
					return err
				}
			}
			batch = append(batch, g...)
		}
		if err := flush(); err != nil {
			return err
		}
		n += count
		return nil
	})
	return n, err
}

// DelegationDeleteOps returns the store operations that remove every
// delegation where userID is either side (each conditioned on the
// revision read), and how many delegations they remove, for a caller that
// deletes them inside its own transaction: at most 4 operations a
// delegation (mind storage.MaxTxnOps).
func (s *Service) DelegationDeleteOps(ctx context.Context, userID string) ([]storage.Op, int, error) {
	groups, n, err := s.delegationDeleteGroups(ctx, userID)
	var ops []storage.Op
	for _, g := range groups {
		ops = append(ops, g...)
	}
	return ops, n, err
}

func (s *Service) delegationDeleteGroups(ctx context.Context, userID string) ([][]storage.Op, int, error) {
	if !ValidID(userID) {
		return nil, 0, fmt.Errorf("%w: %q", ErrUserNotFound, userID)
	}
	seen := map[string]bool{}
	var groups [][]storage.Op
	for _, p := range []string{pfxUserDelegation, pfxOrgDelegations} {
		prefix := p + userID + "/"
		idx, _, err := s.store.List(ctx, prefix)
		if err != nil {
			return nil, 0, err
		}
		for _, kv := range idx {
			id := strings.TrimPrefix(kv.Key, prefix)
			if seen[id] {
				continue
			}
			d, rev, err := s.loadDelegation(ctx, id)
			if errors.Is(err, ErrDelegationNotFound) {
				groups = append(groups, []storage.Op{storage.Delete(kv.Key)}) // a stray index entry
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			seen[id] = true
			groups = append(groups, []storage.Op{ifRev(delegationKey(id), rev), storage.Delete(delegationKey(id)),
				storage.Delete(orgDelegationKey(d.OrgID, id)), storage.Delete(userDelegationKey(d.DelegateID, id))})
		}
	}
	return groups, len(seen), nil
}
