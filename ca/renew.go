package ca

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// Renewal (docs/protocol.md, "Renewal and key continuity").
//
// A renewal makes a successor credential in the same slot (user, issuer,
// algorithm, purpose) with Supersedes naming the old one. Its key is the
// old key (re-wrapped under the PIN for the new record) or a new key pair
// of the same algorithm and size, as the issuer's Profile.RenewalKey and
// the request say. At an internal issuer the successor is certified at
// once and the old credential becomes superseded in the same write. At an
// external issuer the successor is pending with its CSR; the old one stays
// active (RenewalPending names the successor) until ImportCertificate
// brings the successor's certificate, then becomes superseded in the
// import's write.
//
// A superseded credential keeps its wrapped key and its certificate (the
// certificate is not revoked: what was signed with it stays valid, and a
// relying party that still encrypts to it loses nothing): an encryption
// key still opens what was sealed to it (UnlockDecryptKey), while signing,
// login and delegation use only active credentials.
//
// The organisation's delegations of the old credential move to the
// successor in the renewal's write (carryDelegations): no delegate has to
// be present, because a delegation's copy of the organisation key is
// sealed to the delegation's own public key, which the gateway keeps. For
// an encryption credential the delegation keeps its copy of the old key
// too (delegationRecord.Superseded, at most MaxDelegationSuperseded), so
// a delegate opens what was sealed to the old certificate
// (UnlockDelegatedDecryptKey) as the owner does.
//
// The owner's seals bound to the old certificate of a signing credential
// are re-issued for the successor once it is certified (the supersession
// writes a marker: sealreissue.go); delegates draw the organisation's
// seals with the delegated credential, so they follow too.

// maxRenewalChain bounds how far back Predecessors walks.
const maxRenewalChain = 32

// RenewCredential renews an active credential of userID (the PIN is
// checked with the lockout): see the renewal notes above. newKey asks for
// a new key pair; the issuer's profile must allow it (RenewalKeyEither;
// RenewalKeyNew makes a new key whatever the request says; RenewalKeySame
// refuses with ErrNewKeyNotAllowed). Errors: ErrCredentialNotFound (also
// another user's), ErrCredentialNotActive (pending, revoked, expired,
// superseded; checked before the PIN), ErrIsCosign (a two-party
// credential: make a new one), ErrRenewalPending (a renewal at an
// external issuer waits for its certificate), ErrNewKeyNotAllowed,
// ErrCertificateExpired (the issuer's own certificate), ErrCredentialLimit,
// a *RequestError (a subject field the profile needs), the PIN errors. On
// any error nothing changes.
func (s *Service) RenewCredential(ctx context.Context, userID, credentialID, pin string, newKey bool) (*Credential, error) {
	var out *Credential
	err := retry(ctx, func() error {
		now := s.now().UTC()
		old, orev, err := s.loadCredential(ctx, credentialID)
		if err != nil {
			return err
		}
		if old.UserID != userID {
			return fmt.Errorf("%w: %s", ErrCredentialNotFound, credentialID)
		}
		if st := old.state(now); st != StateActive {
			return fmt.Errorf("%w: %s is %s", ErrCredentialNotActive, old.ID, st)
		}
		if old.Cosign {
			return fmt.Errorf("%w: %s: a two-party credential is renewed by making a new one", ErrIsCosign, old.ID)
		}
		if old.AwaitingRecovery {
			return fmt.Errorf("%w: %s", ErrAwaitingRecovery, old.ID)
		}
		if old.RenewalPending != "" {
			p, _, err := s.loadCredential(ctx, old.RenewalPending)
			switch {
			case err == nil && p.state(now) == StatePending:
				return fmt.Errorf("%w: %s waits for its certificate", ErrRenewalPending, p.ID)
			case err != nil && !errors.Is(err, ErrCredentialNotFound):
				return err
			}
		}
		iss, _, err := s.loadIssuer(ctx, old.IssuerID)
		if err != nil {
			return err
		}
		rk := iss.Profile.renewalKey()
		if newKey && rk == RenewalKeySame {
			return fmt.Errorf("%w: issuer %s renews with the same key", ErrNewKeyNotAllowed, iss.ID)
		}
		fresh := rk == RenewalKeyNew || newKey
		issChain, err := parseChainDER(iss.Chain)
		if err != nil {
			return err
		}
		if now.After(issChain[0].NotAfter) {
			return fmt.Errorf("%w: the issuer's own certificate has expired", ErrCertificateExpired)
		}
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		subject, err := userSubject(u, iss.Profile)
		if err != nil {
			return err
		}
		if err := s.checkRewrapLimit(ctx, u.ID, 1); err != nil {
			return err
		}
		dels, err := s.delegationsOf(ctx, old)
		if err != nil {
			return err
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		var key crypto.Signer
		if fresh {
			key, err = gmcrypto.GenerateKey(old.Alg, old.RSABits)
			if err != nil {
				return err
			}
		} else {
			der, err := gmcrypto.Unwrap(pinKey, old.WrappedKey, []byte(credentialKey(old.ID)))
			if err != nil {
				return fmt.Errorf("ca: credential %s does not open under the verified PIN: %w", old.ID, err)
			}
			key, err = gmcrypto.ParsePrivateKey(der)
			gmcrypto.Zero(der)
			if err != nil {
				return fmt.Errorf("ca: corrupt credential %s: %w", old.ID, err)
			}
		}
		defer gmcrypto.ZeroKey(key)
		der, err := gmcrypto.MarshalPrivateKey(key)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(der)
		pubDER, err := gmcrypto.MarshalPublicKey(key.Public())
		if err != nil {
			return err
		}
		id, err := newID(prefixCredential)
		if err != nil {
			return err
		}
		wrapped, err := gmcrypto.Wrap(pinKey, der, []byte(credentialKey(id)))
		if err != nil {
			return err
		}
		rec := &credentialRecord{
			ID: id, UserID: u.ID, IssuerID: iss.ID, Alg: old.Alg, RSABits: old.RSABits, Purpose: old.Purpose,
			PublicKey: pubDER, WrappedKey: wrapped, CreatedAt: now, Supersedes: old.ID,
		}
		var b txnBuilder
		if old.Purpose == PurposeEncrypt && iss.Profile.Escrow {
			// The renewal's key is escrowed too (escrow.go).
			esc, escRev, err := s.loadEscrowRev(ctx)
			if err != nil {
				return err
			}
			if rec.Escrow, err = escrowCopy(esc, id, der); err != nil {
				return err
			}
			rec.EscrowID = esc.ID
			b.cond(escrowKeyKey, escRev) // a rotation in between: again, under the new key
		}
		ku := keyUsageFor(old.Purpose, old.Alg)
		b.cond(userKey(u.ID), urev)
		b.put(userKey(u.ID), u, 0)
		b.cond(credentialKey(rec.ID), 0)
		b.put(userCredKey(u.ID, rec.ID), struct{}{}, 0)
		b.cond(credentialKey(old.ID), orev)
		if iss.Mode == ModeExternal {
			if rec.CSR, err = createCSR(subject, ku, key); err != nil {
				return err
			}
			old.RenewalPending = rec.ID
		} else {
			if err := s.issueCert(rec, iss, issChain, subject, ku, key.Public(), now); err != nil {
				return err
			}
			old.SupersededBy, old.SupersededAt = rec.ID, now
			sk := slotKey(u.ID, iss.ID, old.Alg, old.Purpose)
			var slot slotRecord
			slotRev, err := s.getJSON(ctx, sk, &slot)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			b.cond(sk, slotRev)
			b.put(sk, &slotRecord{CredentialID: rec.ID}, 0)
			b.cond(serialKey(iss.ID, rec.Serial), 0)
			b.put(serialKey(iss.ID, rec.Serial), &serialRecord{CredentialID: rec.ID, UserID: u.ID}, 0)
			// The seals bound to the old certificate are re-issued
			// (sealreissue.go).
			if err := s.markSealReissue(ctx, &b, old, rec.ID, now); err != nil {
				return err
			}
		}
		// The delegations move now at an internal issuer; at an external
		// one they are prepared (Next) and move with the certificate.
		if err := carryDelegations(&b, dels, rec.ID, der, fresh, old.Purpose == PurposeEncrypt, iss.Mode == ModeExternal); err != nil {
			return err
		}
		if len(b.ops) > storage.MaxTxnOps-8 {
			return fmt.Errorf("%w: %d delegations to carry over in one write; revoke some first", ErrCredentialLimit, len(dels))
		}
		b.put(credentialKey(old.ID), old, 0)
		b.put(credentialKey(rec.ID), rec, 0)
		cred, err := rec.toCredential(now)
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

// delegationsOf lists the delegations of credential c that a renewal
// carries over: every one not revoked or expired.
func (s *Service) delegationsOf(ctx context.Context, c *credentialRecord) ([]delegationAtRev, error) {
	ds, err := s.indexedDelegations(ctx, pfxOrgDelegations+c.UserID+"/")
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []delegationAtRev
	for _, d := range ds {
		if st := d.rec.state(now); d.rec.CredentialID == c.ID && st != protocol.DelegationRevoked && st != protocol.DelegationExpired {
			out = append(out, d)
		}
	}
	return out, nil
}

// carryDelegations adds to b the move of each delegation in dels to the
// successor credential succ whose private key (PKCS#8) is der. A
// delegation already approved holds a copy of the organisation's key: for
// a new key (fresh) a new copy is sealed to the delegation's public key
// (no delegate PIN needed); for the same key the copy stays. For an
// encryption credential (encrypt) the copy of the old key is kept among
// the delegation's superseded copies (moveTo). With later, the move is
// only prepared in the delegation's Next (the successor still waits for
// its certificate: ImportCertificate completes it).
func carryDelegations(b *txnBuilder, dels []delegationAtRev, succ string, der []byte, fresh, encrypt, later bool) error {
	for _, d := range dels {
		next := &delegationNext{CredentialID: succ, NewKey: fresh}
		if fresh && len(d.rec.SealedKEK) > 0 {
			var err error
			if next.SealedKEK, next.SealedOrgKey, err = d.rec.seal(der); err != nil {
				return err
			}
		}
		if later {
			d.rec.Next = next
		} else {
			d.rec.moveTo(next, encrypt)
		}
		b.cond(delegationKey(d.rec.ID), d.rev)
		b.put(delegationKey(d.rec.ID), d.rec, 0)
	}
	return nil
}

// delegationNext is a delegation's move to a renewed credential: the
// successor and, for a new key, the new sealed copy of it.
type delegationNext struct {
	CredentialID string `json:"credential"`
	NewKey       bool   `json:"new_key,omitempty"`
	SealedKEK    []byte `json:"sealed_kek,omitempty"`
	SealedOrgKey []byte `json:"sealed_org_key,omitempty"`
}

// moveTo points d at n's credential, with n's copy of the key if it has
// one. Without one, the copy d holds stays when the key is the same; for a
// new key it is erased with the superseded copies and d goes back to
// pending_approval (approved while the move waited for the certificate:
// the organisation approves again, which seals the current key and the
// superseded ones). When the credential d leaves is an encryption
// credential (encrypt), its copy stays first among d's superseded copies
// (still sealed to d's public key; the oldest beyond
// MaxDelegationSuperseded dropped), so the delegate keeps opening what
// was sealed to it.
func (d *delegationRecord) moveTo(n *delegationNext, encrypt bool) {
	switch {
	case n.SealedKEK != nil:
		if encrypt {
			d.keepSuperseded(d.CredentialID, d.SealedKEK, d.SealedOrgKey)
		}
		d.SealedKEK, d.SealedOrgKey = n.SealedKEK, n.SealedOrgKey
	case n.NewKey && d.SealedKEK != nil:
		d.SealedKEK, d.SealedOrgKey, d.Superseded, d.ApprovedAt = nil, nil, nil, time.Time{}
	case encrypt && d.SealedKEK != nil:
		// The same key: the old certificate's ciphertexts open with the
		// same copy, kept under the old credential's id too.
		d.keepSuperseded(d.CredentialID, d.SealedKEK, d.SealedOrgKey)
	}
	d.CredentialID = n.CredentialID
	d.Next = nil
}

// supersedeOnImport adds to b, when c (just certified by
// ImportCertificate) renews another credential, that one's supersession,
// the slot's move to c and the move of its delegations: those prepared for
// c at the renewal, and those granted on it while c waited for this
// certificate. A predecessor revoked or gone in the meantime is left as
// it is.
func (s *Service) supersedeOnImport(ctx context.Context, b *txnBuilder, c *credentialRecord) error {
	if c.Supersedes == "" {
		return nil
	}
	old, orev, err := s.loadCredential(ctx, c.Supersedes)
	if errors.Is(err, ErrCredentialNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	sk := slotKey(c.UserID, c.IssuerID, c.Alg, c.Purpose)
	var slot slotRecord
	srev, err := s.getJSON(ctx, sk, &slot)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if srev == 0 || slot.CredentialID == old.ID {
		b.cond(sk, srev)
		b.put(sk, &slotRecord{CredentialID: c.ID}, 0)
	}
	if st := old.state(now); st != StateActive && st != StateExpired {
		return nil
	}
	old.SupersededBy, old.SupersededAt, old.RenewalPending = c.ID, now, ""
	b.cond(credentialKey(old.ID), orev)
	b.put(credentialKey(old.ID), old, 0)
	if err := s.markSealReissue(ctx, b, old, c.ID, now); err != nil {
		return err
	}
	ds, err := s.indexedDelegations(ctx, pfxOrgDelegations+c.UserID+"/")
	if err != nil {
		return err
	}
	fresh := !bytes.Equal(c.PublicKey, old.PublicKey)
	for _, d := range ds {
		next := d.rec.Next
		switch {
		case next != nil && next.CredentialID == c.ID:
		case next == nil && d.rec.CredentialID == old.ID:
			// Granted while the renewal waited for this certificate: it
			// moves too. No copy of a new key was prepared for it, so an
			// approved one goes back to pending_approval (moveTo) and the
			// organisation's approval seals the new key and the old.
			next = &delegationNext{CredentialID: c.ID, NewKey: fresh}
		default:
			continue
		}
		if st := d.rec.state(now); st == protocol.DelegationRevoked || st == protocol.DelegationExpired {
			continue
		}
		d.rec.moveTo(next, old.Purpose == PurposeEncrypt)
		b.cond(delegationKey(d.rec.ID), d.rev)
		b.put(delegationKey(d.rec.ID), d.rec, 0)
	}
	return nil
}

// Predecessors lists the credentials credentialID renewed, newest first
// (following Supersedes, at most maxRenewalChain), each with its state; a
// link that is gone ends the list. ErrCredentialNotFound if credentialID
// is unknown.
func (s *Service) Predecessors(ctx context.Context, credentialID string) ([]*Credential, error) {
	c, _, err := s.loadCredential(ctx, credentialID)
	if err != nil {
		return nil, err
	}
	var out []*Credential
	seen := map[string]bool{c.ID: true}
	for next := c.Supersedes; next != "" && len(out) < maxRenewalChain && !seen[next]; {
		p, _, err := s.loadCredential(ctx, next)
		if errors.Is(err, ErrCredentialNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if p.UserID != c.UserID {
			break
		}
		seen[p.ID] = true
		cr, err := p.toCredential(s.now())
		if err != nil {
			return nil, err
		}
		out = append(out, cr)
		next = p.Supersedes
	}
	return out, nil
}

// UnlockDecryptKey is UnlockKey for a decryption: it also accepts a
// superseded encryption credential (renewed: its key still opens what was
// sealed to it). A superseded signing credential, and any pending,
// revoked or expired one, is ErrCredentialNotActive (checked before the
// PIN).
func (s *Service) UnlockDecryptKey(ctx context.Context, userID, credentialID, pin string) (crypto.Signer, *Credential, error) {
	return s.unlockKey(ctx, userID, credentialID, pin, true)
}
