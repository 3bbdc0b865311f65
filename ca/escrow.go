package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Key escrow of encryption keys (GM dual-certificate practice), under dual
// control (docs/threat-model.md, "Key escrow"):
//
//   - InitEscrow makes the deployment's escrow key pair (SM2), splits its
//     private scalar into one share per custodian (escrowshare.go), hands
//     each share out once as a file sealed under that custodian's
//     passphrase, and stores only the public key and the shares'
//     fingerprints. Neither the store nor the master key, nor both, hold
//     anything that opens an escrow copy.
//   - An issuer whose profile sets Escrow makes, for every new encryption
//     credential, an escrow copy: the PKCS#8 key, bound to the credential
//     id, SM2-encrypted to the escrow public key, kept in the credential's
//     record (and destroyed with it).
//   - A recovery (OpenRecovery) is opened by one operator for the
//     credentials of a user that wait for recovery (after ResetPIN); it
//     needs Threshold shares submitted by DISTINCT custodians, none of
//     them the requester. Shares below the threshold wait sealed under a
//     key derived from the master key, with the request's TTL; the share
//     that reaches the threshold rebuilds the escrow key in memory,
//     decrypts the escrow copies and seals the keys for the user
//     (RecoveredKeyTTL); the pending shares are erased in that same
//     transaction.
//   - FinishRecovery: the user's phone proves the (new) PIN and every
//     recovered key is wrapped under it as before, in one transaction that
//     deletes the sealed copies.

// Escrow limits.
const (
	maxCustodians = 16
	// DefaultRecoveryTTL is how long a recovery request waits for its
	// shares when the request does not say; MaxRecoveryTTL the longest.
	DefaultRecoveryTTL = 24 * time.Hour
	MaxRecoveryTTL     = 7 * 24 * time.Hour
	// RecoveredKeyTTL is how long a recovered key waits, sealed, for its
	// user to prove their PIN (FinishRecovery); then it is erased and the
	// recovery must be made again.
	RecoveredKeyTTL = 7 * 24 * time.Hour
	// DefaultShareIterations is the PBKDF2 count of share files when the
	// init request does not say.
	DefaultShareIterations = 200_000
	maxRecoveryCredentials = 32
	maxRecoveryReasonLen   = 200
	recoveryGrace          = 7 * 24 * time.Hour
)

// Storage keys and key-derivation purposes of escrow (storage format).
const (
	escrowKeyKey         = "escrow/key"
	pfxRecoveries        = "escrow/recoveries/" // escrow/recoveries/<id>
	pfxRecoveryShares    = "escrow/shares/"     // escrow/shares/<recovery>/<index>: sealed pending share
	pfxRecovered         = "escrow/recovered/"  // escrow/recovered/<user>/<credential>: sealed recovered key
	prefixEscrow         = "esc_"
	prefixRecovery       = "rcv_"
	purposePendingShare  = "ukeygate/ca/escrow-pending-share/v1"
	purposeRecoveredKey  = "ukeygate/ca/escrow-recovered-key/v1"
	escrowCopyLabel      = "ukeygate/escrow/key/v1"
	RecoveryStateOpen    = "open"
	RecoveryStateDone    = "recovered"
	RecoveryStateExpired = "expired"
)

func recoveryKey(id string) string { return pfxRecoveries + id }
func recoveryShareKey(id string, index int) string {
	return pfxRecoveryShares + id + "/" + strconv.Itoa(index)
}
func recoveredKey(userID, credID string) string { return pfxRecovered + userID + "/" + credID }

// EscrowCustodian is a custodian of the escrow key: a named operator and
// the index and fingerprint of their share.
type EscrowCustodian struct {
	Name        string `json:"name"`
	Index       int    `json:"index"`
	Fingerprint string `json:"fingerprint"`
}

// escrowKeyRecord is what escrow/key holds.
type escrowKeyRecord struct {
	ID         string            `json:"id"`
	PublicKey  []byte            `json:"public_key"` // SubjectPublicKeyInfo DER
	Threshold  int               `json:"threshold"`
	Custodians []EscrowCustodian `json:"custodians"`
	CreatedAt  time.Time         `json:"created_at"`
	CreatedBy  string            `json:"created_by"`
}

// Escrow is the deployment's escrow key as shown to operators.
type Escrow struct {
	ID           string
	PublicKeyPEM string
	Threshold    int
	Custodians   []EscrowCustodian
	CreatedAt    time.Time
	CreatedBy    string
}

func (e *escrowKeyRecord) toEscrow() *Escrow {
	return &Escrow{ID: e.ID, PublicKeyPEM: pemBlock("PUBLIC KEY", e.PublicKey), Threshold: e.Threshold,
		Custodians: slices.Clone(e.Custodians), CreatedAt: e.CreatedAt, CreatedBy: e.CreatedBy}
}

// CustodianPassphrase names a custodian and the passphrase their share
// file is sealed under (typed by the custodian at the ceremony).
type CustodianPassphrase struct {
	Name       string
	Passphrase string
}

// EscrowInit asks for the escrow key.
type EscrowInit struct {
	// Custodians: 2 to 16 distinct named operators (the API checks that
	// they exist), in share-index order.
	Custodians []CustodianPassphrase
	// Threshold: how many distinct custodians a recovery needs, 2 to
	// len(Custodians); 0 means 2.
	Threshold int
	// Iterations of the share files' PBKDF2; 0 means
	// DefaultShareIterations.
	Iterations int
	// By is the operator who runs the ceremony (recorded).
	By string
}

// EscrowShare is one share file, handed out once.
type EscrowShare struct {
	Custodian string
	Index     int
	File      string
}

// InitEscrow creates the deployment's escrow key (once: ErrEscrowExists
// after) and returns it with the share files. Bad input is a
// *RequestError; nothing is stored then.
func (s *Service) InitEscrow(ctx context.Context, req EscrowInit) (*Escrow, []EscrowShare, error) {
	k, iter, err := checkCustodians(req.Custodians, req.Threshold, req.Iterations, req.By)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.store.Get(ctx, escrowKeyKey); err == nil {
		return nil, nil, ErrEscrowExists
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, nil, err
	}
	rec, shares, err := s.newEscrowKey(req.Custodians, k, iter, req.By)
	if err != nil {
		return nil, nil, err
	}
	var b txnBuilder
	b.cond(escrowKeyKey, 0)
	b.put(escrowKeyKey, rec, 0)
	out := rec.toEscrow()
	if err := b.commitAction(ctx, s.store, out); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, nil, ErrEscrowExists
		}
		return nil, nil, err
	}
	return out, shares, nil
}

// checkCustodians checks a ceremony's custodians, threshold (0 means 2)
// and share-file iterations (0 means DefaultShareIterations) and returns
// the threshold and iterations to use. by is the operator running the
// ceremony, who cannot be a custodian.
func checkCustodians(custodians []CustodianPassphrase, threshold, iterations int, by string) (k, iter int, err error) {
	n := len(custodians)
	if n < 2 || n > maxCustodians {
		return 0, 0, invalid("custodians", "2 to %d custodians", maxCustodians)
	}
	k = threshold
	if k == 0 {
		k = 2
	}
	if k < 2 || k > n {
		return 0, 0, invalid("threshold", "2 to the number of custodians (%d)", n)
	}
	iter = iterations
	if iter == 0 {
		iter = DefaultShareIterations
	}
	if iter < MinShareIterations || iter > MaxShareIterations {
		return 0, 0, invalid("iterations", "%d to %d", MinShareIterations, MaxShareIterations)
	}
	seen := map[string]bool{}
	for _, c := range custodians {
		if !ValidID(c.Name) || seen[c.Name] {
			return 0, 0, invalid("custodians", "custodian names must be distinct operator names")
		}
		if c.Name == by {
			// The ceremony's operator sees the request; a custodian
			// holds a share alone.
			return 0, 0, invalid("custodians", "the operator running the ceremony cannot be a custodian")
		}
		seen[c.Name] = true
		if len(c.Passphrase) < MinPassphraseLen || len(c.Passphrase) > MaxPassphraseLen {
			return 0, 0, invalid("custodians", "passphrase of %s: %d to %d bytes", c.Name, MinPassphraseLen, MaxPassphraseLen)
		}
	}
	return k, iter, nil
}

// newEscrowKey makes an escrow key pair, splits its private scalar into
// one share per custodian (k of them recover it) and seals each share
// file under its custodian's passphrase. It returns the record to store
// (public key and fingerprints only) and the share files; the private
// key and the shares are cleared before it returns.
func (s *Service) newEscrowKey(custodians []CustodianPassphrase, k, iter int, by string) (*escrowKeyRecord, []EscrowShare, error) {
	id, err := newID(prefixEscrow)
	if err != nil {
		return nil, nil, err
	}
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	defer key.D.SetInt64(0)
	pub, err := gmcrypto.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	ys, err := splitScalar(key.D, k, len(custodians))
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		for _, y := range ys {
			gmcrypto.Zero(y)
		}
	}()
	rec := &escrowKeyRecord{ID: id, PublicKey: pub, Threshold: k, CreatedAt: s.now().UTC(), CreatedBy: by}
	shares := make([]EscrowShare, len(custodians))
	for i, c := range custodians {
		file, err := encodeShareFile(id, c.Name, i+1, k, iter, ys[i], c.Passphrase)
		if err != nil {
			return nil, nil, err
		}
		rec.Custodians = append(rec.Custodians, EscrowCustodian{Name: c.Name, Index: i + 1, Fingerprint: shareFingerprint(id, c.Name, i+1, ys[i])})
		shares[i] = EscrowShare{Custodian: c.Name, Index: i + 1, File: file}
	}
	return rec, shares, nil
}

func (s *Service) loadEscrow(ctx context.Context) (*escrowKeyRecord, error) {
	rec, _, err := s.loadEscrowRev(ctx)
	return rec, err
}

// loadEscrowRev is loadEscrow with the record's revision: a write that
// makes an escrow copy conditions on it, so that a rotation switching
// the key in between makes the write retry under the new key.
func (s *Service) loadEscrowRev(ctx context.Context) (*escrowKeyRecord, int64, error) {
	var rec escrowKeyRecord
	rev, err := s.getJSON(ctx, escrowKeyKey, &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, ErrEscrowNotInitialized
	} else if err != nil {
		return nil, 0, err
	}
	return &rec, rev, nil
}

// Escrow returns the escrow key (ErrEscrowNotInitialized before InitEscrow).
func (s *Service) Escrow(ctx context.Context) (*Escrow, error) {
	rec, err := s.loadEscrow(ctx)
	if err != nil {
		return nil, err
	}
	return rec.toEscrow(), nil
}

// escrowPlaintext is what an escrow copy encrypts: a label and the
// credential id bind the key to its credential.
func escrowPlaintext(credID string, der []byte) []byte {
	return slices.Concat([]byte(escrowCopyLabel+"\x00"+credID+"\x00"), der)
}

// escrowCopy encrypts the PKCS#8 der of credential credID to the escrow
// public key.
func escrowCopy(esc *escrowKeyRecord, credID string, der []byte) ([]byte, error) {
	pub, err := gmcrypto.ParsePublicKey(esc.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt escrow key: %w", err)
	}
	pt := escrowPlaintext(credID, der)
	defer gmcrypto.Zero(pt)
	return gmcrypto.Encrypt(pub, pt, gmcrypto.FormatC1C3C2)
}

// openEscrowCopy decrypts an escrow copy with the rebuilt escrow key and
// checks that it is credential credID's.
func openEscrowCopy(key *sm2.PrivateKey, credID string, ct []byte) ([]byte, error) {
	pt, err := gmcrypto.Decrypt(key, ct, gmcrypto.FormatC1C3C2)
	if err != nil {
		return nil, fmt.Errorf("ca: escrow copy of %s does not open: %w", credID, err)
	}
	prefix := []byte(escrowCopyLabel + "\x00" + credID + "\x00")
	if !bytes.HasPrefix(pt, prefix) {
		gmcrypto.Zero(pt)
		return nil, fmt.Errorf("ca: escrow copy of %s is bound to another credential", credID)
	}
	der := slices.Clone(pt[len(prefix):])
	gmcrypto.Zero(pt)
	return der, nil
}

// RecoveryRequest opens a recovery.
type RecoveryRequest struct {
	UserID string
	// Credentials to recover; empty means every credential of the user
	// that waits for recovery.
	Credentials []string
	Reason      string
	// By is the requesting operator; it cannot submit a share.
	By string
	// TTL of the request; 0 means DefaultRecoveryTTL.
	TTL time.Duration
}

// RecoveryApproval is one custodian's accepted share.
type RecoveryApproval struct {
	Custodian string    `json:"custodian"`
	At        time.Time `json:"at"`
}

// recoveryRecord is what escrow/recoveries/<id> holds.
type recoveryRecord struct {
	ID          string             `json:"id"`
	EscrowID    string             `json:"escrow"`
	UserID      string             `json:"user"`
	Credentials []string           `json:"credentials"`
	Reason      string             `json:"reason"`
	RequestedBy string             `json:"requested_by"`
	Threshold   int                `json:"threshold"`
	Approvals   []RecoveryApproval `json:"approvals"`
	CreatedAt   time.Time          `json:"created_at"`
	ExpiresAt   time.Time          `json:"expires_at"`
	CompletedAt time.Time          `json:"completed_at,omitzero"`
}

// Recovery is a recovery request as operators see it.
type Recovery struct {
	ID          string
	EscrowID    string
	UserID      string
	Credentials []string
	Reason      string
	RequestedBy string
	Threshold   int
	Approvals   []RecoveryApproval
	State       string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time
}

func (r *recoveryRecord) state(now time.Time) string {
	switch {
	case !r.CompletedAt.IsZero():
		return RecoveryStateDone
	case !now.Before(r.ExpiresAt):
		return RecoveryStateExpired
	}
	return RecoveryStateOpen
}

func (r *recoveryRecord) toRecovery(now time.Time) *Recovery {
	return &Recovery{ID: r.ID, EscrowID: r.EscrowID, UserID: r.UserID, Credentials: slices.Clone(r.Credentials),
		Reason: r.Reason, RequestedBy: r.RequestedBy, Threshold: r.Threshold, Approvals: slices.Clone(r.Approvals),
		State: r.state(now), CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, CompletedAt: r.CompletedAt}
}

// OpenRecovery opens a recovery of a user's escrowed encryption keys that
// wait for recovery (ResetPIN). Errors: ErrEscrowNotInitialized,
// ErrUserNotFound, ErrCredentialNotFound (not the user's),
// ErrNothingToRecover (no escrow copy, or not waiting for recovery), a
// *RequestError (reason, ttl, credentials).
func (s *Service) OpenRecovery(ctx context.Context, req RecoveryRequest) (*Recovery, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return nil, invalid("reason", "required")
	}
	if err := checkText("reason", req.Reason, maxRecoveryReasonLen, false); err != nil {
		return nil, err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultRecoveryTTL
	}
	if ttl < time.Minute || ttl > MaxRecoveryTTL {
		return nil, invalid("ttl", "1m to %s", MaxRecoveryTTL)
	}
	if len(req.Credentials) > maxRecoveryCredentials {
		return nil, invalid("credentials", "at most %d", maxRecoveryCredentials)
	}
	if req.By == "" {
		return nil, invalid("by", "required")
	}
	esc, err := s.loadEscrow(ctx)
	if err != nil {
		return nil, err
	}
	u, _, err := s.loadUser(ctx, req.UserID)
	if err != nil {
		return nil, err
	}
	creds, err := s.userCredentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range req.Credentials {
		want[id] = true
	}
	named := len(want) > 0
	var ids []string
	var b txnBuilder
	for _, c := range creds {
		if named && !want[c.rec.ID] {
			continue
		}
		if c.rec.AwaitingRecovery && len(c.rec.Escrow) > 0 && c.rec.EscrowID != esc.ID {
			// Left under a retired key by a rotation: its move has not
			// finished (approve that rotation again), the copy did not
			// open under the retired key (listed in the rotation's
			// unopened), or the rotation was abandoned (the current
			// custodians cannot recover it).
			return nil, fmt.Errorf("%w: %s is escrowed under the retired key %s: finish the rotation that retired it (approve it again); if that rotation was abandoned or lists it as unopened, the key cannot be recovered by the current custodians", ErrNothingToRecover, c.rec.ID, c.rec.EscrowID)
		}
		if !c.rec.AwaitingRecovery || len(c.rec.Escrow) == 0 {
			if named {
				return nil, fmt.Errorf("%w: %s has no escrow copy waiting for recovery", ErrNothingToRecover, c.rec.ID)
			}
			continue
		}
		delete(want, c.rec.ID)
		ids = append(ids, c.rec.ID)
		b.cond(credentialKey(c.rec.ID), c.rev)
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrCredentialNotFound, slices.Sorted(maps.Keys(want))[0])
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: user %s has no escrowed key waiting for recovery", ErrNothingToRecover, u.ID)
	}
	if len(ids) > maxRecoveryCredentials {
		ids = ids[:maxRecoveryCredentials]
	}
	id, err := newID(prefixRecovery)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	rec := &recoveryRecord{ID: id, EscrowID: esc.ID, UserID: u.ID, Credentials: ids, Reason: req.Reason,
		RequestedBy: req.By, Threshold: esc.Threshold, Approvals: []RecoveryApproval{}, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	b.cond(recoveryKey(id), 0)
	b.put(recoveryKey(id), rec, ttl+recoveryGrace)
	out := rec.toRecovery(now)
	if err := b.commitAction(ctx, s.store, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) loadRecovery(ctx context.Context, id string) (*recoveryRecord, int64, error) {
	return loadRecord[recoveryRecord](ctx, s, recoveryKey(id), id, ErrRecoveryNotFound)
}

// Recovery returns a recovery request (ErrRecoveryNotFound).
func (s *Service) Recovery(ctx context.Context, id string) (*Recovery, error) {
	r, _, err := s.loadRecovery(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.toRecovery(s.now()), nil
}

// Recoveries lists the recovery requests, newest first.
func (s *Service) Recoveries(ctx context.Context) ([]*Recovery, error) {
	kvs, _, err := s.store.List(ctx, pfxRecoveries)
	if err != nil {
		return nil, err
	}
	out := []*Recovery{}
	for _, kv := range kvs {
		var r recoveryRecord
		if err := jsonUnmarshal(kv, &r); err != nil {
			return nil, err
		}
		out = append(out, r.toRecovery(s.now()))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

func (s *Service) pendingShareKEK(recoveryID string) ([]byte, error) {
	return gmcrypto.DeriveKey(s.master, purposePendingShare, []byte(recoveryID))
}

// SubmitShare is one custodian's approval of a recovery: custodian (the
// authenticated operator) gives their share file and its passphrase.
// Refusals, each changing nothing: ErrRecoveryNotFound,
// ErrRecoveryExpired, ErrRecoveryClosed (already recovered),
// ErrCustodianForbidden (not a custodian of the escrow key, or the
// requester), ErrShareDuplicate (this custodian's share is already in),
// ErrShareInvalid (not this custodian's share of this escrow key, wrong
// passphrase, altered file). The share that reaches the threshold
// recovers the keys (see the top of this file) of those credentials that
// still wait for recovery (another recovery may have given some back);
// when none does, it is refused with ErrNothingToRecover and the request
// ends (expired now, its pending shares erased).
func (s *Service) SubmitShare(ctx context.Context, recoveryID, custodian string, file []byte, passphrase string) (*Recovery, error) {
	sf, err := ParseShareFile(file)
	if err != nil {
		return nil, err
	}
	var out *Recovery
	err = retry(ctx, func() error {
		r, rrev, err := s.loadRecovery(ctx, recoveryID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		switch r.state(now) {
		case RecoveryStateDone:
			return fmt.Errorf("%w: %s", ErrRecoveryClosed, r.ID)
		case RecoveryStateExpired:
			return fmt.Errorf("%w: %s at %s", ErrRecoveryExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
		}
		esc, err := s.loadEscrow(ctx)
		if err != nil {
			return err
		}
		if esc.ID != r.EscrowID {
			return fmt.Errorf("%w: %s: the escrow key was rotated since it was opened; open a new recovery", ErrRecoveryClosed, r.ID)
		}
		i := slices.IndexFunc(esc.Custodians, func(c EscrowCustodian) bool { return c.Name == custodian })
		if i < 0 || custodian == r.RequestedBy {
			return fmt.Errorf("%w: %q may not approve recovery %s", ErrCustodianForbidden, custodian, r.ID)
		}
		if slices.ContainsFunc(r.Approvals, func(a RecoveryApproval) bool { return a.Custodian == custodian }) {
			return fmt.Errorf("%w: %s", ErrShareDuplicate, custodian)
		}
		cust := esc.Custodians[i]
		y, err := openCustodianShare(esc, cust, sf, passphrase)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(y)
		kek, err := s.pendingShareKEK(r.ID)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(kek)
		r.Approvals = append(r.Approvals, RecoveryApproval{Custodian: custodian, At: now})
		var b txnBuilder
		b.cond(recoveryKey(r.ID), rrev)
		left := r.ExpiresAt.Sub(now)
		if len(r.Approvals) < r.Threshold {
			sealed, err := gmcrypto.Wrap(kek, y, []byte(recoveryShareKey(r.ID, cust.Index)))
			if err != nil {
				return err
			}
			if err := s.addPending(ctx, &b, esc.ID, r.Threshold, custodian, r.ID, recoveryKey(r.ID), rrev, r.ExpiresAt, now); err != nil {
				return err
			}
			b.put(recoveryKey(r.ID), r, left+recoveryGrace)
			b.cond(recoveryShareKey(r.ID, cust.Index), 0)
			b.ops = append(b.ops, storage.Put(recoveryShareKey(r.ID, cust.Index), sealed, left))
		} else if err := s.recoverKeys(ctx, &b, r, rrev, esc, kek, cust.Index, y); errors.Is(err, errNothingLeft) {
			// The request can never recover anything: it ends now, its
			// pending shares erased (b holds their erasure) and its
			// ledger entries dropped, rather than hold them until it
			// expires; the share is refused.
			if err := s.dropPending(ctx, &b, esc.ID, r.ID, now); err != nil {
				return err
			}
			r.Approvals, r.ExpiresAt = r.Approvals[:len(r.Approvals)-1], now
			b.put(recoveryKey(r.ID), r, recoveryGrace)
			if cerr := b.commit(ctx, s.store); cerr != nil {
				return cerr
			}
			return err
		} else if err != nil {
			return err
		} else if err := s.dropPending(ctx, &b, esc.ID, r.ID, now); err != nil {
			return err
		} else {
			r.CompletedAt = now
			b.put(recoveryKey(r.ID), r, recoveryGrace)
		}
		out = r.toRecovery(now)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// openCustodianShare opens share file sf of custodian cust of escrow key
// esc with its passphrase and checks it against the stored fingerprint
// (ErrShareInvalid: another key's or custodian's file, an altered one, a
// wrong passphrase). The caller clears the share.
func openCustodianShare(esc *escrowKeyRecord, cust EscrowCustodian, sf *ShareFile, passphrase string) ([]byte, error) {
	if sf.EscrowID != esc.ID || sf.Custodian != cust.Name || sf.Index != cust.Index || sf.Threshold != esc.Threshold {
		return nil, fmt.Errorf("%w: not %s's share of escrow key %s", ErrShareInvalid, cust.Name, esc.ID)
	}
	y, err := sf.Open(passphrase)
	if err != nil {
		return nil, err
	}
	if !gmcrypto.Equal([]byte(shareFingerprint(esc.ID, cust.Name, cust.Index, y)), []byte(cust.Fingerprint)) {
		gmcrypto.Zero(y)
		return nil, fmt.Errorf("%w: fingerprint", ErrShareInvalid)
	}
	return y, nil
}

// recoverKeys adds to b what the threshold-th share does: rebuild the
// escrow key from the sealed pending shares and y, decrypt the escrow copy
// of each credential of r, seal it for its user, and erase the pending
// shares.
func (s *Service) recoverKeys(ctx context.Context, b *txnBuilder, r *recoveryRecord, rrev int64, esc *escrowKeyRecord, kek []byte, index int, y []byte) error {
	key, err := s.rebuildFromPending(ctx, b, pfxRecoveryShares+r.ID+"/", esc, kek, index, y, nil)
	if errors.Is(err, errPendingGone) {
		// Ended (canceled, closed) while this share was checked: read it
		// again and refuse on what it is now.
		if moved, merr := s.moved(ctx, recoveryKey(r.ID), rrev); merr != nil {
			return merr
		} else if moved {
			return fmt.Errorf("%w: %s changed while its share was checked", storage.ErrConflict, r.ID)
		}
		return fmt.Errorf("%w: %s (pending shares gone)", ErrRecoveryExpired, r.ID)
	} else if err != nil {
		return err
	}
	defer key.D.SetInt64(0)
	rkek, err := gmcrypto.DeriveKey(s.master, purposeRecoveredKey, []byte(r.UserID))
	if err != nil {
		return err
	}
	defer gmcrypto.Zero(rkek)
	left := 0
	for _, id := range r.Credentials {
		c, crev, err := s.loadCredential(ctx, id)
		if errors.Is(err, ErrCredentialNotFound) {
			continue // erased meanwhile
		} else if err != nil {
			return err
		}
		b.cond(credentialKey(c.ID), crev)
		if c.UserID != r.UserID || !c.AwaitingRecovery || len(c.Escrow) == 0 {
			continue // another recovery gave it back meanwhile
		}
		left++
		der, err := openEscrowCopy(key, c.ID, c.Escrow)
		if err != nil {
			return err
		}
		rk := recoveredKey(r.UserID, c.ID)
		sealed, err := gmcrypto.Wrap(rkek, der, []byte(rk))
		gmcrypto.Zero(der)
		if err != nil {
			return err
		}
		b.put(rk, &recoveredRecord{CredentialID: c.ID, RecoveryID: r.ID, Sealed: sealed, ExpiresAt: s.now().UTC().Add(RecoveredKeyTTL)}, RecoveredKeyTTL)
	}
	if left == 0 {
		return fmt.Errorf("%w: none of the credentials of %s waits for recovery any more", errNothingLeft, r.ID)
	}
	return nil
}

// errNothingLeft: none of a recovery's credentials waits any more (given
// back by another recovery, or erased). It is ErrNothingToRecover.
var errNothingLeft = fmt.Errorf("%w: nothing left", ErrNothingToRecover)

// errPendingGone: fewer pending shares are left in the store than the
// request's approvals say (they expired before it).
var errPendingGone = errors.New("ca: pending shares gone")

// rebuildFromPending adds to b the erasure of every pending share under
// prefix (sealed under kek) and returns escrow key esc rebuilt from the
// shares and y, custodian index's share, checked against its public key.
// When live is not nil only the indexes it holds count besides index (a
// lapsed approval's share may linger until the store sweeps it).
// errPendingGone when fewer than the threshold are left.
func (s *Service) rebuildFromPending(ctx context.Context, b *txnBuilder, prefix string, esc *escrowKeyRecord, kek []byte, index int, y []byte, live map[int]bool) (*sm2.PrivateKey, error) {
	shares := map[int][]byte{index: y}
	defer func() {
		for i, v := range shares {
			if i != index {
				gmcrypto.Zero(v)
			}
		}
	}()
	kvs, _, err := s.store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		i, err := strconv.Atoi(strings.TrimPrefix(kv.Key, prefix))
		if err != nil {
			return nil, fmt.Errorf("ca: corrupt pending share %s", kv.Key)
		}
		b.cond(kv.Key, kv.Revision)
		b.del(kv.Key)
		if i == index || (live != nil && !live[i]) {
			continue
		}
		v, err := gmcrypto.Unwrap(kek, kv.Value, []byte(kv.Key))
		if err != nil {
			return nil, fmt.Errorf("ca: pending share %s does not open: %w", kv.Key, err)
		}
		shares[i] = v
	}
	if len(shares) < esc.Threshold {
		return nil, errPendingGone
	}
	d := combineShares(shares)
	defer d.SetInt64(0)
	return escrowPrivateKey(d, esc.PublicKey)
}

// escrowPrivateKey makes the SM2 key of scalar d, checked against the
// escrow public key (a wrong combination is ErrShareInvalid).
func escrowPrivateKey(d *big.Int, pubDER []byte) (*sm2.PrivateKey, error) {
	if d.Sign() == 0 {
		return nil, fmt.Errorf("%w: shares do not combine", ErrShareInvalid)
	}
	key, err := sm2.NewPrivateKeyFromInt(d)
	if err != nil {
		return nil, fmt.Errorf("%w: shares do not combine", ErrShareInvalid)
	}
	pub, err := gmcrypto.ParsePublicKey(pubDER)
	if err != nil {
		return nil, fmt.Errorf("ca: corrupt escrow key: %w", err)
	}
	ep, ok := pub.(*ecdsa.PublicKey)
	if !ok || !ep.Equal(&key.PublicKey) {
		key.D.SetInt64(0)
		return nil, fmt.Errorf("%w: shares do not combine to the escrow key", ErrShareInvalid)
	}
	return key, nil
}

// recoveredRecord is what escrow/recovered/<user>/<credential> holds: the
// recovered key sealed under a key derived from the master key, until the
// user proves their PIN.
type recoveredRecord struct {
	CredentialID string    `json:"credential"`
	RecoveryID   string    `json:"recovery"`
	Sealed       []byte    `json:"sealed"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// FinishRecovery checks the user's PIN (with the lockout) and wraps every
// recovered key of the user under it, in one transaction that deletes the
// sealed copies; the credentials work again. It returns them. Errors:
// ErrNothingToRecover, ErrUserNotFound, the PIN errors.
func (s *Service) FinishRecovery(ctx context.Context, userID, pin string) ([]*Credential, error) {
	var out []*Credential
	err := retry(ctx, func() error {
		u, urev, err := s.loadUser(ctx, userID)
		if err != nil {
			return err
		}
		kvs, _, err := s.store.List(ctx, pfxRecovered+u.ID+"/")
		if err != nil {
			return err
		}
		now := s.now().UTC()
		var live []storage.KV
		var recs []recoveredRecord
		for _, kv := range kvs {
			var rr recoveredRecord
			if err := jsonUnmarshal(kv, &rr); err != nil {
				return err
			}
			if now.Before(rr.ExpiresAt) {
				live, recs = append(live, kv), append(recs, rr)
			}
		}
		if len(live) == 0 {
			return fmt.Errorf("%w: no recovered key waits for user %s", ErrNothingToRecover, u.ID)
		}
		pinKey, err := s.checkPIN(ctx, u, urev, pin)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(pinKey)
		rkek, err := gmcrypto.DeriveKey(s.master, purposeRecoveredKey, []byte(u.ID))
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(rkek)
		var b txnBuilder
		b.cond(userKey(u.ID), urev)
		if !u.pinUnchanged {
			b.put(userKey(u.ID), u, 0)
		}
		out = nil
		for i, kv := range live {
			c, crev, err := s.loadCredential(ctx, recs[i].CredentialID)
			if err != nil {
				return err
			}
			b.cond(kv.Key, kv.Revision)
			b.del(kv.Key)
			if c.UserID != u.ID || !c.AwaitingRecovery {
				continue // recovered already, or erased
			}
			der, err := gmcrypto.Unwrap(rkek, recs[i].Sealed, []byte(kv.Key))
			if err != nil {
				return fmt.Errorf("ca: recovered key %s does not open: %w", kv.Key, err)
			}
			w, err := gmcrypto.Wrap(pinKey, der, []byte(credentialKey(c.ID)))
			gmcrypto.Zero(der)
			if err != nil {
				return err
			}
			c.WrappedKey, c.AwaitingRecovery = w, false
			b.cond(credentialKey(c.ID), crev)
			b.put(credentialKey(c.ID), c, 0)
			cr, err := c.toCredential(now)
			if err != nil {
				return err
			}
			out = append(out, cr)
		}
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// eraseEscrowOf removes, for account deletion, what escrow holds of a
// user besides the escrow copies (which go with the credential records):
// recovered keys waiting for the PIN and the user's recovery requests with
// their pending shares.
func (s *Service) eraseEscrowOf(ctx context.Context, userID string) error {
	kvs, _, err := s.store.List(ctx, pfxRecovered+userID+"/")
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if _, err := s.store.Txn(ctx, storage.Delete(kv.Key)); err != nil {
			return err
		}
	}
	recs, _, err := s.store.List(ctx, pfxRecoveries)
	if err != nil {
		return err
	}
	for _, kv := range recs {
		var r recoveryRecord
		if err := jsonUnmarshal(kv, &r); err != nil {
			return err
		}
		if r.UserID != userID {
			continue
		}
		shares, _, err := s.store.List(ctx, pfxRecoveryShares+r.ID+"/")
		if err != nil {
			return err
		}
		var b txnBuilder
		b.del(kv.Key)
		for _, sh := range shares {
			b.del(sh.Key)
		}
		if len(shares) > 0 {
			if err := s.dropPending(ctx, &b, r.EscrowID, r.ID, s.now()); err != nil {
				return err
			}
		}
		if err := b.commit(ctx, s.store); err != nil {
			return err
		}
	}
	return nil
}
