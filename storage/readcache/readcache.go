package readcache

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// Config says what is cached and how much.
type Config struct {
	// GetPrefixes: Get of a key under one of them is cached (absent keys
	// too). End each with "/" (one record type), or "" for every key.
	GetPrefixes []string
	// ListRoots: List of a prefix ROOT + ID + "/" (one record's index,
	// such as "usercreds/USER/") is cached. End each with "/".
	ListRoots []string
	// MemoPrefixes: Get of a key under one of them, in a request's
	// context made by WithMemo, reads the store at most once per request
	// (memo.go). These keys are not cached across requests.
	MemoPrefixes []string
	// MaxEntries bounds the cached keys and listings together.
	MaxEntries int
	// RetryMin and RetryMax bound the wait before a watch that ended, or
	// could not be opened, is opened again (doubling from RetryMin).
	RetryMin, RetryMax time.Duration
	// Now is the clock expiries are checked against (time.Now if nil).
	Now func() time.Time
}

// DefaultConfig caches the records a login, sign or decrypt session reads
// on every request: issuers, credentials, users, devices, apps (and the
// key-hash index), webhooks, the escrow key's public record ("escrow/key",
// read by every unlock of an escrowed credential to see whether its copy
// must move to a rotated key; the prefix also covers the retired keys
// under "escrow/keys/"), and the users' credential and delegation
// indexes; 20,000 entries; watches re-opened after 50 ms to 2 s. Devices
// are cached because a device's signed request is consumed only while
// the device record is at the revision it was checked against
// (auth.DeviceRecords); single-use values (nonces, activation codes, QR
// nonces), revocations and CRLs are not cached, and session records only
// within one request (MemoPrefixes).
func DefaultConfig() Config {
	return Config{
		GetPrefixes:  []string{"issuers/", "credentials/", "users/", "devices/", "apps/", "apps-by-key/", "webhooks/", "escrow/key"},
		ListRoots:    []string{"usercreds/", "userdelegations/"},
		MemoPrefixes: []string{"sessions/"},
		MaxEntries:   20000,
		RetryMin:     50 * time.Millisecond,
		RetryMax:     2 * time.Second,
	}
}

// Validate names the first bad setting.
func (c Config) Validate() error {
	all := append(append([]string(nil), c.GetPrefixes...), c.ListRoots...)
	for i, p := range all {
		if err := storage.ValidatePrefix(p); err != nil {
			return fmt.Errorf("readcache: prefix %q: %w", p, err)
		}
		if i >= len(c.GetPrefixes) && (p == "" || !strings.HasSuffix(p, "/")) {
			return fmt.Errorf("%w: readcache: list root %q must end in /", storage.ErrInvalid, p)
		}
		for j, q := range all {
			if i != j && strings.HasPrefix(p, q) {
				return fmt.Errorf("%w: readcache: prefix %q lies under %q", storage.ErrInvalid, p, q)
			}
		}
	}
	for _, p := range c.MemoPrefixes {
		if err := storage.ValidatePrefix(p); err != nil {
			return fmt.Errorf("readcache: memo prefix %q: %w", p, err)
		}
		for _, q := range all {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				return fmt.Errorf("%w: readcache: memo prefix %q overlaps the cached prefix %q", storage.ErrInvalid, p, q)
			}
		}
	}
	switch {
	case c.MaxEntries < 1:
		return fmt.Errorf("%w: readcache: max entries %d must be at least 1", storage.ErrInvalid, c.MaxEntries)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: readcache: retry %s..%s must be positive and ordered", storage.ErrInvalid, c.RetryMin, c.RetryMax)
	}
	return nil
}

// Stats are the cache's counters since New.
type Stats struct {
	Hits, Misses uint64
	// Invalidations: cached entries dropped because their key changed (a
	// local write, a watch event, a failed transaction).
	Invalidations uint64
	// Flushes: times a prefix's cache was emptied because its watch ended.
	Flushes uint64
	// Watches: watches opened (one per prefix at start, then one per
	// re-opening).
	Watches uint64
	// Entries cached now.
	Entries int
}

// Store is a storage.Store that answers Get and List of the configured
// prefixes from memory when it can, and passes everything else through.
type Store struct {
	inner storage.Store
	cfg   Config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	prefixes []*prefixState
	entries  map[string]*entry // "g"+key or "l"+prefix
	lru      list.List         // of *entry, most recent first
	loads    map[string]*load  // reads of the store in flight, by entry id
	stats    Stats
}

var _ storage.Store = (*Store)(nil)

type prefixState struct {
	prefix string
	list   bool   // a list root, not a get prefix
	live   bool   // its watch is open: entries may be served and added
	epoch  uint64 // bumped at every flush
}

type entry struct {
	id      string
	found   bool         // for a get: the key exists
	kv      storage.KV   // for a get
	kvs     []storage.KV // for a list
	listRev int64        // for a list
	expires time.Time    // the earliest expiry of what it holds (zero: none)
	elem    *list.Element
}

type load struct {
	n   int    // readers in flight
	gen uint64 // bumped at every invalidation of the id meanwhile
}

// ticket is one reader's claim to cache what it reads.
type ticket struct {
	id    string
	p     *prefixState
	epoch uint64
	l     *load
	gen   uint64
}

// New returns a cache over inner and starts one watch per configured
// prefix; until a prefix's watch is open its reads go to inner. Close
// stops the watches and closes inner.
func New(inner storage.Store, cfg Config) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: readcache: nil store", storage.ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{inner: inner, cfg: cfg, ctx: ctx, cancel: cancel,
		entries: make(map[string]*entry), loads: make(map[string]*load)}
	for _, p := range cfg.GetPrefixes {
		s.prefixes = append(s.prefixes, &prefixState{prefix: p})
	}
	for _, p := range cfg.ListRoots {
		s.prefixes = append(s.prefixes, &prefixState{prefix: p, list: true})
	}
	for _, p := range s.prefixes {
		s.wg.Go(func() { s.watch(p) })
	}
	return s, nil
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Entries = len(s.entries)
	return st
}

// Live reports whether every prefix's watch is open (the cache serves).
func (s *Store) Live() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prefixes {
		if !p.live {
			return false
		}
	}
	return true
}

// prefixFor is the state of the configured prefix key lies under, of the
// kind asked for; nil if none.
func (s *Store) prefixFor(key string, isList bool) *prefixState {
	for _, p := range s.prefixes {
		if p.list == isList && strings.HasPrefix(key, p.prefix) {
			return p
		}
	}
	return nil
}

// Get implements storage.Store.
func (s *Store) Get(ctx context.Context, key string) (storage.KV, error) {
	if m := memoFrom(ctx); m != nil && s.memoized(key) {
		if err := ctx.Err(); err != nil {
			return storage.KV{}, err
		}
		return s.memoGet(ctx, m, key, false)
	}
	return s.get(ctx, key, false)
}

// GetShared implements storage.SharedGetter: a cached value, or one in
// the request's memo, is handed out without the copy Get makes of it
// (neither ever changes: a change replaces them).
func (s *Store) GetShared(ctx context.Context, key string) (storage.KV, error) {
	if m := memoFrom(ctx); m != nil && s.memoized(key) {
		if err := ctx.Err(); err != nil {
			return storage.KV{}, err
		}
		return s.memoGet(ctx, m, key, true)
	}
	return s.get(ctx, key, true)
}

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// get is Get without the memo; with lend, a cached value is returned
// itself, not a copy (GetShared).
func (s *Store) get(ctx context.Context, key string, lend bool) (storage.KV, error) {
	p := s.prefixFor(key, false)
	if p == nil {
		return s.inner.Get(ctx, key)
	}
	if err := ctx.Err(); err != nil {
		return storage.KV{}, err
	}
	id := "g" + key
	s.mu.Lock()
	if e := s.hitLocked(p, id); e != nil {
		found, kv := e.found, e.kv
		s.mu.Unlock()
		if !found {
			return storage.KV{}, storage.ErrNotFound
		}
		if !lend {
			kv.Value = bytes.Clone(kv.Value)
		}
		return kv, nil
	}
	t := s.beginLocked(p, id)
	s.mu.Unlock()

	kv, err := s.inner.Get(ctx, key)

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.endLocked(t, &entry{found: true, kv: storage.KV{Key: kv.Key, Value: bytes.Clone(kv.Value),
			Revision: kv.Revision, ExpiresAt: kv.ExpiresAt}, expires: kv.ExpiresAt})
	case errors.Is(err, storage.ErrNotFound):
		s.endLocked(t, &entry{})
	default:
		s.endLocked(t, nil)
	}
	return kv, err
}

// List implements storage.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	p := s.prefixFor(prefix, true)
	if p == nil || !strings.HasSuffix(prefix, "/") || len(prefix) <= len(p.prefix) ||
		strings.Contains(prefix[len(p.prefix):len(prefix)-1], "/") {
		return s.inner.List(ctx, prefix)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	id := "l" + prefix
	s.mu.Lock()
	if e := s.hitLocked(p, id); e != nil {
		kvs, rev := cloneKVs(e.kvs), e.listRev
		s.mu.Unlock()
		return kvs, rev, nil
	}
	t := s.beginLocked(p, id)
	s.mu.Unlock()

	kvs, rev, err := s.inner.List(ctx, prefix)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.endLocked(t, nil)
		return kvs, rev, err
	}
	e := &entry{kvs: cloneKVs(kvs), listRev: rev}
	for _, kv := range kvs {
		if !kv.ExpiresAt.IsZero() && (e.expires.IsZero() || kv.ExpiresAt.Before(e.expires)) {
			e.expires = kv.ExpiresAt
		}
	}
	s.endLocked(t, e)
	return kvs, rev, nil
}

func cloneKVs(kvs []storage.KV) []storage.KV {
	out := make([]storage.KV, len(kvs))
	for i, kv := range kvs {
		kv.Value = bytes.Clone(kv.Value)
		out[i] = kv
	}
	return out
}

// hitLocked returns the live, unexpired entry id, or nil (a miss).
func (s *Store) hitLocked(p *prefixState, id string) *entry {
	e := s.entries[id]
	if e == nil || !p.live {
		s.stats.Misses++
		return nil
	}
	if !e.expires.IsZero() && !s.cfg.Now().Before(e.expires) {
		s.removeLocked(e)
		s.stats.Misses++
		return nil
	}
	s.lru.MoveToFront(e.elem)
	s.stats.Hits++
	return e
}

// beginLocked registers a read of the store for id.
func (s *Store) beginLocked(p *prefixState, id string) ticket {
	l := s.loads[id]
	if l == nil {
		l = &load{}
		s.loads[id] = l
	}
	l.n++
	return ticket{id: id, p: p, epoch: p.epoch, l: l, gen: l.gen}
}

// endLocked ends the read of t and caches e (if not nil) when nothing
// invalidated the id since the read began and the prefix's watch has been
// open throughout.
func (s *Store) endLocked(t ticket, e *entry) {
	t.l.n--
	if t.l.n == 0 {
		delete(s.loads, t.id)
	}
	if e == nil || !t.p.live || t.p.epoch != t.epoch || t.l.gen != t.gen {
		return
	}
	if old := s.entries[t.id]; old != nil {
		s.removeLocked(old)
	}
	e.id = t.id
	e.elem = s.lru.PushFront(e)
	s.entries[t.id] = e
	for len(s.entries) > s.cfg.MaxEntries {
		s.removeLocked(s.lru.Back().Value.(*entry))
	}
}

func (s *Store) removeLocked(e *entry) {
	s.lru.Remove(e.elem)
	delete(s.entries, e.id)
}

// invalidateLocked drops id and spoils the reads of it in flight.
func (s *Store) invalidateLocked(id string) {
	if e := s.entries[id]; e != nil {
		s.removeLocked(e)
		s.stats.Invalidations++
	}
	if l := s.loads[id]; l != nil {
		l.gen++
	}
}

// invalidateKeyLocked drops key and every cached listing that holds it.
func (s *Store) invalidateKeyLocked(key string) {
	if p := s.prefixFor(key, false); p != nil {
		s.invalidateLocked("g" + key)
		return
	}
	if p := s.prefixFor(key, true); p != nil {
		for i := len(p.prefix); i < len(key); i++ {
			if key[i] == '/' {
				s.invalidateLocked("l" + key[:i+1])
			}
		}
	}
}

// flushLocked drops every entry of p and spoils the reads in flight.
func (s *Store) flushLocked(p *prefixState) {
	p.epoch++
	s.stats.Flushes++
	for id, e := range s.entries {
		if strings.HasPrefix(id[1:], p.prefix) {
			s.removeLocked(e)
		}
	}
}

// Txn implements storage.Store: the keys it writes are dropped before it
// returns; when it fails (a condition that did not hold, or an outcome
// not known), the keys of its conditions too, so a retry reads the store.
func (s *Store) Txn(ctx context.Context, ops ...storage.Op) (int64, error) {
	start := s.cfg.Now()
	rev, err := s.inner.Txn(ctx, ops...)
	if m := memoFrom(ctx); m != nil {
		s.memoTxn(m, ops, rev, err, start)
	}
	s.mu.Lock()
	for _, op := range ops {
		if op.IsWrite() || err != nil {
			s.invalidateKeyLocked(op.Key)
		}
	}
	s.mu.Unlock()
	return rev, err
}

// Update implements storage.Updater when the store below is one, dropping
// keys as Txn does (fn's reads go to the store's transaction, not the
// cache).
func (s *Store) Update(ctx context.Context, fn storage.UpdateFunc) (int64, error) {
	u, ok := s.inner.(storage.Updater)
	if !ok || !u.CanUpdate() {
		return 0, storage.ErrNoUpdate(s.inner)
	}
	var last []storage.Op
	start := s.cfg.Now()
	rev, err := u.Update(ctx, func(get storage.ReadFunc) ([]storage.Op, error) {
		ops, err := fn(get)
		last = ops
		return ops, err
	})
	if m := memoFrom(ctx); m != nil {
		s.memoTxn(m, last, rev, err, start)
	}
	s.mu.Lock()
	for _, op := range last {
		if op.IsWrite() || err != nil {
			s.invalidateKeyLocked(op.Key)
		}
	}
	s.mu.Unlock()
	return rev, err
}

// CanUpdate implements storage.Updater.
func (s *Store) CanUpdate() bool { return storage.CanUpdate(s.inner) }

// watch keeps a watch open on p and drops what it reports; when the
// watch ends it stops and flushes p's cache and opens a new one.
func (s *Store) watch(p *prefixState) {
	wait := s.cfg.RetryMin
	for {
		// Only the keys matter here: nothing is opened.
		ch, _, err := storage.WatchLazy(s.ctx, s.inner, p.prefix)
		if err == nil {
			opened := time.Now()
			s.mu.Lock()
			s.stats.Watches++
			s.flushLocked(p) // reads begun before the watch are not cached
			p.live = true
			s.mu.Unlock()
			for ev := range ch {
				s.mu.Lock()
				s.invalidateKeyLocked(ev.KV.Key)
				s.mu.Unlock()
			}
			s.mu.Lock()
			p.live = false
			s.flushLocked(p)
			s.mu.Unlock()
			if time.Since(opened) > s.cfg.RetryMax {
				wait = s.cfg.RetryMin
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}

// Watch implements storage.Store (passed through).
func (s *Store) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	return s.inner.Watch(ctx, prefix)
}

var _ storage.LazyWatcher = (*Store)(nil)

// WatchLazy implements storage.LazyWatcher (passed through).
func (s *Store) WatchLazy(ctx context.Context, prefix string) (<-chan storage.Event, storage.Opener, error) {
	return storage.WatchLazy(ctx, s.inner, prefix)
}

// Ping implements storage.Store (passed through).
func (s *Store) Ping(ctx context.Context) error { return s.inner.Ping(ctx) }

// Close stops the watches, empties the cache and closes the inner store.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	for _, p := range s.prefixes {
		p.live = false
	}
	s.entries = make(map[string]*entry)
	s.lru.Init()
	s.mu.Unlock()
	return s.inner.Close()
}

var _ storage.Compactor = (*Store)(nil)

// Compact implements storage.Compactor: it compacts the store underneath
// when that store can, and empties the cache (an erased account's records
// have left it already, by their deletion; nothing is kept past a
// compaction either).
func (s *Store) Compact(ctx context.Context) error {
	var err error
	if c, ok := s.inner.(storage.Compactor); ok {
		err = c.Compact(ctx)
	}
	s.mu.Lock()
	for _, p := range s.prefixes {
		s.flushLocked(p)
	}
	s.mu.Unlock()
	return err
}
