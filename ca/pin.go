package ca

import (
	"context"
	"crypto/hmac"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm3"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// PIN policy: 6 to 12 ASCII digits, not all the same digit and not a
// straight run up or down (123456, 987654).
const (
	MinPINLen = 6
	MaxPINLen = 12
)

// CheckPINPolicy reports whether pin may be chosen as a new PIN; the error
// wraps ErrWeakPIN and says why not. Clients check before sending.
func CheckPINPolicy(pin string) error { return checkPINPolicy(pin) }

func checkPINPolicy(pin string) error {
	if len(pin) < MinPINLen || len(pin) > MaxPINLen {
		return fmt.Errorf("%w: %d to %d digits", ErrWeakPIN, MinPINLen, MaxPINLen)
	}
	same, up, down := true, true, true
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("%w: digits only", ErrWeakPIN)
		}
		if i > 0 {
			d := int(pin[i]) - int(pin[i-1])
			same = same && d == 0
			up = up && (d == 1 || d == -9)
			down = down && (d == -1 || d == 9)
		}
	}
	if same || up || down {
		return fmt.Errorf("%w: too easy to guess", ErrWeakPIN)
	}
	return nil
}

// pinVerifier is HMAC-SM3(pinKey, label): it tells a right PIN from a
// wrong one without revealing the key that wraps the user's credentials.
func pinVerifier(pinKey []byte) []byte {
	m := hmac.New(sm3.New, pinKey)
	m.Write([]byte(pinVerifierLabel))
	return m.Sum(nil)
}

// newPINVerifier draws a fresh salt for pin and returns it with the
// verifier.
func (s *Service) newPINVerifier(pin string) (salt, verifier []byte, err error) {
	salt, err = gmcrypto.RandomBytes(gmcrypto.MinSaltLen)
	if err != nil {
		return nil, nil, err
	}
	k, err := gmcrypto.DerivePINKey(s.master, salt, pin)
	if err != nil {
		return nil, nil, err
	}
	defer gmcrypto.Zero(k)
	return salt, pinVerifier(k), nil
}

// lockFor is how long the n-th wrong PIN in a row locks the user: nothing
// below PINMaxTries, then PINLockBase doubling per further try, capped at
// PINLockMax.
func (s *Service) lockFor(n int) time.Duration {
	if n < s.cfg.PINMaxTries {
		return 0
	}
	d := s.cfg.PINLockBase
	for i := s.cfg.PINMaxTries; i < n && d < s.cfg.PINLockMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.PINLockMax)
}

// LastPINAtResolution is how stale a user's LastPINAt may be: a
// successful PIN use rewrites the user record only when the try counter or
// a lock must be reset or LastPINAt is older than this. Otherwise the use
// writes nothing; its transaction is only conditioned on the record's
// revision, which still makes it lose against a concurrent wrong PIN.
const LastPINAtResolution = time.Hour

// checkPIN checks pin against the snapshot u (at revision rev).
//
// A wrong PIN (or any try while locked, which is not counted) returns a
// *PINError; a wrong one is first recorded with a compare-and-swap on the
// user record, so parallel guesses are each counted (a lost race returns
// storage.ErrConflict for the caller's retry loop to start over).
//
// On success it returns the PIN key (the caller zeroes it) and updates u in
// memory (counter reset, LastPINAt): the caller MUST commit u with
// IfRevision(userKey, rev) in the transaction that uses the PIN (the put
// may be left out when u.pinUnchanged, the condition never). That check
// is what makes a success lose against a concurrent failure that locked the
// user, so a burst of parallel guesses cannot get past the lock.
func (s *Service) checkPIN(ctx context.Context, u *userRecord, rev int64, pin string) ([]byte, error) {
	if !u.enrolled() {
		return nil, ErrNotEnrolled
	}
	now := s.now().UTC()
	if now.Before(u.LockedUntil) {
		return nil, &PINError{Locked: true, RetryAfter: u.LockedUntil.Sub(now)}
	}
	var key []byte
	ok := false
	if pin != "" && len(pin) <= 4*MaxPINLen {
		k, err := gmcrypto.DerivePINKey(s.master, u.PINSalt, pin)
		if err != nil {
			return nil, err
		}
		if gmcrypto.Equal(pinVerifier(k), u.PINVerifier) {
			key, ok = k, true
		} else {
			gmcrypto.Zero(k)
		}
	}
	if ok {
		u.pinUnchanged = u.FailedPINs == 0 && u.LockedUntil.IsZero() && now.Sub(u.LastPINAt) < LastPINAtResolution && !now.Before(u.LastPINAt)
		if !u.pinUnchanged {
			u.FailedPINs, u.LockedUntil, u.LastPINAt = 0, time.Time{}, now
		}
		return key, nil
	}
	u.FailedPINs++
	lock := s.lockFor(u.FailedPINs)
	if lock > 0 {
		u.LockedUntil = now.Add(lock)
	}
	var b txnBuilder
	b.cond(userKey(u.ID), rev)
	b.put(userKey(u.ID), u, 0)
	if err := b.commit(ctx, s.store); err != nil {
		return nil, err
	}
	if lock > 0 {
		return nil, &PINError{Locked: true, RetryAfter: lock}
	}
	return nil, &PINError{Remaining: s.cfg.PINMaxTries - u.FailedPINs}
}

// testHookChangePIN, when set by a test, runs between reading the records
// and committing the PIN change.
var testHookChangePIN func()

// ChangePIN checks oldPIN (with the lockout) and sets newPIN (ErrWeakPIN if
// it breaks the policy). Every credential key of the user is unwrapped
// under the old PIN key and re-wrapped under the new one (fresh salt), and
// the new verifier written, in ONE transaction conditioned on the revision
// of every record it read: either all keys and the verifier are under the
// new PIN, or (on any failure, including a crash) all stay under the old.
func (s *Service) ChangePIN(ctx context.Context, userID, oldPIN, newPIN string) error {
	return s.ChangePINCosign(ctx, userID, oldPIN, newPIN, nil)
}

// ChangePINCosign is ChangePIN for a user who may hold cosign credentials:
// reshare holds, per credential id, the phone's re-sharing message
// (cosign.PhoneChangePIN, bound to cosign.ReshareBinding of the id). Every
// active or pending cosign credential of the user must have one that gives
// back its public key, else nothing changes (a *RequestError on field
// cosign); the new gateway shares are written in the same transaction.
// Entries for other credentials are ignored.
func (s *Service) ChangePINCosign(ctx context.Context, userID, oldPIN, newPIN string, reshare map[string]*cosign.ReshareRequest) error {
	if err := checkPINPolicy(newPIN); err != nil {
		return err
	}
	return retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		oldKey, err := s.checkPIN(ctx, u, urev, oldPIN)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(oldKey)
		salt, err := gmcrypto.RandomBytes(gmcrypto.MinSaltLen)
		if err != nil {
			return err
		}
		newKey, err := gmcrypto.DerivePINKey(s.master, salt, newPIN)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(newKey)
		creds, err := s.userCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		escrowChecked := false
		for _, c := range creds {
			if c.rec.Cosign {
				// Its share is not under the PIN: it is re-shared with the
				// phone's message (cosign.go), without forming the key.
				if st := c.rec.state(s.now()); st != StateActive && st != StatePending {
					continue
				}
				if err := s.reshareCredential(c.rec, reshare[c.rec.ID]); err != nil {
					return err
				}
				b.cond(credentialKey(c.rec.ID), c.rev)
				b.put(credentialKey(c.rec.ID), c.rec, 0)
				continue
			}
			if c.rec.AwaitingRecovery || len(c.rec.WrappedKey) == 0 {
				// Under the PIN before a reset: its key comes back from
				// escrow (FinishRecovery), under the PIN of that day; or
				// erased by the reset (lost with the old PIN).
				continue
			}
			ad := []byte(credentialKey(c.rec.ID))
			der, err := gmcrypto.Unwrap(oldKey, c.rec.WrappedKey, ad)
			if err != nil {
				return fmt.Errorf("ca: credential %s does not open under the current PIN: %w", c.rec.ID, err)
			}
			// An escrow copy left under a retired escrow key is made again
			// under the current one while the key is open (as at an unlock;
			// one condition on the escrow key for the whole write).
			re, err := s.reEscrowCopy(ctx, c.rec, der)
			if err != nil {
				gmcrypto.Zero(der)
				return err
			}
			if re != nil && !escrowChecked {
				b.ops, escrowChecked = append(b.ops, re.ops...), true
			}
			w, err := gmcrypto.Wrap(newKey, der, ad)
			gmcrypto.Zero(der)
			if err != nil {
				return err
			}
			c.rec.WrappedKey = w
			b.cond(credentialKey(c.rec.ID), c.rev)
			b.put(credentialKey(c.rec.ID), c.rec, 0)
		}
		if err := s.rewrapDelegations(ctx, &b, u.ID, oldKey, newKey); err != nil {
			return err
		}
		u.PINSalt, u.PINVerifier = salt, pinVerifier(newKey)
		b.put(userKey(u.ID), u, 0)
		if testHookChangePIN != nil {
			testHookChangePIN()
		}
		return b.commitAction(ctx, s.store, nil)
	})
}
