package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/ukeygate/ukeygate/storage"
)

// ReservedPrefix holds the vault's own records, stored unsealed and never
// writable through the sealed view.
const ReservedPrefix = "vault/"

func reserved(key string) bool { return strings.HasPrefix(key, ReservedPrefix) }

// sealedStore is the storage.Store every part of the gateway uses: values
// are sealed under write on the way in and opened with any key of read on
// the way out. Keys, revisions, TTLs and conditions pass through.
type sealedStore struct {
	inner storage.Store
	write *masterKeys
	read  keySet
}

var _ storage.Store = (*sealedStore)(nil)

func (s *sealedStore) openKV(kv storage.KV) (storage.KV, error) {
	if reserved(kv.Key) {
		return kv, nil
	}
	pt, err := s.read.open(kv.Key, kv.Value)
	if err != nil {
		return storage.KV{}, err
	}
	kv.Value = pt
	return kv, nil
}

// Get implements storage.Store.
func (s *sealedStore) Get(ctx context.Context, key string) (storage.KV, error) {
	kv, err := s.inner.Get(ctx, key)
	if err != nil {
		return kv, err
	}
	return s.openKV(kv)
}

// List implements storage.Store.
func (s *sealedStore) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	kvs, rev, err := s.inner.List(ctx, prefix)
	if err != nil {
		return nil, 0, err
	}
	for i := range kvs {
		if kvs[i], err = s.openKV(kvs[i]); err != nil {
			return nil, 0, err
		}
	}
	return kvs, rev, nil
}

// Txn implements storage.Store.
func (s *sealedStore) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	if err := storage.ValidateTxn(ops); err != nil {
		return 0, err
	}
	sealed, err := s.seal(ops)
	if err != nil {
		return 0, err
	}
	return s.inner.Txn(ctx, sealed...)
}

// seal returns ops with every put's value sealed; a write of a reserved
// key fails with ErrReserved.
func (s *sealedStore) seal(ops []storage.Op) ([]storage.Op, error) {
	sealed := make([]storage.Op, len(ops))
	for i, op := range ops {
		if op.IsWrite() && reserved(op.Key) {
			return nil, fmt.Errorf("%w: %s", ErrReserved, op.Key)
		}
		if op.IsPut() {
			v, err := s.write.sealValue(op.Key, op.Value)
			if err != nil {
				return nil, err
			}
			op = storage.Put(op.Key, v, op.TTL)
		}
		sealed[i] = op
	}
	return sealed, nil
}

// Update implements storage.Updater when the store below is one: fn reads
// opened values and its puts are sealed, as through Get and Txn.
func (s *sealedStore) Update(ctx context.Context, fn storage.UpdateFunc) (int64, error) {
	u, ok := s.inner.(storage.Updater)
	if !ok || !u.CanUpdate() {
		return 0, storage.ErrNoUpdate(s.inner)
	}
	return u.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		ops, err := fn(func(key string) (storage.KV, error) {
			kv, err := get(key)
			if err != nil {
				return kv, err
			}
			return s.openKV(kv)
		})
		if err != nil {
			return nil, err
		}
		return s.seal(ops)
	})
}

// CanUpdate implements storage.Updater.
func (s *sealedStore) CanUpdate() bool { return storage.CanUpdate(s.inner) }

// Watch implements storage.Store. A value that cannot be opened ends the
// watch (the channel closes, as for a watcher that fell behind): the
// watcher re-lists and gets the error there.
func (s *sealedStore) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	in, err := s.inner.Watch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(chan storage.Event, cap(in))
	go func() {
		defer close(out)
		for ev := range in {
			if ev.Type == storage.EventPut {
				kv, err := s.openKV(ev.KV)
				if err != nil {
					return
				}
				ev.KV = kv
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				// Drain so the inner watcher is not blocked until it sees ctx.
				for range in {
				}
				return
			}
		}
	}()
	return out, nil
}

var _ storage.LazyWatcher = (*sealedStore)(nil)

// WatchLazy implements storage.LazyWatcher: the events carry the sealed
// values as the store below delivers them, and open opens one (a reserved
// key's value is not sealed and comes back as it is). Nothing is opened
// for a watcher that does not ask, and a damaged value fails its own
// open, where Watch ends the watch.
func (s *sealedStore) WatchLazy(ctx context.Context, prefix string) (<-chan storage.Event, storage.Opener, error) {
	ch, open, err := storage.WatchLazy(ctx, s.inner, prefix)
	if err != nil {
		return nil, nil, err
	}
	return ch, func(key string, value []byte) ([]byte, error) {
		// The store below may transform its values too (it does not, today).
		v, err := open(key, value)
		if err != nil || reserved(key) {
			return v, err
		}
		return s.read.open(key, v)
	}, nil
}

// Ping implements storage.Store.
func (s *sealedStore) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

// Close implements storage.Store: it closes the underlying store.
func (s *sealedStore) Close() error { return s.inner.Close() }
