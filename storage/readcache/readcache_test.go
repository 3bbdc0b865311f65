package readcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// guard bounds every wait for a condition (a failure guard, not a timing).
const guard = 30 * time.Second

// waitFor polls cond until it holds or the guard passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", guard, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testConfig() readcache.Config {
	c := readcache.DefaultConfig()
	c.GetPrefixes = []string{"issuers/", "apps/"}
	c.ListRoots = []string{"usercreds/"}
	c.RetryMin, c.RetryMax = time.Millisecond, 20*time.Millisecond
	return c
}

// open returns a cache over inner whose watches are open.
func open(t *testing.T, inner storage.Store, cfg readcache.Config) *readcache.Store {
	t.Helper()
	c, err := readcache.New(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	waitFor(t, "the cache's watches", c.Live)
	return c
}

var markers atomic.Int64

// settle returns once the cache has taken in every event its watch of
// prefix had to deliver for writes made before the call: it caches the
// absence of a fresh marker key, writes the marker straight to inner (as
// another node would) and waits until the cache answers the marker's
// value. Only the marker's watch event (or a flush of the prefix) drops
// the cached absence, and a watch delivers its prefix's events in order.
func settle(t *testing.T, c *readcache.Store, inner storage.Store, prefix string) {
	t.Helper()
	mk := fmt.Sprintf("%ssettle-%d", prefix, markers.Add(1))
	waitFor(t, "the marker's absence to be cached", func() bool {
		before := c.Stats().Hits
		if v, _ := get(t, c, mk); v != "" {
			t.Fatalf("marker %s exists", mk)
		}
		return c.Stats().Hits > before
	})
	put(t, inner, mk, "m")
	waitFor(t, "the marker's watch event", func() bool { v, _ := get(t, c, mk); return v == "m" })
}

func put(t *testing.T, s storage.Store, key, value string) int64 {
	t.Helper()
	rev, err := storagetest.PutKey(context.Background(), s, key, []byte(value), 0)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func get(t *testing.T, s storage.Store, key string) (string, int64) {
	t.Helper()
	kv, err := s.Get(context.Background(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(kv.Value), kv.Revision
}

// The cache passes the storage conformance suite with every Get cached,
// and again with the listings of the suite's prefixes cached.
func TestConformance(t *testing.T) {
	for name, set := range map[string]func(*readcache.Config){
		"gets":  func(c *readcache.Config) { c.GetPrefixes, c.ListRoots, c.MemoPrefixes = []string{""}, nil, nil },
		"lists": func(c *readcache.Config) { c.GetPrefixes, c.ListRoots = nil, []string{"a/", "d/", "t/", "w/"} },
	} {
		t.Run(name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				cfg := testConfig()
				set(&cfg)
				c, err := readcache.New(storagetest.MustOpenBolt(t), cfg)
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the cache's watches", c.Live)
				return c
			})
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*readcache.Config){
		"overlap":       func(c *readcache.Config) { c.GetPrefixes = []string{"a/", "a/b/"} },
		"list no slash": func(c *readcache.Config) { c.ListRoots = []string{"x"} },
		"list empty":    func(c *readcache.Config) { c.ListRoots = []string{""} },
		"zero entries":  func(c *readcache.Config) { c.MaxEntries = 0 },
		"retry order":   func(c *readcache.Config) { c.RetryMax = c.RetryMin / 2 },
		"NUL":           func(c *readcache.Config) { c.GetPrefixes = []string{"a\x00/"} },
		"memo overlap":  func(c *readcache.Config) { c.MemoPrefixes = []string{"users/x/"} },
		"memo NUL":      func(c *readcache.Config) { c.MemoPrefixes = []string{"s\x00/"} },
	} {
		c := readcache.DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
	if err := readcache.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// A write through the cache is seen by the very next read: the cache
// drops the key before Txn returns.
func TestLocalWriteSeenAtOnce(t *testing.T) {
	inner := storagetest.MustOpenBolt(t)
	c := open(t, inner, testConfig())
	put(t, c, "issuers/a", "v1")
	// The write's own watch event may still spoil the first read's entry;
	// once it has passed, reads are hits.
	waitFor(t, "a cached read", func() bool {
		before := c.Stats().Hits
		if v, _ := get(t, c, "issuers/a"); v != "v1" {
			t.Fatalf("got %q", v)
		}
		return c.Stats().Hits > before
	})
	for i := 2; i < 50; i++ {
		want := fmt.Sprintf("v%d", i)
		rev := put(t, c, "issuers/a", want)
		if v, r := get(t, c, "issuers/a"); v != want || r != rev {
			t.Fatalf("after writing %q at %d: read %q at %d", want, rev, v, r)
		}
	}
	// Absent keys are cached too, and a create is seen at once.
	if v, _ := get(t, c, "apps/x"); v != "" {
		t.Fatal("apps/x exists")
	}
	put(t, c, "apps/x", "new")
	if v, _ := get(t, c, "apps/x"); v != "new" {
		t.Fatalf("apps/x: %q after create", v)
	}
	if _, err := storagetest.DeleteKey(context.Background(), c, "apps/x"); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, c, "apps/x"); v != "" {
		t.Fatalf("apps/x: %q after delete", v)
	}
	// A listing of one user's index follows its writes.
	put(t, c, "usercreds/u1/c1", "")
	kvs, _, err := c.List(context.Background(), "usercreds/u1/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("list: %v %v", kvs, err)
	}
	put(t, c, "usercreds/u1/c2", "")
	if kvs, _, _ = c.List(context.Background(), "usercreds/u1/"); len(kvs) != 2 {
		t.Fatalf("list after the second credential: %d keys", len(kvs))
	}
}

// heldStore is a real store whose watches can be held (events queue up
// undelivered, as on a slow network) and broken (the channel closes, as
// for a watcher that fell behind or an etcd compaction).
type heldStore struct {
	storage.Store

	mu      sync.Mutex
	held    bool
	waiters []chan struct{}
	breaks  []chan struct{}
	opened  int
}

func (h *heldStore) hold(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = on
	if !on {
		for _, w := range h.waiters {
			close(w)
		}
		h.waiters = nil
	}
}

// breakAll ends every open watch.
func (h *heldStore) breakAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.breaks {
		close(b)
	}
	h.breaks = nil
}

func (h *heldStore) Watch(ctx context.Context, prefix string) (<-chan storage.Event, error) {
	in, err := h.Store.Watch(ctx, prefix)
	if err != nil {
		return nil, err
	}
	brk := make(chan struct{})
	h.mu.Lock()
	h.breaks = append(h.breaks, brk)
	h.opened++
	h.mu.Unlock()
	out := make(chan storage.Event)
	go func() {
		defer close(out)
		for {
			var ev storage.Event
			select {
			case e, ok := <-in:
				if !ok {
					return
				}
				ev = e
			case <-brk:
				return
			case <-ctx.Done():
				return
			}
			h.mu.Lock()
			var wait chan struct{}
			if h.held {
				wait = make(chan struct{})
				h.waiters = append(h.waiters, wait)
			}
			h.mu.Unlock()
			if wait != nil {
				select {
				case <-wait:
				case <-brk:
					return // the held events are lost with the watch
				case <-ctx.Done():
					return // as a real store's watch: closed when its context ends
				}
			}
			select {
			case out <- ev:
			case <-brk:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (h *heldStore) opens() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opened
}

// Another node's write (here: straight to the inner store) reaches the
// cache through the watch. While the event is still on its way the stale
// revision cannot be used: a compare-and-swap on it fails, the failure
// drops the key, and the retry reads the store.
func TestOtherWriterAndStaleRevision(t *testing.T) {
	inner := &heldStore{Store: storagetest.MustOpenBolt(t)}
	c := open(t, inner, testConfig())
	ctx := context.Background()
	r1 := put(t, c, "issuers/a", "v1")
	// The write's own watch event would drop the entry read next; let it
	// pass first (that it arrived late caused this test's failures).
	settle(t, c, inner.Store, "issuers/")
	if _, r := get(t, c, "issuers/a"); r != r1 {
		t.Fatal("revision")
	}

	inner.hold(true)
	r2 := put(t, inner.Store, "issuers/a", "v2") // another node
	if v, r := get(t, c, "issuers/a"); v != "v1" || r != r1 {
		t.Fatalf("the held event already arrived: %q %d", v, r)
	}
	_, err := storage.CompareAndSwap(ctx, c, "issuers/a", r1, []byte("mine"), 0)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CAS on the stale revision: %v", err)
	}
	if v, r := get(t, c, "issuers/a"); v != "v2" || r != r2 {
		t.Fatalf("after the conflict: %q at %d, want v2 at %d", v, r, r2)
	}
	// A conditions-only transaction (as a key use checks its records) too.
	r3 := put(t, inner.Store, "issuers/a", "v3")
	if _, r := get(t, c, "issuers/a"); r != r2 {
		t.Fatal("the held event arrived")
	}
	if _, err := c.Txn(ctx, storage.IfRevision("issuers/a", r2)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("condition on the stale revision: %v", err)
	}
	if _, r := get(t, c, "issuers/a"); r != r3 {
		t.Fatal("not re-read after the failed condition")
	}

	r4 := put(t, inner.Store, "issuers/a", "v4")
	inner.hold(false)
	waitFor(t, "the watch to deliver v4", func() bool { _, r := get(t, c, "issuers/a"); return r == r4 })
}

// A watch that ends flushes the prefix: nothing it may have missed is
// served, the prefix reads the store until a new watch is open, and then
// it is cached again.
func TestBrokenWatchFlushes(t *testing.T) {
	inner := &heldStore{Store: storagetest.MustOpenBolt(t)}
	c := open(t, inner, testConfig())
	put(t, c, "issuers/a", "v1")
	get(t, c, "issuers/a")
	opens := inner.opens()

	inner.hold(true)
	r2 := put(t, inner.Store, "issuers/a", "v2") // its event is lost with the watch
	inner.breakAll()
	waitFor(t, "the watches to be opened again", func() bool { return inner.opens() >= opens+3 && c.Live() })
	inner.hold(false)
	if v, r := get(t, c, "issuers/a"); v != "v2" || r != r2 {
		t.Fatalf("after the watch broke: %q at %d", v, r)
	}
	st := c.Stats()
	if st.Flushes < 6 { // one per prefix at the start, one per end
		t.Fatalf("stats %+v", st)
	}
	before := st.Hits
	get(t, c, "issuers/a")
	if c.Stats().Hits != before+1 {
		t.Fatal("not cached again after the new watch")
	}
}

// A cached key with a TTL is not served from its expiry on.
func TestExpiry(t *testing.T) {
	inner := storagetest.MustOpenBolt(t)
	var mu sync.Mutex
	now := time.Now()
	cfg := testConfig()
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := open(t, inner, cfg)
	if _, err := storagetest.PutKey(context.Background(), c, "apps/t", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	get(t, c, "apps/t")
	get(t, c, "apps/t")
	hits := c.Stats().Hits
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	get(t, c, "apps/t")
	if st := c.Stats(); st.Hits != hits {
		t.Fatalf("an expired entry was served: %+v", st)
	}
}

// The cache never holds more than MaxEntries.
func TestBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxEntries = 10
	c := open(t, storagetest.MustOpenBolt(t), cfg)
	for i := range 100 {
		k := fmt.Sprintf("apps/%03d", i)
		put(t, c, k, k)
		if v, _ := get(t, c, k); v != k {
			t.Fatal(v)
		}
		if _, _, err := c.List(context.Background(), fmt.Sprintf("usercreds/u%d/", i)); err != nil {
			t.Fatal(err)
		}
		if n := c.Stats().Entries; n > cfg.MaxEntries {
			t.Fatalf("%d entries", n)
		}
	}
	for i := range 100 { // evicted or not, every answer is right
		k := fmt.Sprintf("apps/%03d", i)
		if v, _ := get(t, c, k); v != k {
			t.Fatal(v)
		}
	}
}

// Readers and writers race (run with -race): when the writers are done
// and the watch has caught up, every cached answer is the store's.
func TestConcurrentReadersWriters(t *testing.T) {
	inner := storagetest.MustOpenBolt(t)
	c := open(t, inner, testConfig())
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 30 {
				k := fmt.Sprintf("issuers/%d", i%5)
				var s storage.Store = c
				if w%2 == 1 {
					s = inner // the other node
				}
				if _, err := storagetest.PutKey(ctx, s, k, []byte(fmt.Sprintf("%d-%d", w, i)), 0); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := c.Get(ctx, fmt.Sprintf("issuers/%d", i%5)); err != nil && !errors.Is(err, storage.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	settle(t, c, inner, "issuers/")
	for i := range 5 {
		k := fmt.Sprintf("issuers/%d", i)
		v, r := get(t, c, k)
		v2, r2 := get(t, inner, k)
		if v != v2 || r != r2 {
			t.Errorf("%s: cached %q@%d, store %q@%d", k, v, r, v2, r2)
		}
	}
}

// An Update through the cache is the store's Update (the cache over a
// store without one cannot), and the keys it writes are read anew at once.
func TestUpdateDropsWrittenKeys(t *testing.T) {
	inner := storagetest.MustOpenBolt(t)
	c := open(t, inner, testConfig())
	if !storage.CanUpdate(c) {
		t.Fatal("the cache over bbolt runs no Update")
	}
	put(t, c, "issuers/a", "v1")
	waitFor(t, "a cached read", func() bool {
		before := c.Stats().Hits
		get(t, c, "issuers/a")
		return c.Stats().Hits > before
	})
	for i := 2; i < 20; i++ {
		want := fmt.Sprintf("v%d", i)
		rev, err := c.Update(context.Background(), func(read storage.ReadFunc) ([]storage.Op, error) {
			kv, err := read("issuers/a")
			if err != nil {
				return nil, err
			}
			if string(kv.Value) != fmt.Sprintf("v%d", i-1) {
				return nil, fmt.Errorf("update read %q", kv.Value)
			}
			return []storage.Op{storage.Put("issuers/a", []byte(want), 0)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, r := get(t, c, "issuers/a"); v != want || r != rev {
			t.Fatalf("after updating to %q at %d: read %q at %d", want, rev, v, r)
		}
	}
	plain := open(t, struct{ storage.Store }{inner}, testConfig())
	if storage.CanUpdate(plain) {
		t.Fatal("the cache over a store without Update claims one")
	}
	if _, err := plain.Update(context.Background(), func(storage.ReadFunc) ([]storage.Op, error) { return nil, nil }); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("Update over a store without one: %v, want ErrInvalid", err)
	}
}
