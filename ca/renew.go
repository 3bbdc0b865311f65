package ca

import (
	"context"
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// RenewCredential renews an active credential of an internal issuer with
// a new certificate for the same key: the key is unwrapped under the
// verified PIN and wrapped again for the new record, the new credential
// takes the slot, and the old one becomes superseded (it keeps its
// wrapped key, so an encryption key still opens what was made for it).
// Errors: ErrCredentialNotFound (also another user's), ErrCredentialNotActive
// (pending, revoked, expired, superseded; checked before the PIN),
// ErrIsCosign, ErrIssuerNotFound, the PIN errors. On any error nothing
// changes.
func (s *Service) RenewCredential(ctx context.Context, userID, credentialID, pin string) (*Credential, error) {
	var out *Credential
	err := retry(ctx, func() error {
		old, orev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if old.UserID != userID {
			return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
		}
		if st := old.state(s.now()); st != StateActive {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, old.ID, st)
		}
		if old.Cosign {
			return fmt.Errorf("%w: %s", ErrIsCosign, old.ID)
		}
		iss, _, err := s.loadIssuer(ctx, old.IssuerID)
		if err != nil {
			return err
		}
		if iss.Mode == ModeExternal {
			return fmt.Errorf("%w: renewal at an external issuer needs a new CSR", ErrCredentialNotActive)
		}
		issChain, err := parseChainDER(iss.Chain)
		if err != nil {
			return err
		}
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		subject, err := userSubject(u, iss.Profile)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		der, err := gmcrypto.Unwrap(pinKey, old.WrappedKey, []byte(credentialKey(old.ID)))
		if err != nil {
			return fmt.Errorf("ca: credential %s does not open under the verified PIN: %w", old.ID, err)
		}
		defer gmcrypto.Zero(der)
		key, err := gmcrypto.ParsePrivateKey(der)
		if err != nil {
			return fmt.Errorf("ca: corrupt credential %s: %w", old.ID, err)
		}
		defer gmcrypto.ZeroKey(key)
		id, err := newID(prefixCredential)
		if err != nil {
			return err
		}
		wrapped, err := gmcrypto.Wrap(pinKey, der, []byte(credentialKey(id)))
		if err != nil {
			return err
		}
		now := s.now().UTC()
		rec := &credentialRecord{
			ID: id, UserID: u.ID, IssuerID: iss.ID, Alg: old.Alg, RSABits: old.RSABits, Purpose: old.Purpose,
			PublicKey: old.PublicKey, WrappedKey: wrapped, CreatedAt: now,
		}
		if err := s.issueCert(rec, iss, issChain, subject, keyUsageFor(old.Purpose, old.Alg), key.Public(), now); err != nil {
			return err
		}
		if err := s.checkRewrapLimit(ctx, u.ID, 1); err != nil {
			return err
		}
		old.SupersededBy, old.SupersededAt = rec.ID, now
		sk := slotKey(u.ID, iss.ID, old.Alg, old.Purpose)
		var slot slotRecord
		slotRev, err := s.getJSON(ctx, sk, &slot)
		if err != nil {
			return err
		}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(sk, slotRev)
		b.put(sk, &slotRecord{CredentialID: rec.ID}, 0)
		b.cond(credentialKey(old.ID), orev)
		b.put(credentialKey(old.ID), old, 0)
		b.cond(credentialKey(rec.ID), 0)
		b.put(credentialKey(rec.ID), rec, 0)
		b.put(userCredKey(u.ID, rec.ID), struct{}{}, 0)
		b.cond(serialKey(iss.ID, rec.Serial), 0)
		b.put(serialKey(iss.ID, rec.Serial), &serialRecord{CredentialID: rec.ID, UserID: u.ID}, 0)
		cred, err := rec.toCredential(s.now())
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
