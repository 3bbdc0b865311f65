package vault

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
	sc := getScratch()
	defer putScratch(sc)
	sealed, err := s.seal(ops, sc)
	if err != nil {
		return 0, err
	}
	return s.inner.Txn(ctx, sealed...)
}

// sealScratch holds what sealing one transaction's puts makes: the sealed
// ops, and one buffer with every put's key (the additional data) and
// sealed value. The store below copies what it keeps before Txn or
// Update returns (storage.Store's contract: a caller may reuse its slices
// then; the conformance suite's CallerReusesValue checks it), so the
// sealed values live no longer than that call and the scratch goes back
// to a pool when it returns (TestSealScratchReuse).
type sealScratch struct {
	ops []storage.Op
	buf []byte
}

var scratchPool = sync.Pool{New: func() any { return new(sealScratch) }}

// Scratch larger than this is not pooled (a rare large value would
// otherwise stay in every pooled scratch it passed through).
const (
	maxPooledBuf = 64 << 10
	maxPooledOps = 64
)

func getScratch() *sealScratch { return scratchPool.Get().(*sealScratch) }

// putScratch pools sc again, keeping neither the keys nor the values of
// the ops it held alive.
func putScratch(sc *sealScratch) {
	clear(sc.ops[:cap(sc.ops)])
	if cap(sc.ops) > maxPooledOps {
		sc.ops = nil
	}
	if cap(sc.buf) > maxPooledBuf {
		sc.buf = nil
	}
	scratchPool.Put(sc)
}

// seal returns ops with every put's value sealed, in sc (valid until sc
// is pooled again); a write of a reserved key fails with ErrReserved.
func (s *sealedStore) seal(ops []storage.Op, sc *sealScratch) ([]storage.Op, error) {
	need := 0
	for _, op := range ops {
		if op.IsWrite() && reserved(op.Key) {
			return nil, fmt.Errorf("%w: %s", ErrReserved, op.Key)
		}
		if op.IsPut() {
			need += len(op.Key) + sealedLen(len(op.Value))
		}
	}
	if cap(sc.buf) < need {
		sc.buf = make([]byte, 0, need)
	}
	// Every value is sealed within buf's capacity: buf never moves, and
	// each sealed value is a slice of it capped at its own end.
	buf := sc.buf[:0]
	sealed := append(sc.ops[:0], ops...)
	for i, op := range sealed {
		if !op.IsPut() {
			continue
		}
		k := len(buf)
		buf = append(buf, op.Key...)
		v := len(buf)
		var err error
		if buf, err = s.write.appendSealed(buf, buf[k:v:v], op.Value); err != nil {
			return nil, err
		}
		sealed[i] = storage.Put(op.Key, buf[v:len(buf):len(buf)], op.TTL)
	}
	sc.ops = sealed
	return sealed, nil
}

// Update implements storage.Updater when the store below is one: fn reads
// opened values and its puts are sealed, as through Get and Txn. fn may
// run more than once: each run seals into scratch of its own, all of it
// pooled again when Update returns.
func (s *sealedStore) Update(ctx context.Context, fn storage.UpdateFunc) (int64, error) {
	u, ok := s.inner.(storage.Updater)
	if !ok || !u.CanUpdate() {
		return 0, storage.ErrNoUpdate(s.inner)
	}
	var runs struct {
		first *sealScratch
		more  []*sealScratch // a run after the first (rare)
	}
	defer func() {
		if runs.first != nil {
			putScratch(runs.first)
		}
		for _, sc := range runs.more {
			putScratch(sc)
		}
	}()
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
		sc := getScratch()
		if runs.first == nil {
			runs.first = sc
		} else {
			runs.more = append(runs.more, sc)
		}
		return s.seal(ops, sc)
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
