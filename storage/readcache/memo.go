package readcache

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// A request's memo (WithMemo) keeps, for the length of one request, the
// records under Config.MemoPrefixes that the request read or wrote: a
// session record is read by the scan's nonce check and again by the scan
// itself, and by a confirm's claim, its two checks and its completion, and
// without the memo each of these reads is a store round trip (an etcd
// Range) and an open of the sealed record.
//
// A memo is read-your-writes for its request: a Txn through the cache with
// the memo's context puts what it wrote into the memo (at the revision the
// store returned), and a Txn that fails drops every key it named, so the
// request's next read of them goes to the store. Nothing outlives the
// request, and no other request sees the memo. What the memo can miss is
// a write by another request (on this or another node) made while the
// request runs; every transition of a memoized record is a transaction
// conditioned on the revision read, so such a write makes it fail, and
// the retry reads the store.

type memoKey struct{}

type memo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	found bool
	kv    storage.KV
}

// WithMemo returns ctx carrying a new memo for one request (see above).
// Reads and writes through a Store with that context use it.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{m: make(map[string]memoEntry)})
}

func memoFrom(ctx context.Context) *memo {
	m, _ := ctx.Value(memoKey{}).(*memo)
	return m
}

// memoized reports whether key is kept in request memos.
func (s *Store) memoized(key string) bool {
	for _, p := range s.cfg.MemoPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// get returns key's entry if it is in the memo and not expired at now:
// a copy of its value, or with lend the memo's own (which the caller must
// not change).
func (m *memo) get(key string, now time.Time, lend bool) (memoEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	if !ok {
		return memoEntry{}, false
	}
	if e.found && !e.kv.ExpiresAt.IsZero() && !now.Before(e.kv.ExpiresAt) {
		delete(m.m, key)
		return memoEntry{}, false
	}
	if !lend {
		e.kv.Value = bytes.Clone(e.kv.Value)
	}
	return e, true
}

// set keeps a copy of e's value for key.
func (m *memo) set(key string, e memoEntry) {
	e.kv.Value = bytes.Clone(e.kv.Value)
	m.keep(key, e)
}

// keep keeps e for key as it is: its value must be the memo's alone and
// never change.
func (m *memo) keep(key string, e memoEntry) {
	m.mu.Lock()
	m.m[key] = e
	m.mu.Unlock()
}

func (m *memo) drop(key string) {
	m.mu.Lock()
	delete(m.m, key)
	m.mu.Unlock()
}

// memoGet is Get of a memoized key in a request with memo m.
//
// With lend (GetShared) the value is the memo's own, not a copy: the
// caller must not change it. A value read from the store for it is then
// kept without a copy (nobody else can change it).
func (s *Store) memoGet(ctx context.Context, m *memo, key string, lend bool) (storage.KV, error) {
	if e, ok := m.get(key, s.cfg.Now(), lend); ok {
		if !e.found {
			return storage.KV{}, storage.ErrNotFound
		}
		return e.kv, nil
	}
	kv, err := s.get(ctx, key, false)
	switch {
	case err == nil && lend:
		m.keep(key, memoEntry{found: true, kv: kv})
	case err == nil:
		m.set(key, memoEntry{found: true, kv: kv})
	case isNotFound(err):
		m.set(key, memoEntry{})
	}
	return kv, err
}

// memoTxn records in m what a Txn of ops did: after a commit at rev the
// memoized keys it wrote hold their new values; after a failure none of
// the keys it named is kept. start is the time the Txn began (an
// expiry counted from it is never later than the store's).
func (s *Store) memoTxn(m *memo, ops []storage.Op, rev int64, err error, start time.Time) {
	for _, op := range ops {
		if !s.memoized(op.Key) {
			continue
		}
		switch {
		case err != nil || op.IsCondition():
			if err != nil {
				m.drop(op.Key)
			}
		case op.IsPut():
			kv := storage.KV{Key: op.Key, Value: op.Value, Revision: rev}
			if op.TTL > 0 {
				kv.ExpiresAt = start.Add(op.TTL)
			}
			m.set(op.Key, memoEntry{found: true, kv: kv})
		case op.IsDelete():
			m.set(op.Key, memoEntry{})
		}
	}
}
