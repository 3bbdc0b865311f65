package ca

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Account deletion (the user's right to erasure) in two steps:
// BeginDeletion checks the user's PIN and, in one audited transaction,
// replaces the user's record by a tombstone that keeps only the id and the
// device ids: from then on the user is unknown, no PIN opens anything, and
// the name, ID number and phone are gone. FinishDeletion then erases what
// hangs off the user, one record (or credential) per transaction so that
// it works for any number of them, and may be repeated after a crash until
// it succeeds:
//
//   - each credential: a certified one not revoked yet is revoked (reason
//     cessationOfOperation: it enters its issuer's CRL); its record (the
//     certificate, the wrapped private key or the gateway's cosign share)
//     is deleted, which destroys the key: nothing else holds it; the
//     user's indexes (usercreds, credslots, serials) go with it. What is
//     kept is the CRL entry and, for Retention after the certificate's
//     end, a retained/<issuer>/<serial> record: serial, validity, SM3
//     fingerprint, revocation: no name, no key (docs/privacy.md);
//   - each delegation where the user is the organisation or the
//     delegate, with its wraps of the organisation's key;
//   - each seal: its record becomes a revoked stub (id, kind, issuer,
//     validity, revocation) so that a document sealed with it still shows
//     it revoked; the owner, name and picture are deleted (and its
//     versions' history); the markers of seal re-issues still due go;
//   - each device record (its public key), each activation record;
//   - last the tombstone itself.
//
// It never touches the audit log (audit.Pseudonymise does) or sessions.

// pfxRetained holds what is kept of an erased user's certificates.
const pfxRetained = "retained/" // retained/<issuer>/<serial hex>

func retainedKey(issuerID, serial string) string { return pfxRetained + issuerID + "/" + serial }

// retainedRecord is what is kept of a certificate of an erased user, for
// the retention period the law asks of a CA.
type retainedRecord struct {
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"sm3_fingerprint"` // hex SM3 of the certificate's DER
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	RevokedAt   time.Time `json:"revoked_at"`
	Reason      string    `json:"reason"`
}

// Deletion is the result of BeginDeletion: the erased user's id and the
// ids of their devices (which the audit log's erasure needs).
type Deletion struct {
	UserID    string    `json:"user"`
	Devices   []string  `json:"devices"`
	DeletedAt time.Time `json:"deleted_at"`
}

// Erased is what FinishDeletion did.
type Erased struct {
	// Revoked lists the certificates revoked now ("issuer/serial"), which
	// enter their issuers' CRLs; AlreadyRevoked those revoked before.
	Revoked        []string `json:"revoked"`
	AlreadyRevoked []string `json:"already_revoked"`
	// Credentials, Delegations (either side, with their key wraps), Seals,
	// Devices and Activations count the records erased.
	Credentials int `json:"credentials"`
	Delegations int `json:"delegations"`
	Seals       int `json:"seals"`
	Devices     int `json:"devices"`
	Activations int `json:"activations"`
}

// DeletionReason is the revocation reason of an erased user's
// certificates.
const DeletionReason = "cessationOfOperation"

// BeginDeletion checks pin (with the lockout: a wrong or locked PIN is a
// *PINError, ErrNotEnrolled without a PIN) and erases the user's personal
// fields in one transaction with the action's audit entry. Errors:
// ErrUserNotFound (also for a user already deleted).
func (s *Service) BeginDeletion(ctx context.Context, userID, pin string) (*Deletion, error) {
	var out *Deletion
	err := retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		key, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		gmcrypto.Zero(key)
		now := s.now().UTC()
		tomb := &userRecord{ID: u.ID, Devices: u.Devices, DeletedAt: now}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), tomb, 0)
		d := &Deletion{UserID: u.ID, Devices: append([]string{}, u.Devices...), DeletedAt: now}
		if err := b.commitAction(ctx, s.store, d); err != nil {
			return err
		}
		out = d
		return nil
	})
	return out, err
}

// Deleting lists the users whose deletion began and did not finish (for
// a restart to finish them).
func (s *Service) Deleting(ctx context.Context) ([]*Deletion, error) {
	kvs, _, err := s.store.List(ctx, pfxUsers)
	if err != nil {
		return nil, err
	}
	var out []*Deletion
	for _, kv := range kvs {
		var u userRecord
		if err := jsonUnmarshal(kv, &u); err != nil {
			return nil, err
		}
		if !u.DeletedAt.IsZero() {
			out = append(out, &Deletion{UserID: u.ID, Devices: u.Devices, DeletedAt: u.DeletedAt})
		}
	}
	return out, nil
}

// FinishDeletion erases everything that hangs off a user whose deletion
// began (see above); retention is how long after a certificate's end its
// retained record is kept (0: none is kept). Errors: ErrUserNotFound when
// no deletion of userID is under way (or it already finished).
func (s *Service) FinishDeletion(ctx context.Context, userID string, retention time.Duration) (*Erased, error) {
	if !ValidID(userID) {
		return nil, fmt.Errorf("%w: %q", ErrUserNotFound, userID)
	}
	var tomb userRecord
	_, err := s.getJSON(ctx, userKey(userID), &tomb)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUserNotFound, userID)
	} else if err != nil {
		return nil, err
	}
	if tomb.DeletedAt.IsZero() {
		return nil, fmt.Errorf("%w: %s is not being deleted", ErrUserNotFound, userID)
	}
	out := &Erased{Revoked: []string{}, AlreadyRevoked: []string{}}
	// Delegations first (either side): their wraps of an organisation's
	// key must not outlive the organisation or the delegate.
	if out.Delegations, err = s.DeleteDelegationsOf(ctx, userID); err != nil {
		return nil, err
	}
	// Recovered keys waiting for the PIN and recovery requests (with their
	// pending shares); the escrow copies go with the credential records.
	if err := s.eraseEscrowOf(ctx, userID); err != nil {
		return nil, err
	}
	creds, err := s.userCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, c := range creds {
		if err := retry(ctx, func() error { return s.eraseCredential(ctx, c.rec.ID, retention, out) }); err != nil {
			return nil, err
		}
		out.Credentials++
	}
	owned, _, err := s.store.List(ctx, pfxUserSeals+userID+"/")
	if err != nil {
		return nil, err
	}
	for _, kv := range owned {
		id := strings.TrimPrefix(kv.Key, pfxUserSeals+userID+"/")
		if err := retry(ctx, func() error { return s.eraseSeal(ctx, userID, id) }); err != nil {
			return nil, err
		}
		out.Seals++
	}
	marks, _, err := s.store.List(ctx, pfxSealReissues+userID+"/")
	if err != nil {
		return nil, err
	}
	for _, kv := range marks {
		if _, err := s.store.Txn(ctx, storage.Delete(kv.Key)); err != nil {
			return nil, err
		}
	}
	for _, id := range tomb.Devices {
		if _, err := s.store.Txn(ctx, storage.Delete(deviceKey(id))); err != nil {
			return nil, err
		}
		out.Devices++
	}
	acts, _, err := s.store.List(ctx, pfxActivation)
	if err != nil {
		return nil, err
	}
	for _, kv := range acts {
		var a activationRecord
		if err := jsonUnmarshal(kv, &a); err != nil {
			return nil, err
		}
		if a.UserID != userID {
			continue
		}
		if _, err := s.store.Txn(ctx, storage.Delete(kv.Key)); err != nil {
			return nil, err
		}
		out.Activations++
	}
	if _, err := s.store.Txn(ctx, storage.Delete(userKey(userID))); err != nil {
		return nil, err
	}
	return out, nil
}

// eraseCredential revokes (if certified and not revoked) and deletes one
// credential with its indexes, keeping its CRL entry and retained record.
func (s *Service) eraseCredential(ctx context.Context, id string, retention time.Duration, out *Erased) error {
	c, crev, err := s.loadCredential(ctx, id)
	if errors.Is(err, ErrCredentialNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Second)
	var b txnBuilder
	b.cond(credentialKey(c.ID), crev)
	b.del(credentialKey(c.ID))
	b.del(userCredKey(c.UserID, c.ID))
	sk := slotKey(c.UserID, c.IssuerID, c.Alg, c.Purpose)
	var slot slotRecord
	srev, err := s.getJSON(ctx, sk, &slot)
	switch {
	case err == nil && slot.CredentialID == c.ID:
		b.cond(sk, srev)
		b.del(sk)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	var revoked, already []string
	if len(c.Certificate) > 0 {
		serial, err := c.certSerial()
		if err != nil {
			return err
		}
		name := c.IssuerID + "/" + serial
		rk := revocationKey(c.IssuerID, serial)
		revokedAt, reason := c.RevokedAt, c.RevocationReason
		if c.RevokedAt.IsZero() {
			revokedAt, reason = now, DeletionReason
			b.cond(rk, 0)
			b.put(rk, &revocationRecord{Serial: serial, CredentialID: c.ID, RevokedAt: now, Reason: reason}, 0)
			revoked = append(revoked, name)
		} else {
			already = append(already, name)
		}
		b.del(serialKey(c.IssuerID, serial))
		if keep := c.NotAfter.Add(retention).Sub(s.now()); retention > 0 && keep > 0 {
			fp := sm3.Sum(c.Certificate)
			b.put(retainedKey(c.IssuerID, serial), &retainedRecord{
				Issuer: c.IssuerID, Serial: serial, Fingerprint: hex.EncodeToString(fp[:]),
				NotBefore: c.NotBefore, NotAfter: c.NotAfter, RevokedAt: revokedAt, Reason: reason,
			}, keep)
		}
	}
	if err := b.commit(ctx, s.store); err != nil {
		return err
	}
	out.Revoked = append(out.Revoked, revoked...)
	out.AlreadyRevoked = append(out.AlreadyRevoked, already...)
	return nil
}

// eraseSeal turns one seal of the user into a revoked stub and drops the
// user's index of it.
func (s *Service) eraseSeal(ctx context.Context, userID, id string) error {
	rec, rev, err := s.loadSeal(ctx, id)
	if errors.Is(err, ErrSealNotFound) {
		_, err := s.store.Txn(ctx, storage.Delete(userSealKey(userID, id)))
		return err
	}
	if err != nil {
		return err
	}
	stub := &sealRecord{Seal: Seal{
		ID: rec.ID, Kind: rec.Kind, WidthMM: rec.WidthMM, HeightMM: rec.HeightMM, IssuerID: rec.IssuerID,
		NotBefore: rec.NotBefore, NotAfter: rec.NotAfter, CreatedAt: rec.CreatedAt,
		RevokedAt: rec.RevokedAt, RevocationReason: rec.RevocationReason,
	}}
	if stub.RevokedAt.IsZero() {
		stub.RevokedAt, stub.RevocationReason = s.now().UTC(), DeletionReason
	}
	var b txnBuilder
	b.cond(sealKey(id), rev)
	b.put(sealKey(id), stub, 0)
	b.del(userSealKey(userID, id))
	return b.commit(ctx, s.store)
}
