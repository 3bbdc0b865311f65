package ca

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// Rotation of the escrow key (a custodian leaves, a share or passphrase
// is lost or suspected), under the same dual control as a recovery:
//
//   - RotateEscrow (the ceremony, run by the admin with the NEW
//     custodians present) makes the next escrow key and hands out its
//     share files, exactly as InitEscrow; the key is stored inside the
//     rotation request and is not used yet.
//   - Each custodian of the NEW key confirms that their new share file
//     opens under their passphrase (ConfirmRotation: checked against the
//     fingerprint recorded at the ceremony; only who and when is kept).
//     Until all have, approvals are refused (ErrRotationUnconfirmed).
//   - Threshold custodians of the CURRENT key, none of them the
//     requester, approve with their share files (ApproveRotation). Shares
//     below the threshold wait sealed under a key derived from the master
//     key, as a recovery's do. The share that reaches the threshold
//     rebuilds the current key in memory and checks it, then in one
//     transaction makes the next key current and keeps the old one as
//     retired (escrow/keys/<id>: public key and custodians only, for the
//     record), and erases the pending shares; then it re-encrypts every
//     escrow copy still under the old key to the new one, in batches, each
//     credential on the revision it was read at. The old key leaves memory
//     when the call returns; its old shares open nothing new after that.
//   - A credential made or renewed while the key switches conditions on
//     the escrow record, so it is written again under the new key.
//   - If the moving stops half-way (a crash, a store error), the rotation
//     stays "moving": its custodians approve it again (the old key's
//     shares, threshold again) and the rest is moved. Until then a
//     recovery of a key left under the retired key is refused with that
//     advice.
//
// A moving rotation whose old custodians are gone is abandoned
// (AbandonRotation): the copies not moved stay under the retired key,
// listed by RetiredEscrows, and each is escrowed again under the current
// key the next time its owner's PIN unlocks the key (reEscrowCopy).
//
// Open recoveries of the old key are closed by the switch (their shares
// were for the old key): a new recovery is opened under the new one.

// Storage keys, states and limits of escrow rotation (storage format).
const (
	pfxEscrowKeys         = "escrow/keys/"            // escrow/keys/<id>: a retired escrow key
	pfxRotations          = "escrow/rotations/"       // escrow/rotations/<id>
	pfxRotationShares     = "escrow/rotation-shares/" // escrow/rotation-shares/<rotation>/<index>: sealed pending share
	rotationPendingKey    = "escrow/rotation"         // the id of the rotation open or moving, if any
	prefixRotation        = "rot_"
	purposeRotationShare  = "ukeygate/ca/escrow-rotation-share/v1"
	RotationStateOpen     = "open"
	RotationStateMoving   = "moving"
	RotationStateDone     = "rotated"
	RotationStateExpired  = "expired"
	RotationStateCanceled = "canceled"
	// RotationStateAbandoned: a moving rotation ended by AbandonRotation;
	// the escrow copies it had not moved stay under the retired key.
	RotationStateAbandoned = "abandoned"
	// MovingRoundTTL is how long an approval of a moving rotation (one
	// approved again after an interrupted move) waits for the others.
	MovingRoundTTL        = 7 * 24 * time.Hour
	DefaultRotationTTL    = 24 * time.Hour
	MaxRotationTTL        = 7 * 24 * time.Hour
	maxRotationReasonLen  = 200
	rotationGrace         = 30 * 24 * time.Hour
	rotationMoveBatchSize = 32
	// maxStrandedListed bounds the credential ids a rotation record or a
	// retired key's listing names (the count is always given).
	maxStrandedListed = 1000
)

func rotationKey(id string) string { return pfxRotations + id }
func rotationShareKey(id string, index int) string {
	return pfxRotationShares + id + "/" + strconv.Itoa(index)
}

// retiredEscrowRecord is what escrow/keys/<id> holds.
type retiredEscrowRecord struct {
	escrowKeyRecord
	RetiredAt    time.Time `json:"retired_at"`
	SupersededBy string    `json:"superseded_by"`
	Rotation     string    `json:"rotation"`
}

// rotationRecord is what escrow/rotations/<id> holds.
type rotationRecord struct {
	ID          string             `json:"id"`
	From        string             `json:"from"` // the escrow key being replaced
	Next        escrowKeyRecord    `json:"next"` // public key and fingerprints of the new one
	Reason      string             `json:"reason"`
	RequestedBy string             `json:"requested_by"`
	Threshold   int                `json:"threshold"` // of the key being replaced
	Approvals   []RecoveryApproval `json:"approvals"` // of the current round
	Approved    []RecoveryApproval `json:"approved,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	ExpiresAt   time.Time          `json:"expires_at"`
	SwitchedAt  time.Time          `json:"switched_at,omitzero"`
	CompletedAt time.Time          `json:"completed_at,omitzero"`
	CanceledAt  time.Time          `json:"canceled_at,omitzero"`
	CanceledBy  string             `json:"canceled_by,omitempty"`
	Moved       int                `json:"moved"`
	// Unopened lists the credentials whose escrow copy did not open under
	// the old key (damaged): they were unrecoverable before the rotation
	// and are left as they are.
	Unopened []string `json:"unopened,omitempty"`
	// Confirmations: the new key's custodians who proved, before the
	// switch, that their new share file opens under their passphrase
	// (ConfirmRotation). Only that they did and when; never the share.
	Confirmations []RotationConfirmation `json:"confirmations,omitempty"`
	AbandonedAt   time.Time              `json:"abandoned_at,omitzero"`
	AbandonedBy   string                 `json:"abandoned_by,omitempty"`
	AbandonReason string                 `json:"abandon_reason,omitempty"`
	// Stranded (at most maxStrandedListed, sorted) and StrandedCount: the
	// credentials whose escrow copy was still under the retired key when
	// the rotation was abandoned.
	Stranded      []string `json:"stranded,omitempty"`
	StrandedCount int      `json:"stranded_count,omitempty"`
}

// RotationConfirmation is a new custodian's confirmation of their new
// share file.
type RotationConfirmation struct {
	Custodian string    `json:"custodian"`
	At        time.Time `json:"at"`
}

// unconfirmed lists the new key's custodians who have not confirmed, in
// share-index order.
func (r *rotationRecord) unconfirmed() []string {
	out := []string{}
	for _, c := range r.Next.Custodians {
		if !slices.ContainsFunc(r.Confirmations, func(cf RotationConfirmation) bool { return cf.Custodian == c.Name }) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Rotation is an escrow key rotation as operators see it. Approvals are
// the current round's (a moving rotation approved again starts a new
// round); Approved are the approvals that switched the key.
type Rotation struct {
	ID          string
	From        string
	Next        *Escrow
	Reason      string
	RequestedBy string
	Threshold   int
	Approvals   []RecoveryApproval
	Approved    []RecoveryApproval
	State       string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	SwitchedAt  time.Time
	CompletedAt time.Time
	CanceledAt  time.Time
	CanceledBy  string
	// Moved counts the escrow copies re-encrypted to the new key so far.
	Moved int
	// Unopened lists the credentials whose escrow copy did not open under
	// the old key (damaged before the rotation; left as they were).
	Unopened []string
	// Confirmations of the new custodians so far; Unconfirmed, those of
	// the new key's custodians who have not confirmed (share-index order).
	Confirmations []RotationConfirmation
	Unconfirmed   []string
	AbandonedAt   time.Time
	AbandonedBy   string
	AbandonReason string
	// Stranded (at most 1000) and StrandedCount: the credentials whose
	// escrow copy stayed under the retired key when it was abandoned.
	Stranded      []string
	StrandedCount int
}

func (r *rotationRecord) state(now time.Time) string {
	switch {
	case !r.CompletedAt.IsZero():
		return RotationStateDone
	case !r.CanceledAt.IsZero():
		return RotationStateCanceled
	case !r.AbandonedAt.IsZero():
		return RotationStateAbandoned
	case !r.SwitchedAt.IsZero():
		return RotationStateMoving
	case !now.Before(r.ExpiresAt):
		return RotationStateExpired
	}
	return RotationStateOpen
}

// requireOpen is nil while r is open, else ErrRotationExpired (past its
// TTL before the switch) or ErrRotationClosed (moving, rotated, canceled
// or abandoned).
func (r *rotationRecord) requireOpen(now time.Time) error {
	switch st := r.state(now); st {
	case RotationStateOpen:
		return nil
	case RotationStateExpired:
		return fmt.Errorf("%w: %s at %s", ErrRotationExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
	default:
		return fmt.Errorf("%w: %s is %s", ErrRotationClosed, r.ID, st)
	}
}

func (r *rotationRecord) toRotation(now time.Time) *Rotation {
	return &Rotation{ID: r.ID, From: r.From, Next: r.Next.toEscrow(), Reason: r.Reason, RequestedBy: r.RequestedBy,
		Threshold: r.Threshold, Approvals: slices.Clone(r.Approvals), Approved: slices.Clone(r.Approved),
		State: r.state(now), CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, SwitchedAt: r.SwitchedAt,
		CompletedAt: r.CompletedAt, CanceledAt: r.CanceledAt, CanceledBy: r.CanceledBy, Moved: r.Moved,
		Unopened: slices.Clone(r.Unopened), Confirmations: slices.Clone(r.Confirmations), Unconfirmed: r.unconfirmed(),
		AbandonedAt: r.AbandonedAt, AbandonedBy: r.AbandonedBy, AbandonReason: r.AbandonReason,
		Stranded: slices.Clone(r.Stranded), StrandedCount: r.StrandedCount}
}

// liveApprovals drops from r's approvals those of a moving round older
// than MovingRoundTTL: their pending shares have left the store.
func (r *rotationRecord) liveApprovals(now time.Time) {
	if r.SwitchedAt.IsZero() {
		return
	}
	r.Approvals = slices.DeleteFunc(r.Approvals, func(a RecoveryApproval) bool { return !now.Before(a.At.Add(MovingRoundTTL)) })
}

// EscrowRotate asks for a rotation of the escrow key.
type EscrowRotate struct {
	// Custodians, Threshold and Iterations of the NEW key, as in
	// EscrowInit (they may include custodians of the current key).
	Custodians []CustodianPassphrase
	Threshold  int
	Iterations int
	// Reason is recorded (required).
	Reason string
	// By is the operator who runs the ceremony: not a custodian of the new
	// key, and it cannot approve the rotation.
	By string
	// TTL of the request; 0 means DefaultRotationTTL.
	TTL time.Duration
}

// RotateEscrow opens a rotation of the escrow key and returns it with the
// new key's share files (handed out once, as InitEscrow's). The new key
// replaces the current one when threshold custodians of the current key
// approve (ApproveRotation). Errors: ErrEscrowNotInitialized,
// ErrRotationPending (another rotation is open or moving), a
// *RequestError; nothing is stored then.
func (s *Service) RotateEscrow(ctx context.Context, req EscrowRotate) (*Rotation, []EscrowShare, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return nil, nil, invalid("reason", "required")
	}
	if err := checkText("reason", req.Reason, maxRotationReasonLen, false); err != nil {
		return nil, nil, err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultRotationTTL
	}
	if ttl < time.Minute || ttl > MaxRotationTTL {
		return nil, nil, invalid("ttl", "1m to %s", MaxRotationTTL)
	}
	if req.By == "" {
		return nil, nil, invalid("by", "required")
	}
	k, iter, err := checkCustodians(req.Custodians, req.Threshold, req.Iterations, req.By)
	if err != nil {
		return nil, nil, err
	}
	esc, escRev, err := s.loadEscrowRev(ctx)
	if err != nil {
		return nil, nil, err
	}
	ptrRev, err := s.checkNoPendingRotation(ctx)
	if err != nil {
		return nil, nil, err
	}
	next, shares, err := s.newEscrowKey(req.Custodians, k, iter, req.By)
	if err != nil {
		return nil, nil, err
	}
	id, err := newID(prefixRotation)
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	rec := &rotationRecord{ID: id, From: esc.ID, Next: *next, Reason: req.Reason, RequestedBy: req.By,
		Threshold: esc.Threshold, Approvals: []RecoveryApproval{}, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	var b txnBuilder
	b.cond(escrowKeyKey, escRev)
	b.cond(rotationPendingKey, ptrRev)
	b.put(rotationPendingKey, id, 0)
	b.cond(rotationKey(id), 0)
	b.put(rotationKey(id), rec, ttl+rotationGrace)
	out := rec.toRotation(now)
	if err := b.commitAction(ctx, s.store, out); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, nil, fmt.Errorf("%w: another rotation was opened meanwhile", ErrRotationPending)
		}
		return nil, nil, err
	}
	return out, shares, nil
}

// checkNoPendingRotation returns the revision of the pending-rotation
// pointer (0: none) when no rotation is open or moving, and
// ErrRotationPending otherwise. Opening a rotation conditions on that
// revision, so two opens at once cannot both succeed.
func (s *Service) checkNoPendingRotation(ctx context.Context) (int64, error) {
	var id string
	rev, err := s.getJSON(ctx, rotationPendingKey, &id)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	r, _, err := s.loadRotation(ctx, id)
	if errors.Is(err, ErrRotationNotFound) {
		return rev, nil // ended and gone from the store
	} else if err != nil {
		return 0, err
	}
	if st := r.state(s.now()); st == RotationStateOpen || st == RotationStateMoving {
		return 0, fmt.Errorf("%w: %s is %s", ErrRotationPending, r.ID, st)
	}
	return rev, nil
}

// CancelRotation ends an open rotation that has not switched the key (a
// share file was lost at the ceremony, the wrong custodians were named):
// its pending shares are erased (and the pending-rotation pointer cleared)
// and its new key's share files open
// nothing. Errors: ErrRotationNotFound, ErrRotationClosed (it has switched
// the key, or is done or canceled), ErrRotationExpired.
func (s *Service) CancelRotation(ctx context.Context, id, by string) (*Rotation, error) {
	var out *Rotation
	err := retry(ctx, func() error {
		r, rrev, err := s.loadRotation(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if err := r.requireOpen(now); err != nil {
			return err
		}
		var b txnBuilder
		b.cond(rotationKey(r.ID), rrev)
		if err := s.closeRotationOps(ctx, &b, r, now); err != nil {
			return err
		}
		r.CanceledAt, r.CanceledBy = now, by
		b.put(rotationKey(r.ID), r, rotationGrace)
		out = r.toRotation(now)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

func (s *Service) loadRotation(ctx context.Context, id string) (*rotationRecord, int64, error) {
	return loadRecord[rotationRecord](ctx, s, rotationKey(id), id, ErrRotationNotFound)
}

// Rotation returns a rotation (ErrRotationNotFound).
func (s *Service) Rotation(ctx context.Context, id string) (*Rotation, error) {
	r, _, err := s.loadRotation(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.toRotation(s.now()), nil
}

// Rotations lists the escrow key rotations, newest first.
func (s *Service) Rotations(ctx context.Context) ([]*Rotation, error) {
	kvs, _, err := s.store.List(ctx, pfxRotations)
	if err != nil {
		return nil, err
	}
	out := []*Rotation{}
	for _, kv := range kvs {
		var r rotationRecord
		if err := jsonUnmarshal(kv, &r); err != nil {
			return nil, err
		}
		out = append(out, r.toRotation(s.now()))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// rotationFrom is the key a rotation replaces, as stored now: the current
// escrow key while the rotation is open (its revision for the switch), the
// retired record once it has switched.
func (s *Service) rotationFrom(ctx context.Context, r *rotationRecord, now time.Time) (*escrowKeyRecord, int64, error) {
	switch st := r.state(now); st {
	case RotationStateDone, RotationStateCanceled, RotationStateAbandoned:
		return nil, 0, fmt.Errorf("%w: %s is %s", ErrRotationClosed, r.ID, st)
	case RotationStateExpired:
		return nil, 0, fmt.Errorf("%w: %s at %s", ErrRotationExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
	case RotationStateMoving:
		var old retiredEscrowRecord
		if _, err := s.getJSON(ctx, pfxEscrowKeys+r.From, &old); err != nil {
			return nil, 0, err
		}
		return &old.escrowKeyRecord, 0, nil
	}
	esc, rev, err := s.loadEscrowRev(ctx)
	if err != nil {
		return nil, 0, err
	}
	if esc.ID != r.From {
		return nil, 0, fmt.Errorf("%w: %s: the escrow key is no longer %s", ErrRotationClosed, r.ID, r.From)
	}
	return esc, rev, nil
}

// ApproveRotation is one custodian of the key being replaced approving a
// rotation with their share file and its passphrase. Refusals, each
// changing nothing: ErrRotationNotFound, ErrRotationExpired,
// ErrRotationClosed (rotated already, or the key changed), ErrCustodianForbidden
// (not a custodian of the key being replaced, or the requester),
// ErrShareDuplicate, ErrShareInvalid. The share that reaches the
// threshold switches the key and moves the escrow copies (see the top of
// this file); an error while moving leaves the rotation "moving", to be
// approved again.
func (s *Service) ApproveRotation(ctx context.Context, rotationID, custodian string, file []byte, passphrase string) (*Rotation, error) {
	sf, err := ParseShareFile(file)
	if err != nil {
		return nil, err
	}
	var out *Rotation
	var oldKey *sm2.PrivateKey
	defer func() {
		if oldKey != nil {
			oldKey.D.SetInt64(0)
		}
	}()
	var r *rotationRecord
	var rrev int64
	firstState := ""
	err = retry(ctx, func() error {
		if r, rrev, err = s.loadRotation(ctx, rotationID); err != nil {
			return err
		}
		now := s.now().UTC()
		st := r.state(now)
		if firstState == "" {
			firstState = st
		} else if firstState == RotationStateOpen && st == RotationStateMoving {
			// Another approval switched the key meanwhile: this share is
			// not needed, and must not start a round of its own.
			return fmt.Errorf("%w: %s switched the key meanwhile (another approval reached the threshold)", ErrRotationClosed, r.ID)
		}
		from, fromRev, err := s.rotationFrom(ctx, r, now)
		if err != nil {
			return err
		}
		r.liveApprovals(now)
		i := slices.IndexFunc(from.Custodians, func(c EscrowCustodian) bool { return c.Name == custodian })
		if i < 0 || custodian == r.RequestedBy {
			return fmt.Errorf("%w: %q may not approve rotation %s", ErrCustodianForbidden, custodian, r.ID)
		}
		if slices.ContainsFunc(r.Approvals, func(a RecoveryApproval) bool { return a.Custodian == custodian }) {
			return fmt.Errorf("%w: %s", ErrShareDuplicate, custodian)
		}
		if missing := r.unconfirmed(); r.SwitchedAt.IsZero() && len(missing) > 0 {
			// The new key becomes current only once each of its
			// custodians has shown a working share file.
			return fmt.Errorf("%w: %s: %s must first confirm their new share files (escrow rotation confirm)",
				ErrRotationUnconfirmed, r.ID, strings.Join(missing, ", "))
		}
		cust := from.Custodians[i]
		y, err := openCustodianShare(from, cust, sf, passphrase)
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(y)
		kek, err := gmcrypto.DeriveKey(s.master, purposeRotationShare, []byte(r.ID))
		if err != nil {
			return err
		}
		defer gmcrypto.Zero(kek)
		// Opening the share took a while: an open rotation must still be
		// open now (nothing below reads the clock again).
		if now = s.now().UTC(); r.state(now) == RotationStateExpired {
			return fmt.Errorf("%w: %s at %s", ErrRotationExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
		}
		r.Approvals = append(r.Approvals, RecoveryApproval{Custodian: custodian, At: now})
		var b txnBuilder
		b.cond(rotationKey(r.ID), rrev)
		if len(r.Approvals) < r.Threshold {
			// A pending share waits as long as the request does; a moving
			// rotation's record has no end, its pending shares a week.
			left, recTTL := r.ExpiresAt.Sub(now), r.ExpiresAt.Sub(now)+rotationGrace
			if r.state(now) == RotationStateMoving {
				left, recTTL = MovingRoundTTL, 0
			}
			if err := s.addPending(ctx, &b, from.ID, r.Threshold, custodian, r.ID, rotationKey(r.ID), rrev, now.Add(left), now); err != nil {
				return err
			}
			sealed, err := gmcrypto.Wrap(kek, y, []byte(rotationShareKey(r.ID, cust.Index)))
			if err != nil {
				return err
			}
			b.put(rotationKey(r.ID), r, recTTL)
			// A lapsed approval's share may still be in the store: replace it.
			sk := rotationShareKey(r.ID, cust.Index)
			var prev int64
			if kv, err := s.store.Get(ctx, sk); err == nil {
				prev = kv.Revision
			} else if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			b.cond(sk, prev)
			b.ops = append(b.ops, storage.Put(sk, sealed, left))
			out = r.toRotation(now)
			return b.commitAction(ctx, s.store, out)
		}
		if err := s.dropPending(ctx, &b, from.ID, r.ID, now); err != nil {
			return err
		}
		if r.SwitchedAt.IsZero() {
			// The switch conditions: the key is still the one to replace,
			// and this is still the one rotation opened.
			var ptr string
			ptrRev, err := s.getJSON(ctx, rotationPendingKey, &ptr)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			if ptr != r.ID {
				return fmt.Errorf("%w: %s is no longer the rotation in progress", ErrRotationClosed, r.ID)
			}
			b.cond(rotationPendingKey, ptrRev)
			b.cond(escrowKeyKey, fromRev)
		}
		key, err := s.rebuildRotationKey(ctx, &b, r, rrev, from, kek, cust.Index, y)
		if err != nil {
			return err
		}
		if r.SwitchedAt.IsZero() {
			// The switch: the next key becomes current, the old one retired.
			next := r.Next
			next.CreatedAt = now
			b.put(escrowKeyKey, &next, 0)
			b.cond(pfxEscrowKeys+from.ID, 0)
			b.put(pfxEscrowKeys+from.ID, &retiredEscrowRecord{escrowKeyRecord: *from, RetiredAt: now, SupersededBy: next.ID, Rotation: r.ID}, 0)
			r.SwitchedAt = now
			r.Approved = r.Approvals // who switched the key; later rounds only move
		}
		r.Approvals = []RecoveryApproval{}
		b.put(rotationKey(r.ID), r, 0)
		out = r.toRotation(now)
		if err := b.commitAction(ctx, s.store, out); err != nil {
			key.D.SetInt64(0)
			return err
		}
		oldKey = key
		return nil
	})
	if err != nil || oldKey == nil {
		return out, err
	}
	// The key has switched: the move goes on if the approving client goes
	// away (a large store takes a while); only the process's end stops it
	// (the rotation then stays moving, to be approved again).
	mctx := context.WithoutCancel(ctx)
	moved, unopened, err := 0, []string(nil), s.closeRecoveriesOf(mctx, r.From)
	if err == nil {
		moved, unopened, err = s.moveEscrowCopies(mctx, oldKey, r.From, &r.Next)
	}
	return s.finishRotation(mctx, r.ID, moved, unopened, err)
}

// closeRecoveriesOf ends, once a rotation has retired the escrow key
// escrowID, every open recovery under it, each in a transaction of its
// own: its pending shares (of the old key) are erased with their ledger
// entries and it expires now; a new recovery is opened under the new key.
// (A share for one not ended yet is refused anyway: SubmitShare checks
// the recovery's key against the current one.)
func (s *Service) closeRecoveriesOf(ctx context.Context, escrowID string) error {
	kvs, _, err := s.store.List(ctx, pfxRecoveries)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		var rc recoveryRecord
		if err := jsonUnmarshal(kv, &rc); err != nil {
			return err
		}
		if rc.EscrowID != escrowID || rc.state(s.now()) != RecoveryStateOpen {
			continue
		}
		err := retry(ctx, func() error {
			r, rev, err := s.loadRecovery(ctx, rc.ID)
			if err != nil {
				return err
			}
			now := s.now().UTC()
			if r.state(now) != RecoveryStateOpen {
				return nil
			}
			var b txnBuilder
			shares, _, err := s.store.List(ctx, pfxRecoveryShares+r.ID+"/")
			if err != nil {
				return err
			}
			for _, sh := range shares {
				b.cond(sh.Key, sh.Revision)
				b.del(sh.Key)
			}
			if err := s.dropPending(ctx, &b, escrowID, r.ID, now); err != nil {
				return err
			}
			r.ExpiresAt = now
			b.cond(recoveryKey(r.ID), rev)
			b.put(recoveryKey(r.ID), r, recoveryGrace)
			return b.commit(ctx, s.store)
		})
		if errors.Is(err, ErrRecoveryNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("ca: ending recovery %s of the retired escrow key %s: %w", rc.ID, escrowID, err)
		}
	}
	return nil
}

type rotationFinishKey struct{}

// WithRotationFinish returns ctx with audited, which ApproveRotation
// applies to the context of the transaction that finishes a rotation
// (state rotated), so that the caller's audit entry of the finish
// (audit.WithAction) commits with it, as the approving share's entry
// commits with the switch.
func WithRotationFinish(ctx context.Context, audited func(context.Context) context.Context) context.Context {
	return context.WithValue(ctx, rotationFinishKey{}, audited)
}

// rebuildRotationKey adds to b the erasure of the rotation's pending
// shares and returns the key being replaced, rebuilt from them and y and
// checked against its public key. Only the shares of the round's live
// approvals count.
func (s *Service) rebuildRotationKey(ctx context.Context, b *txnBuilder, r *rotationRecord, rrev int64, from *escrowKeyRecord, kek []byte, index int, y []byte) (*sm2.PrivateKey, error) {
	live := map[int]bool{}
	for _, a := range r.Approvals {
		if j := slices.IndexFunc(from.Custodians, func(c EscrowCustodian) bool { return c.Name == a.Custodian }); j >= 0 {
			live[from.Custodians[j].Index] = true
		}
	}
	key, err := s.rebuildFromPending(ctx, b, pfxRotationShares+r.ID+"/", from, kek, index, y, live)
	if errors.Is(err, errPendingGone) {
		// Canceled or ended while this share was checked: read it again
		// and refuse on what it is now.
		if moved, merr := s.moved(ctx, rotationKey(r.ID), rrev); merr != nil {
			return nil, merr
		} else if moved {
			return nil, fmt.Errorf("%w: %s changed while its share was checked", storage.ErrConflict, r.ID)
		}
		return nil, fmt.Errorf("%w: %s: the other approvals' shares are gone from the store; approve it again", ErrRotationExpired, r.ID)
	}
	return key, err
}

// moveEscrowCopies re-encrypts, from the escrow key fromID (key) to next,
// every escrow copy still under fromID, in batches, and returns how many
// it moved (also when it stops on an error) and the credentials whose
// copy does not open under key (damaged: left as they are).
func (s *Service) moveEscrowCopies(ctx context.Context, key *sm2.PrivateKey, fromID string, next *escrowKeyRecord) (int, []string, error) {
	kvs, _, err := s.store.List(ctx, pfxCredentials)
	if err != nil {
		return 0, nil, err
	}
	var ids, unopened []string
	for _, kv := range kvs {
		var c credentialRecord
		if err := jsonUnmarshal(kv, &c); err != nil {
			// A damaged record: its copy cannot be moved either; say so
			// rather than stop every approval on it.
			unopened = append(unopened, strings.TrimPrefix(kv.Key, pfxCredentials))
			continue
		}
		if c.EscrowID == fromID && len(c.Escrow) > 0 {
			ids = append(ids, c.ID)
		}
	}
	moved := 0
	for batch := range slices.Chunk(ids, rotationMoveBatchSize) {
		n := 0
		var bad []string
		err := retry(ctx, func() error {
			var b txnBuilder
			n, bad = 0, nil
			for _, id := range batch {
				c, crev, err := s.loadCredential(ctx, id)
				if errors.Is(err, ErrCredentialNotFound) {
					continue // erased meanwhile
				} else if err != nil {
					return err
				}
				if c.EscrowID != fromID || len(c.Escrow) == 0 {
					continue // moved by another approval meanwhile
				}
				der, err := openEscrowCopy(key, c.ID, c.Escrow)
				if err != nil {
					bad = append(bad, c.ID)
					continue
				}
				cp, err := escrowCopy(next, c.ID, der)
				gmcrypto.Zero(der)
				if err != nil {
					return err
				}
				c.Escrow, c.EscrowID = cp, next.ID
				b.cond(credentialKey(c.ID), crev)
				b.put(credentialKey(c.ID), c, 0)
				n++
			}
			if n == 0 {
				return nil
			}
			return b.commit(ctx, s.store)
		})
		if err != nil {
			return moved, unopened, fmt.Errorf("ca: moving escrow copies from %s: %w", fromID, err)
		}
		moved += n
		unopened = append(unopened, bad...)
	}
	return moved, unopened, nil
}

// finishRotation records what the move did: the rotation is done when
// nothing was left behind (moveErr nil), and stays moving otherwise; it
// returns the rotation and moveErr.
func (s *Service) finishRotation(ctx context.Context, id string, moved int, unopened []string, moveErr error) (*Rotation, error) {
	var out *Rotation
	cctx := ctx
	if audited, ok := ctx.Value(rotationFinishKey{}).(func(context.Context) context.Context); ok && moveErr == nil {
		cctx = audited(ctx)
	}
	err := retry(ctx, func() error {
		r, rrev, err := s.loadRotation(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		r.Moved += moved
		for _, c := range unopened {
			if !slices.Contains(r.Unopened, c) {
				r.Unopened = append(r.Unopened, c)
			}
		}
		ttl := time.Duration(0) // moving: kept until approved again
		var b txnBuilder
		b.cond(rotationKey(r.ID), rrev)
		if !r.AbandonedAt.IsZero() {
			// Abandoned while this move ran: it stays abandoned (the
			// copies moved meanwhile are under the current key anyway).
			b.put(rotationKey(r.ID), r, rotationGrace)
			out = r.toRotation(now)
			return b.commit(ctx, s.store)
		}
		if moveErr == nil {
			r.CompletedAt, ttl = now, rotationGrace
			// A share of a round that started while the move ran is not
			// needed any more.
			if err := s.closeRotationOps(ctx, &b, r, now); err != nil {
				return err
			}
		}
		b.put(rotationKey(r.ID), r, ttl)
		out = r.toRotation(now)
		return b.commitAction(cctx, s.store, out)
	})
	if moveErr != nil {
		return out, fmt.Errorf("%w: %s is moving (%d escrow copies moved in all); approve it again to move the rest: %w",
			ErrRotationMoveIncomplete, id, movedSoFar(out), moveErr)
	}
	return out, err
}

// movedSoFar is how many copies rotation r has moved (0 when its record
// could not be read back).
func movedSoFar(r *Rotation) int {
	if r == nil {
		return 0
	}
	return r.Moved
}

// closeRotationOps adds to b what ends rotation r's waiting (a cancel, the
// end of its move, an abandon): its pending shares are erased, its entries
// leave the pending-share ledger, and the pending-rotation pointer, if it
// names r, is cleared so that a new rotation may open.
func (s *Service) closeRotationOps(ctx context.Context, b *txnBuilder, r *rotationRecord, now time.Time) error {
	shares, _, err := s.store.List(ctx, pfxRotationShares+r.ID+"/")
	if err != nil {
		return err
	}
	for _, kv := range shares {
		b.cond(kv.Key, kv.Revision)
		b.del(kv.Key)
	}
	if err := s.dropPending(ctx, b, r.From, r.ID, now); err != nil {
		return err
	}
	var ptr string
	if prev, err := s.getJSON(ctx, rotationPendingKey, &ptr); err == nil && ptr == r.ID {
		b.cond(rotationPendingKey, prev)
		b.del(rotationPendingKey)
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// RetiredEscrows lists the escrow keys that rotations replaced, newest
// first, with the rotation that retired each and the credentials whose
// escrow copy is still under it.
func (s *Service) RetiredEscrows(ctx context.Context) ([]*RetiredEscrow, error) {
	kvs, _, err := s.store.List(ctx, pfxEscrowKeys)
	if err != nil {
		return nil, err
	}
	out := []*RetiredEscrow{}
	if len(kvs) == 0 {
		return out, nil
	}
	under, err := s.escrowedUnder(ctx)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		var r retiredEscrowRecord
		if err := jsonUnmarshal(kv, &r); err != nil {
			return nil, err
		}
		ids := under[r.ID]
		out = append(out, &RetiredEscrow{Escrow: r.toEscrow(), RetiredAt: r.RetiredAt, SupersededBy: r.SupersededBy, Rotation: r.Rotation,
			Stranded: slices.Clone(ids[:min(len(ids), maxStrandedListed)]), StrandedCount: len(ids)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RetiredAt.After(out[j].RetiredAt) })
	return out, nil
}

// RetiredEscrow is an escrow key a rotation replaced.
type RetiredEscrow struct {
	*Escrow
	RetiredAt    time.Time
	SupersededBy string
	Rotation     string
	// Stranded (at most 1000, sorted) and StrandedCount: the credentials
	// whose escrow copy is still under this key, so that the current
	// custodians cannot recover them (a rotation still moving, a copy that
	// did not open, an abandoned rotation). Such a copy moves to the
	// current key the next time its owner's PIN unlocks the key.
	Stranded      []string
	StrandedCount int
}

// escrowedUnder maps each escrow key id to the credentials (sorted) whose
// escrow copy is under it. Records that do not decode are left out.
func (s *Service) escrowedUnder(ctx context.Context) (map[string][]string, error) {
	kvs, _, err := s.store.List(ctx, pfxCredentials)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, kv := range kvs {
		var c credentialRecord
		if jsonUnmarshal(kv, &c) != nil || len(c.Escrow) == 0 {
			continue
		}
		out[c.EscrowID] = append(out[c.EscrowID], c.ID)
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out, nil
}

// ConfirmRotation is a custodian of the NEW key of an open rotation
// proving, before old custodians' approvals make that key current, that
// their new share file opens under their passphrase: the share is opened
// and checked against the fingerprint the rotation recorded at the
// ceremony, then cleared; only the confirmation (who, when) is stored.
// Confirming again answers the rotation unchanged (the file is checked
// again; nothing is written). Refusals, each changing nothing:
// ErrRotationNotFound, ErrRotationExpired, ErrRotationClosed (not open
// any more), ErrCustodianForbidden (not a custodian of the new key),
// ErrShareInvalid (another key's or custodian's file, altered, wrong
// passphrase).
func (s *Service) ConfirmRotation(ctx context.Context, rotationID, custodian string, file []byte, passphrase string) (*Rotation, error) {
	sf, err := ParseShareFile(file)
	if err != nil {
		return nil, err
	}
	var out *Rotation
	err = retry(ctx, func() error {
		r, rrev, err := s.loadRotation(ctx, rotationID)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if err := r.requireOpen(now); err != nil {
			return err
		}
		i := slices.IndexFunc(r.Next.Custodians, func(c EscrowCustodian) bool { return c.Name == custodian })
		if i < 0 {
			return fmt.Errorf("%w: %q is not a custodian of the new key of rotation %s", ErrCustodianForbidden, custodian, r.ID)
		}
		y, err := openCustodianShare(&r.Next, r.Next.Custodians[i], sf, passphrase)
		if err != nil {
			return err
		}
		gmcrypto.Zero(y)
		// Opening the share took a while.
		if now = s.now().UTC(); r.state(now) == RotationStateExpired {
			return fmt.Errorf("%w: %s at %s", ErrRotationExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
		}
		if slices.ContainsFunc(r.Confirmations, func(cf RotationConfirmation) bool { return cf.Custodian == custodian }) {
			out = r.toRotation(now)
			return nil
		}
		r.Confirmations = append(r.Confirmations, RotationConfirmation{Custodian: custodian, At: now})
		var b txnBuilder
		b.cond(rotationKey(r.ID), rrev)
		b.put(rotationKey(r.ID), r, r.ExpiresAt.Sub(now)+rotationGrace)
		out = r.toRotation(now)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// AbandonRotation ends a moving rotation whose move cannot be finished
// (the old key's custodians cannot approve it again): its pending shares
// are erased, it becomes abandoned, and a new rotation may be opened. The
// escrow copies still under the retired key stay there (listed in the
// answer, and by RetiredEscrows while they remain): the current custodians
// cannot recover them; each moves to the current key the next time its
// owner's PIN unlocks the key. Errors: ErrRotationNotFound,
// ErrRotationNotMoving (open: cancel it instead), ErrRotationExpired,
// ErrRotationClosed (rotated, canceled or abandoned), a *RequestError
// (reason, by).
func (s *Service) AbandonRotation(ctx context.Context, id, by, reason string) (*Rotation, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, invalid("reason", "required")
	}
	if err := checkText("reason", reason, maxRotationReasonLen, false); err != nil {
		return nil, err
	}
	if by == "" {
		return nil, invalid("by", "required")
	}
	var out *Rotation
	err := retry(ctx, func() error {
		r, rrev, err := s.loadRotation(ctx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		switch st := r.state(now); st {
		case RotationStateMoving:
		case RotationStateOpen:
			return fmt.Errorf("%w: %s is open (cancel it instead)", ErrRotationNotMoving, r.ID)
		case RotationStateExpired:
			return fmt.Errorf("%w: %s at %s", ErrRotationExpired, r.ID, r.ExpiresAt.Format(time.RFC3339))
		default:
			return fmt.Errorf("%w: %s is %s", ErrRotationClosed, r.ID, st)
		}
		under, err := s.escrowedUnder(ctx)
		if err != nil {
			return err
		}
		var b txnBuilder
		b.cond(rotationKey(r.ID), rrev)
		if err := s.closeRotationOps(ctx, &b, r, now); err != nil {
			return err
		}
		ids := under[r.From]
		r.AbandonedAt, r.AbandonedBy, r.AbandonReason = now, by, reason
		r.Stranded, r.StrandedCount = slices.Clone(ids[:min(len(ids), maxStrandedListed)]), len(ids)
		r.Approvals = []RecoveryApproval{}
		b.put(rotationKey(r.ID), r, rotationGrace)
		out = r.toRotation(now)
		return b.commitAction(ctx, s.store, out)
	})
	return out, err
}

// reEscrowCopy, for credential c whose PKCS#8 key der its owner's PIN has
// just opened, returns nil when c has no escrow copy or its copy is under
// the current escrow key; else it sets c's copy to one under the current
// key and returns the condition the write must carry (the escrow key's
// revision, so that a switch in between makes the write retry).
func (s *Service) reEscrowCopy(ctx context.Context, c *credentialRecord, der []byte) (*txnBuilder, error) {
	if len(c.Escrow) == 0 {
		return nil, nil
	}
	esc, rev, err := s.loadEscrowRev(ctx)
	if errors.Is(err, ErrEscrowNotInitialized) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if esc.ID == c.EscrowID {
		return nil, nil
	}
	cp, err := escrowCopy(esc, c.ID, der)
	if err != nil {
		return nil, err
	}
	c.Escrow, c.EscrowID = cp, esc.ID
	var b txnBuilder
	b.cond(escrowKeyKey, rev)
	return &b, nil
}
