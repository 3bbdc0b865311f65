package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Updater is a Store that can run a read-modify-write as one transaction
// (Update). The bbolt store is one; a wrapper of a Store (the vault's
// sealed view, the record cache) has the methods whatever it wraps, and
// CanUpdate tells whether the store below has them: when it does not,
// Update fails with ErrInvalid and callers use Txn with conditions.
type Updater interface {
	Update(ctx context.Context, fn UpdateFunc) (int64, error)
	CanUpdate() bool
}

var _ Updater = (*Bolt)(nil)

// CanUpdate reports whether s is an Updater whose Update works.
func CanUpdate(s Store) bool {
	u, ok := s.(Updater)
	return ok && u.CanUpdate()
}

// ErrNoUpdate returns the error of Update on a store that cannot (a
// wrapper over one that is no Updater).
func ErrNoUpdate(s any) error {
	return fmt.Errorf("%w: %T runs no update inside one transaction", ErrInvalid, s)
}

// ReadFunc reads one key inside an Update's transaction: the value as the
// transaction sees it (writes of earlier transactions of the same commit
// included), or ErrNotFound.
type ReadFunc func(key string) (KV, error)

// UpdateFunc is the body of an Update: it reads what it needs with get and
// returns the operations to apply (writes and conditions, as for Txn). It
// may run more than once (the group commit re-runs a batch whose other
// member failed), so it must set every result anew on each run and must
// not keep what get returned beyond its return. An error it returns fails
// the Update alone, with that error; nothing of it is written.
type UpdateFunc func(get ReadFunc) ([]Op, error)

// Update runs fn inside one write transaction and applies the operations
// it returns, with the guarantees of Txn (a failed condition writes
// nothing and returns ErrConflict; the writes share one new revision).
// Nothing else writes between fn's reads and its writes, so a chain of
// records (the audit log's head) can be extended without a revision check
// and its retries: concurrent Updates and Txns share the group commit's
// one transaction and fsync, in the order the committer runs them. fn
// runs while the store's single writer is held: keep it short and never
// make it wait on anything else.
func (b *Bolt) Update(ctx context.Context, fn UpdateFunc) (int64, error) {
	if err := b.enter(); err != nil {
		return 0, err
	}
	defer b.life.RUnlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var res txnResult
	var fnErr error
	err := b.commits.do(func(tx *bolt.Tx) error {
		res, fnErr = txnResult{}, nil
		kvb := tx.Bucket(bucketKV)
		get := func(key string) (KV, error) {
			if err := ValidateKey(key); err != nil {
				return KV{}, err
			}
			e, found, err := b.readEnvelope(kvb, key)
			if err != nil {
				return KV{}, err
			}
			if !found || e.expired(time.Now().UnixNano()) {
				return KV{}, ErrNotFound
			}
			return e.kv(key), nil
		}
		ops, err := fn(get)
		if err == nil {
			err = ValidateTxn(ops)
		}
		if err != nil {
			fnErr = err
			return err
		}
		res, err = b.applyTxn(tx, ops)
		return err
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, b.backendErr(err)
	}
	if res.conflict {
		return 0, ErrConflict
	}
	return res.rev, nil
}

// CanUpdate reports that Update runs its function inside one transaction
// (wrappers of a Store report their inner store's answer).
func (b *Bolt) CanUpdate() bool { return true }
