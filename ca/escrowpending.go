package ca

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// The pending-share ledger of an escrow key. A custodian's share that
// waits for the others (a recovery's or a rotation's, below its
// threshold) is sealed in the store under a key derived from the master
// key, so whoever holds the store and the master key can open it. Each
// request keeps fewer than threshold shares, but several requests of the
// same escrow key together could hold threshold shares of distinct
// custodians, and then the store and the master key alone would rebuild
// the escrow key. The ledger (escrow/pending/<escrow>) lists, per escrow
// key, which custodian has a share waiting in which request and until
// when; a share is kept pending only while the distinct custodians with a
// live pending share, itself included, stay below the threshold
// (ErrSharesPending otherwise: complete one of the open requests
// instead). Every pending share's write conditions on the ledger's
// revision and updates it; a request that completes or ends takes its
// entries out in the same transaction; an entry counts until its share's
// TTL has ended and the store has had time to sweep it
// (pendingSweepMargin).

const pfxPendingLedger = "escrow/pending/" // escrow/pending/<escrow>: custodians with pending shares

// pendingSweepMargin is how long past its expiry an entry still counts:
// the store deletes an expired share within its sweep interval (a second
// on bbolt, a lease's expiry on etcd), not at the instant.
const pendingSweepMargin = time.Minute

type pendingEntry struct {
	Custodian string    `json:"custodian"`
	Request   string    `json:"request"` // rcv_… or rot_…
	ExpiresAt time.Time `json:"expires_at"`
}

type pendingLedger struct {
	Entries []pendingEntry `json:"entries"`
}

func pendingLedgerKey(escrowID string) string { return pfxPendingLedger + escrowID }

// loadPendingLedger reads escrowID's ledger with its revision (0 when it
// does not exist yet) and drops the entries expired at now.
func (s *Service) loadPendingLedger(ctx context.Context, escrowID string, now time.Time) (*pendingLedger, int64, error) {
	var l pendingLedger
	rev, err := s.getJSON(ctx, pendingLedgerKey(escrowID), &l)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, 0, err
	}
	l.Entries = slices.DeleteFunc(l.Entries, func(e pendingEntry) bool { return !now.Before(e.ExpiresAt.Add(pendingSweepMargin)) })
	return &l, rev, nil
}

// addPending adds to b, for a share of custodian kept pending in request
// until expires, the ledger's update, or refuses with ErrSharesPending
// when that would give threshold distinct custodians a pending share of
// escrowID. reqKey and reqRev are the request's record as the caller read
// it: a refusal made on a record that has moved since (another approval
// of the same request committed meanwhile, its entry in the ledger) is
// storage.ErrConflict instead, and the caller reads again.
func (s *Service) addPending(ctx context.Context, b *txnBuilder, escrowID string, threshold int, custodian, request, reqKey string, reqRev int64, expires, now time.Time) error {
	l, rev, err := s.loadPendingLedger(ctx, escrowID, now)
	if err != nil {
		return err
	}
	holders := map[string]bool{custodian: true}
	for _, e := range l.Entries {
		holders[e.Custodian] = true
	}
	if len(holders) >= threshold {
		if moved, err := s.moved(ctx, reqKey, reqRev); err != nil {
			return err
		} else if moved {
			return fmt.Errorf("%w: %s changed while its share was checked", storage.ErrConflict, request)
		}
		return fmt.Errorf("%w: %d custodians of escrow key %s already have a share waiting in another request; approve one of those instead, or wait until it completes or expires",
			ErrSharesPending, len(holders)-1, escrowID)
	}
	l.Entries = append(l.Entries, pendingEntry{Custodian: custodian, Request: request, ExpiresAt: expires})
	b.cond(pendingLedgerKey(escrowID), rev)
	b.put(pendingLedgerKey(escrowID), l, 0)
	return nil
}

// moved reports whether key's record is no longer at revision rev (or is
// gone): what the caller read with it may be stale, so it retries
// (storage.ErrConflict) rather than refuse on it.
func (s *Service) moved(ctx context.Context, key string, rev int64) (bool, error) {
	kv, err := s.store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return kv.Revision != rev, nil
}

// dropPending adds to b the removal of request's entries from escrowID's
// ledger (the request completed or ended and its pending shares are
// erased in the same transaction).
func (s *Service) dropPending(ctx context.Context, b *txnBuilder, escrowID, request string, now time.Time) error {
	l, rev, err := s.loadPendingLedger(ctx, escrowID, now)
	if err != nil {
		return err
	}
	if rev == 0 {
		return nil
	}
	l.Entries = slices.DeleteFunc(l.Entries, func(e pendingEntry) bool { return e.Request == request })
	b.cond(pendingLedgerKey(escrowID), rev)
	b.put(pendingLedgerKey(escrowID), l, 0)
	return nil
}
