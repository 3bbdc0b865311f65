package storagetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// PutKey writes one key unconditionally (tests set up or tamper with
// records with it).
func PutKey(ctx context.Context, s storage.Store, key string, value []byte, ttl time.Duration) (int64, error) {
	return s.Txn(ctx, storage.Put(key, value, ttl))
}

// DeleteKey removes one key.
func DeleteKey(ctx context.Context, s storage.Store, key string) (int64, error) {
	return s.Txn(ctx, storage.Delete(key))
}

// Deadline bounds every wait of the suite (an event, a TTL expiry, a closed
// channel). It is a failure guard, not an expectation.
const Deadline = 30 * time.Second

// shortTTL is the TTL the suite's expiry tests use.
const shortTTL = time.Second

// TestBoltConfig is the bbolt configuration for tests: the file path in dir
// and a 100 ms sweep, so that expiry events come quickly.
func TestBoltConfig(dir string) storage.BoltConfig {
	cfg := storage.DefaultBoltConfig()
	cfg.Path = filepath.Join(dir, "ukeygate.db")
	cfg.SweepInterval = 100 * time.Millisecond
	return cfg
}

// MustOpenBolt opens a bbolt store in a new t.TempDir() with TestBoltConfig
// and closes it in t.Cleanup.
func MustOpenBolt(t testing.TB) *storage.Bolt {
	t.Helper()
	s, err := storage.OpenBolt(TestBoltConfig(t.TempDir()))
	if err != nil {
		t.Fatalf("storagetest: open bbolt store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storagetest: close bbolt store: %v", err)
		}
	})
	return s
}

// MustOpen is MustOpenBolt as a storage.Store: the store other packages'
// tests use.
func MustOpen(t testing.TB) storage.Store { return MustOpenBolt(t) }

// Run runs the conformance suite. open must return a new store whose key
// space is empty; every subtest calls it, and the suite closes the store
// when the subtest ends (Close must be idempotent).
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name     string
		parallel bool // slow (waits for a TTL): run alongside the others
		fn       func(t *testing.T, s storage.Store)
	}{
		{"GetMissing", false, testGetMissing},
		{"PutGet", false, testPutGet},
		{"Overwrite", false, testOverwrite},
		{"Delete", false, testDelete},
		{"ListPrefix", false, testListPrefix},
		{"RevisionMonotonic", false, testRevisionMonotonic},
		{"CreateExisting", false, testCreateExisting},
		{"CompareAndSwap", false, testCompareAndSwap},
		{"TxnAtomic", false, testTxnAtomic},
		{"TxnMultiOp", false, testTxnMultiOp},
		{"Invalid", false, testInvalid},
		{"LargeValue", false, testLargeValue},
		{"CallerReusesValue", false, testCallerReusesValue},
		{"ConcurrentCAS", false, testConcurrentCAS},
		{"ConcurrentCreate", false, testConcurrentCreate},
		{"ConcurrentIncrement", false, testConcurrentIncrement},
		{"WatchOrder", false, testWatchOrder},
		{"WatchStartsAtCall", false, testWatchStartsAtCall},
		{"WatchConcurrentWriters", false, testWatchConcurrentWriters},
		{"WatchCancel", false, testWatchCancel},
		{"WatchLazy", false, testWatchLazy},
		{"WatchTTLExpiry", true, testWatchTTLExpiry},
		{"TTL", true, testTTL},
		{"TTLInvisibleAtExpiry", true, testTTLInvisibleAtExpiry},
		{"ContextCanceled", false, testContextCanceled},
		{"Ping", false, testPing},
		{"Closed", false, testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.parallel {
				t.Parallel()
			}
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// ctxFor returns a context that ends with the test or after Deadline.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*Deadline)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, s storage.Store, key, value string, ttl time.Duration) int64 {
	t.Helper()
	rev, err := PutKey(ctxFor(t), s, key, []byte(value), ttl)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	if rev <= 0 {
		t.Fatalf("put %q: revision %d, want > 0", key, rev)
	}
	return rev
}

func mustGet(t *testing.T, s storage.Store, key string) storage.KV {
	t.Helper()
	kv, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return kv
}

func mustMissing(t *testing.T, s storage.Store, key string) {
	t.Helper()
	kv, err := s.Get(ctxFor(t), key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get %q = %q rev %d, %v; want ErrNotFound", key, kv.Value, kv.Revision, err)
	}
}

func mustList(t *testing.T, s storage.Store, prefix string) ([]storage.KV, int64) {
	t.Helper()
	kvs, rev, err := s.List(ctxFor(t), prefix)
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return kvs, rev
}

// snapshot renders every live key for before/after comparisons.
func snapshot(t *testing.T, s storage.Store) string {
	t.Helper()
	kvs, _ := mustList(t, s, "")
	var b strings.Builder
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s=%q@%d exp=%d\n", kv.Key, kv.Value, kv.Revision, kv.ExpiresAt.UnixNano())
	}
	return b.String()
}

// waitFor polls cond until it holds, failing the test after Deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", Deadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recv reads n events from ch, failing if it closes or Deadline passes.
func recv(t *testing.T, ch <-chan storage.Event, n int) []storage.Event {
	t.Helper()
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	var evs []storage.Event
	for len(evs) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed after %d of %d events: %v", len(evs), n, evs)
			}
			evs = append(evs, ev)
		case <-timer.C:
			t.Fatalf("timed out after %d of %d events: %v", len(evs), n, evs)
		}
	}
	return evs
}

// waitClosed drains ch until it is closed, failing after Deadline.
func waitClosed(t *testing.T, ch <-chan storage.Event) {
	t.Helper()
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("watch channel not closed after %s", Deadline)
		}
	}
}

func testGetMissing(t *testing.T, s storage.Store) {
	mustMissing(t, s, "missing")
	mustPut(t, s, "a/b", "x", 0)
	for _, k := range []string{"a", "a/", "a/b/", "a/bc", "A/b"} {
		mustMissing(t, s, k)
	}
}

func testPutGet(t *testing.T, s storage.Store) {
	tests := []struct {
		name, key string
		value     []byte
	}{
		{"plain", "users/u1", []byte(`{"name":"Zhang San"}`)},
		{"empty value", "empty", nil},
		{"binary value", "bin", []byte{0, 1, 2, 0xff, 0}},
		{"unicode key", "用户/张三", []byte("v")},
		{"key with spaces and slashes", "a b//c/", []byte("v")},
		{"longest key", strings.Repeat("k", storage.MaxKeyLen), []byte("v")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			value := bytes.Clone(tc.value)
			rev, err := PutKey(ctxFor(t), s, tc.key, value, 0)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if len(value) > 0 {
				value[0] ^= 0xff // the store must have kept its own copy
			}
			kv := mustGet(t, s, tc.key)
			if kv.Key != tc.key || !bytes.Equal(kv.Value, tc.value) || kv.Revision != rev || !kv.ExpiresAt.IsZero() {
				t.Fatalf("get = {%q %q rev %d exp %v}, want {%q %q rev %d no expiry}",
					kv.Key, kv.Value, kv.Revision, kv.ExpiresAt, tc.key, tc.value, rev)
			}
			if len(kv.Value) > 0 {
				kv.Value[0] ^= 0xff // nor may a caller change it through a read
				if again := mustGet(t, s, tc.key); !bytes.Equal(again.Value, tc.value) {
					t.Fatalf("value changed through a returned slice: %q", again.Value)
				}
			}
		})
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	r1 := mustPut(t, s, "k", "v1", 0)
	r2 := mustPut(t, s, "k", "v2", 0)
	if r2 <= r1 {
		t.Fatalf("second put revision %d <= first %d", r2, r1)
	}
	if kv := mustGet(t, s, "k"); string(kv.Value) != "v2" || kv.Revision != r2 {
		t.Fatalf("get = %q rev %d, want v2 rev %d", kv.Value, kv.Revision, r2)
	}
	// A TTL set by one put is gone after a put without TTL.
	mustPut(t, s, "k", "v3", time.Hour)
	if kv := mustGet(t, s, "k"); kv.ExpiresAt.IsZero() {
		t.Fatal("put with TTL: ExpiresAt is zero")
	}
	mustPut(t, s, "k", "v4", 0)
	if kv := mustGet(t, s, "k"); !kv.ExpiresAt.IsZero() {
		t.Fatalf("put without TTL kept ExpiresAt %v", kv.ExpiresAt)
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := mustPut(t, s, "d/1", "x", 0)
	mustPut(t, s, "d/2", "y", 0)
	rd, err := DeleteKey(ctx, s, "d/1")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if rd <= r1 {
		t.Fatalf("delete revision %d <= put revision %d", rd, r1)
	}
	mustMissing(t, s, "d/1")
	if kvs, _ := mustList(t, s, "d/"); len(kvs) != 1 || kvs[0].Key != "d/2" {
		t.Fatalf("list after delete = %v, want only d/2", kvs)
	}
	if _, err := DeleteKey(ctx, s, "d/1"); err != nil {
		t.Fatalf("deleting a missing key: %v, want nil", err)
	}
	if _, err := DeleteKey(ctx, s, "never"); err != nil {
		t.Fatalf("deleting a never written key: %v, want nil", err)
	}
	// Deleted keys can be created again.
	if _, err := storage.Create(ctx, s, "d/1", []byte("again"), 0); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

func testListPrefix(t *testing.T, s storage.Store) {
	keys := []string{"a", "a/b", "a/b/c", "a/bc", "a/c", "ab", "b/a", "a/é", "a/b\x7f"}
	revs := map[string]int64{}
	for _, k := range keys {
		revs[k] = mustPut(t, s, k, "v:"+k, 0)
	}
	last := revs[keys[len(keys)-1]]
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/b", []string{"a/b", "a/b/c", "a/bc", "a/b\x7f"}},
		{"a/b/", []string{"a/b/c"}},
		{"a/", []string{"a/b", "a/b/c", "a/bc", "a/b\x7f", "a/c", "a/é"}},
		{"a", []string{"a", "a/b", "a/b/c", "a/bc", "a/b\x7f", "a/c", "a/é", "ab"}},
		{"a/b/c", []string{"a/b/c"}},
		{"a/b/c/", nil},
		{"b", []string{"b/a"}},
		{"zz", nil},
		{"", []string{"a", "a/b", "a/b/c", "a/bc", "a/b\x7f", "a/c", "a/é", "ab", "b/a"}},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.prefix), func(t *testing.T) {
			kvs, rev := mustList(t, s, tc.prefix)
			var got []string
			for _, kv := range kvs {
				got = append(got, kv.Key)
				if string(kv.Value) != "v:"+kv.Key || kv.Revision != revs[kv.Key] {
					t.Errorf("%q = %q rev %d, want %q rev %d", kv.Key, kv.Value, kv.Revision, "v:"+kv.Key, revs[kv.Key])
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("list %q = %q, want %q", tc.prefix, got, tc.want)
			}
			if rev < last {
				t.Fatalf("list revision %d < last write's %d", rev, last)
			}
		})
	}
}

func testRevisionMonotonic(t *testing.T, s storage.Store) {
	var prev int64
	for i := range 20 {
		key := "m/" + strconv.Itoa(i%3)
		rev := mustPut(t, s, key, strconv.Itoa(i), 0)
		if rev <= prev {
			t.Fatalf("write %d: revision %d <= previous %d", i, rev, prev)
		}
		if kv := mustGet(t, s, key); kv.Revision != rev {
			t.Fatalf("write %d: key revision %d, Txn returned %d", i, kv.Revision, rev)
		}
		if _, lrev := mustList(t, s, "m/"); lrev < rev {
			t.Fatalf("write %d: list revision %d < write's %d", i, lrev, rev)
		}
		prev = rev
	}
}

func testCreateExisting(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	rev, err := storage.Create(ctx, s, "c", []byte("first"), 0)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	before := snapshot(t, s)
	if _, err := storage.Create(ctx, s, "c", []byte("second"), 0); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("create on existing key: %v, want ErrConflict", err)
	}
	if kv := mustGet(t, s, "c"); string(kv.Value) != "first" || kv.Revision != rev {
		t.Fatalf("after failed create: %q rev %d, want first rev %d", kv.Value, kv.Revision, rev)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("failed create changed the store:\n%s\nwant\n%s", after, before)
	}
}

func testCompareAndSwap(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	r1 := mustPut(t, s, "cas", "v1", 0)
	r2, err := storage.CompareAndSwap(ctx, s, "cas", r1, []byte("v2"), 0)
	if err != nil {
		t.Fatalf("CAS with current revision: %v", err)
	}
	if r2 <= r1 {
		t.Fatalf("CAS revision %d <= %d", r2, r1)
	}
	tests := []struct {
		name string
		key  string
		rev  int64
	}{
		{"stale revision", "cas", r1},
		{"future revision", "cas", r2 + 1000},
		{"absent expected, key exists", "cas", 0},
		{"revision on a missing key", "missing", r1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			if _, err := storage.CompareAndSwap(ctx, s, tc.key, tc.rev, []byte("bad"), 0); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("CAS %q at %d: %v, want ErrConflict", tc.key, tc.rev, err)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("failed CAS changed the store:\n%s\nwant\n%s", after, before)
			}
		})
	}
	if _, err := storage.CompareAndSwap(ctx, s, "new", 0, []byte("n"), 0); err != nil {
		t.Fatalf("CAS at revision 0 on a missing key: %v", err)
	}
	if kv := mustGet(t, s, "cas"); string(kv.Value) != "v2" || kv.Revision != r2 {
		t.Fatalf("get = %q rev %d, want v2 rev %d", kv.Value, kv.Revision, r2)
	}
}

func testTxnAtomic(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	rx := mustPut(t, s, "t/x", "x", 0)
	ry := mustPut(t, s, "t/y", "y", 0)
	tests := []struct {
		name string
		ops  []storage.Op
	}{
		{"second condition stale", []storage.Op{
			storage.IfRevision("t/x", rx), storage.IfRevision("t/y", rx),
			storage.Put("t/a", []byte("a"), 0), storage.Put("t/b", []byte("b"), time.Hour), storage.Delete("t/x"),
		}},
		{"failing condition after the writes", []storage.Op{
			storage.Put("t/a", []byte("a"), 0), storage.Delete("t/y"), storage.IfAbsent("t/x"),
		}},
		{"IfAbsent on an existing key", []storage.Op{
			storage.IfAbsent("t/new"), storage.IfAbsent("t/y"), storage.Put("t/new", []byte("n"), 0),
		}},
		{"revision on a missing key", []storage.Op{
			storage.IfRevision("t/gone", ry), storage.Delete("t/x"), storage.Delete("t/y"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			if _, err := s.Txn(ctx, tc.ops...); !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("txn: %v, want ErrConflict", err)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("failed txn changed the store:\n%s\nwant\n%s", after, before)
			}
		})
	}
	// Only conditions, all holding: no change, no error.
	if _, err := s.Txn(ctx, storage.IfRevision("t/x", rx), storage.IfAbsent("t/none")); err != nil {
		t.Fatalf("txn of holding conditions only: %v", err)
	}
}

func testTxnMultiOp(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	rx := mustPut(t, s, "t/x", "x", 0)
	mustPut(t, s, "t/y", "y", 0)
	rev, err := s.Txn(ctx,
		storage.IfRevision("t/x", rx), storage.IfAbsent("t/a"),
		storage.Put("t/a", []byte("a"), 0), storage.Put("t/x", []byte("x2"), 0),
		storage.Delete("t/y"), storage.Put("t/b", []byte("b"), time.Hour))
	if err != nil {
		t.Fatalf("txn: %v", err)
	}
	if rev <= rx {
		t.Fatalf("txn revision %d <= %d", rev, rx)
	}
	for key, want := range map[string]string{"t/a": "a", "t/x": "x2", "t/b": "b"} {
		if kv := mustGet(t, s, key); string(kv.Value) != want || kv.Revision != rev {
			t.Errorf("%s = %q rev %d, want %q rev %d", key, kv.Value, kv.Revision, want, rev)
		}
	}
	mustMissing(t, s, "t/y")
	if kv := mustGet(t, s, "t/b"); kv.ExpiresAt.IsZero() {
		t.Error("t/b written with a TTL has no ExpiresAt")
	}
}

func testInvalid(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	mustPut(t, s, "ok", "v", 0)
	long := strings.Repeat("k", storage.MaxKeyLen+1)
	tests := []struct {
		name string
		call func() error
	}{
		{"empty transaction", func() error { _, err := s.Txn(ctx); return err }},
		{"empty key", func() error { _, err := PutKey(ctx, s, "", []byte("v"), 0); return err }},
		{"NUL in key", func() error { _, err := PutKey(ctx, s, "a\x00b", []byte("v"), 0); return err }},
		{"key too long", func() error { _, err := PutKey(ctx, s, long, []byte("v"), 0); return err }},
		{"key not UTF-8", func() error { _, err := PutKey(ctx, s, "a\xffb", []byte("v"), 0); return err }},
		{"value too large", func() error {
			_, err := PutKey(ctx, s, "big", make([]byte, storage.MaxValueLen+1), 0)
			return err
		}},
		{"negative TTL", func() error { _, err := PutKey(ctx, s, "neg", []byte("v"), -time.Second); return err }},
		{"TTL too long", func() error {
			_, err := PutKey(ctx, s, "long", []byte("v"), storage.MaxTTL+time.Hour)
			return err
		}},
		{"zero Op", func() error { _, err := s.Txn(ctx, storage.Op{}); return err }},
		{"negative revision", func() error {
			_, err := s.Txn(ctx, storage.IfRevision("ok", -1), storage.Put("x", nil, 0))
			return err
		}},
		{"key written twice", func() error {
			_, err := s.Txn(ctx, storage.Put("x", []byte("1"), 0), storage.Put("x", []byte("2"), 0))
			return err
		}},
		{"put and delete of one key", func() error {
			_, err := s.Txn(ctx, storage.Put("x", []byte("1"), 0), storage.Delete("x"))
			return err
		}},
		{"bad op after a good one", func() error {
			_, err := s.Txn(ctx, storage.Put("good", []byte("1"), 0), storage.Delete(""))
			return err
		}},
		{"too many ops", func() error {
			ops := make([]storage.Op, storage.MaxTxnOps+1)
			for i := range ops {
				ops[i] = storage.Put("many/"+strconv.Itoa(i), nil, 0)
			}
			_, err := s.Txn(ctx, ops...)
			return err
		}},
		{"get empty key", func() error { _, err := s.Get(ctx, ""); return err }},
		{"list NUL prefix", func() error { _, _, err := s.List(ctx, "a\x00"); return err }},
		{"list prefix too long", func() error { _, _, err := s.List(ctx, long); return err }},
		{"watch NUL prefix", func() error { _, err := s.Watch(ctx, "\x00"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			if err := tc.call(); !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if after := snapshot(t, s); after != before {
				t.Fatalf("invalid call changed the store:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

func testLargeValue(t *testing.T, s storage.Store) {
	value := make([]byte, 1<<20)
	for i := range value {
		value[i] = byte(i * 7)
	}
	rev, err := PutKey(ctxFor(t), s, "large", value, 0)
	if err != nil {
		t.Fatalf("put 1 MiB: %v", err)
	}
	if kv := mustGet(t, s, "large"); !bytes.Equal(kv.Value, value) || kv.Revision != rev {
		t.Fatalf("1 MiB value did not round-trip (len %d rev %d)", len(kv.Value), kv.Revision)
	}
}

// race runs fn(i) for i in [0, n) in n goroutines released together.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrentCAS(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const goroutines = 50
	rev := mustPut(t, s, "ctr", "start", 0)
	for round := range 3 {
		var (
			mu      sync.Mutex
			winners []int
			winRev  int64
		)
		race(goroutines, func(i int) {
			r, err := storage.CompareAndSwap(ctx, s, "ctr", rev, []byte("g"+strconv.Itoa(i)), 0)
			switch {
			case err == nil:
				mu.Lock()
				winners, winRev = append(winners, i), r
				mu.Unlock()
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("goroutine %d: %v, want nil or ErrConflict", i, err)
			}
		})
		if len(winners) != 1 {
			t.Fatalf("round %d: %d CAS winners %v, want exactly 1", round, len(winners), winners)
		}
		kv := mustGet(t, s, "ctr")
		if string(kv.Value) != "g"+strconv.Itoa(winners[0]) || kv.Revision != winRev {
			t.Fatalf("round %d: value %q rev %d, want the winner's g%d rev %d", round, kv.Value, kv.Revision, winners[0], winRev)
		}
		rev = winRev
	}
}

func testConcurrentCreate(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	var (
		mu      sync.Mutex
		winners []int
	)
	race(50, func(i int) {
		_, err := storage.Create(ctx, s, "once", []byte(strconv.Itoa(i)), 0)
		switch {
		case err == nil:
			mu.Lock()
			winners = append(winners, i)
			mu.Unlock()
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("goroutine %d: %v, want nil or ErrConflict", i, err)
		}
	})
	if len(winners) != 1 {
		t.Fatalf("%d creators won %v, want exactly 1", len(winners), winners)
	}
	if kv := mustGet(t, s, "once"); string(kv.Value) != strconv.Itoa(winners[0]) {
		t.Fatalf("value %q, want the winner's %d", kv.Value, winners[0])
	}
}

func testConcurrentIncrement(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const goroutines, each = 8, 25
	mustPut(t, s, "count", "0", 0)
	race(goroutines, func(int) {
		for done := 0; done < each; {
			kv, err := s.Get(ctx, "count")
			if err != nil {
				t.Errorf("get: %v", err)
				return
			}
			n, err := strconv.Atoi(string(kv.Value))
			if err != nil {
				t.Errorf("counter %q: %v", kv.Value, err)
				return
			}
			_, err = storage.CompareAndSwap(ctx, s, "count", kv.Revision, []byte(strconv.Itoa(n+1)), 0)
			switch {
			case err == nil:
				done++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("CAS: %v", err)
				return
			}
		}
	})
	if kv := mustGet(t, s, "count"); string(kv.Value) != strconv.Itoa(goroutines*each) {
		t.Fatalf("counter = %s, want %d", kv.Value, goroutines*each)
	}
}

// ev is a comparable rendering of an Event.
type ev struct {
	typ   storage.EventType
	key   string
	value string
	rev   int64
}

func (e ev) String() string {
	name := map[storage.EventType]string{storage.EventPut: "put", storage.EventDelete: "delete"}[e.typ]
	return fmt.Sprintf("%s %s=%q@%d", name, e.key, e.value, e.rev)
}

func toEv(e storage.Event) ev {
	return ev{typ: e.Type, key: e.KV.Key, value: string(e.KV.Value), rev: e.KV.Revision}
}

// normalize renders events sorted by revision, and by key inside one
// revision (one transaction): the suite does not fix the order of the
// events of one transaction. checkRevisionOrder checks delivery order.
func normalize(events []storage.Event) []ev {
	out := make([]ev, len(events))
	for i, e := range events {
		out[i] = toEv(e)
	}
	slices.SortFunc(out, func(a, b ev) int {
		if c := cmp.Compare(a.rev, b.rev); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

func checkRevisionOrder(t *testing.T, events []storage.Event) {
	t.Helper()
	for i := 1; i < len(events); i++ {
		if events[i].KV.Revision < events[i-1].KV.Revision {
			t.Fatalf("event %d (%v) has a lower revision than event %d (%v)", i, toEv(events[i]), i-1, toEv(events[i-1]))
		}
	}
}

// testCallerReusesValue: once Txn (or Update) has returned, the caller may
// reuse the slices it wrote; neither the stored value nor the watch's
// event may change with them.
func testCallerReusesValue(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	w, err := s.Watch(ctx, "reuse/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	buf := []byte("first value")
	if _, err := s.Txn(ctx, storage.Put("reuse/a", buf, 0), storage.Put("reuse/b", buf[:5], time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := []ev{{storage.EventPut, "reuse/a", "first value", 0}, {storage.EventPut, "reuse/b", "first", 0}}
	if u, ok := s.(storage.Updater); ok && u.CanUpdate() {
		if _, err := u.Update(ctx, func(storage.ReadFunc) ([]storage.Op, error) {
			return []storage.Op{storage.Put("reuse/c", buf[6:], 0)}, nil
		}); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev{storage.EventPut, "reuse/c", "value", 0})
	}
	copy(buf, "XXXXXXXXXXX")
	got := recv(t, w, len(want))
	for i := range got {
		e := toEv(got[i])
		e.rev = 0
		if e != want[i] {
			t.Fatalf("event %d after the caller reused its slice: %v, want %v", i, e, want[i])
		}
		kv, err := s.Get(ctx, want[i].key)
		if err != nil || string(kv.Value) != want[i].value {
			t.Fatalf("get %s after the caller reused its slice: %q, %v; want %q", want[i].key, kv.Value, err, want[i].value)
		}
	}
}

// testWatchLazy: storage.WatchLazy's events, their values opened, are
// Watch's (for a LazyWatcher as for any other store), and a value opens
// the same twice.
func testWatchLazy(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	w, err := s.Watch(ctx, "lazy/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	lw, open, err := storage.WatchLazy(ctx, s, "lazy/")
	if err != nil {
		t.Fatalf("lazy watch: %v", err)
	}
	mustPut(t, s, "lazy/a", "one", 0)
	mustPut(t, s, "lazy/b", "", time.Hour)
	if _, err := s.Txn(ctx, storage.Put("lazy/a", []byte("two"), 0), storage.Delete("lazy/b"), storage.Put("other/c", []byte("x"), 0)); err != nil {
		t.Fatal(err)
	}
	want := recv(t, w, 4)
	got := recv(t, lw, len(want))
	for i, ev := range got {
		if ev.Type == storage.EventPut {
			v, err := open(ev.KV.Key, ev.KV.Value)
			if err != nil {
				t.Fatalf("open %s: %v", ev.KV.Key, err)
			}
			again, err := open(ev.KV.Key, ev.KV.Value)
			if err != nil || !bytes.Equal(again, v) {
				t.Fatalf("open %s again: %q, %v; first %q", ev.KV.Key, again, err, v)
			}
			ev.KV.Value = v
		}
		if g, w := toEv(ev), toEv(want[i]); g != w || !ev.KV.ExpiresAt.Equal(want[i].KV.ExpiresAt) {
			t.Fatalf("lazy event %d: %v (expires %v), Watch's %v (expires %v)", i, g, ev.KV.ExpiresAt, w, want[i].KV.ExpiresAt)
		}
	}
}

func testWatchOrder(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	w, err := s.Watch(ctx, "w/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	all, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatalf("watch all: %v", err)
	}
	r1 := mustPut(t, s, "w/a", "1", 0)
	r2 := mustPut(t, s, "w/b", "2", 0)
	r3 := mustPut(t, s, "x/out", "3", 0)
	r4 := mustPut(t, s, "w/a", "4", 0)
	r5, err := DeleteKey(ctx, s, "w/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DeleteKey(ctx, s, "w/never"); err != nil {
		t.Fatal(err)
	}
	r6, err := s.Txn(ctx, storage.Put("w/d", []byte("6d"), 0), storage.Put("w/c", []byte("6c"), 0), storage.Delete("w/a"))
	if err != nil {
		t.Fatal(err)
	}
	r7 := mustPut(t, s, "w", "7", 0)    // a sibling, not under "w/"
	r8 := mustPut(t, s, "wx/y", "8", 0) // nor this
	r9 := mustPut(t, s, "w/e", "9", 0)  // the last one: nothing else may come between
	put := func(k, v string, r int64) ev { return ev{storage.EventPut, k, v, r} }
	del := func(k string, r int64) ev { return ev{storage.EventDelete, k, "", r} }

	want := []ev{put("w/a", "1", r1), put("w/b", "2", r2), put("w/a", "4", r4), del("w/b", r5),
		del("w/a", r6), put("w/c", "6c", r6), put("w/d", "6d", r6), put("w/e", "9", r9)}
	got := recv(t, w, len(want))
	checkRevisionOrder(t, got)
	if g := normalize(got); !slices.Equal(g, want) {
		t.Fatalf("watch w/ got\n%v\nwant\n%v", g, want)
	}

	wantAll := []ev{put("w/a", "1", r1), put("w/b", "2", r2), put("x/out", "3", r3), put("w/a", "4", r4), del("w/b", r5),
		del("w/a", r6), put("w/c", "6c", r6), put("w/d", "6d", r6), put("w", "7", r7), put("wx/y", "8", r8), put("w/e", "9", r9)}
	gotAll := recv(t, all, len(wantAll))
	checkRevisionOrder(t, gotAll)
	if g := normalize(gotAll); !slices.Equal(g, wantAll) {
		t.Fatalf("watch all got\n%v\nwant\n%v", g, wantAll)
	}
}

func testWatchStartsAtCall(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	mustPut(t, s, "h/before", "old", 0)
	w, err := s.Watch(ctx, "h/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	r := mustPut(t, s, "h/after", "new", 0)
	got := recv(t, w, 1)
	if g := toEv(got[0]); g != (ev{storage.EventPut, "h/after", "new", r}) {
		t.Fatalf("first event %v, want the put of h/after at %d (no history)", g, r)
	}
}

func testWatchConcurrentWriters(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	const writers, each = 10, 20
	w, err := s.Watch(ctx, "cw/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	var (
		mu    sync.Mutex
		wrote = map[int64]string{}
	)
	race(writers, func(g int) {
		for i := range each {
			key := fmt.Sprintf("cw/%d/%d", g, i)
			rev, err := PutKey(ctx, s, key, []byte(key), 0)
			if err != nil {
				t.Errorf("put %s: %v", key, err)
				return
			}
			mu.Lock()
			if other, dup := wrote[rev]; dup {
				t.Errorf("%s and %s got the same revision %d", key, other, rev)
			}
			wrote[rev] = key
			mu.Unlock()
		}
	})
	if t.Failed() {
		return
	}
	got := recv(t, w, writers*each)
	for i, e := range got {
		if i > 0 && e.KV.Revision <= got[i-1].KV.Revision {
			t.Fatalf("event %d at revision %d after one at %d: not in revision order", i, e.KV.Revision, got[i-1].KV.Revision)
		}
		if e.Type != storage.EventPut || wrote[e.KV.Revision] != e.KV.Key || string(e.KV.Value) != e.KV.Key {
			t.Fatalf("event %v does not match the write at that revision (%q)", toEv(e), wrote[e.KV.Revision])
		}
	}
}

func testWatchCancel(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	w, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	mustPut(t, s, "before-cancel", "v", 0)
	cancel()
	waitClosed(t, w)
	// Writes after the watcher left still work.
	mustPut(t, s, "after-cancel", "v", 0)
	// A watch on an ended context is refused or closed at once.
	if w2, err := s.Watch(ctx, ""); err == nil {
		waitClosed(t, w2)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatalf("watch on a canceled context: %v, want context.Canceled", err)
	}
}

func testWatchTTLExpiry(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	w, err := s.Watch(ctx, "ttl/")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	r := mustPut(t, s, "ttl/k", "v", shortTTL)
	got := recv(t, w, 2)
	if g := toEv(got[0]); g != (ev{storage.EventPut, "ttl/k", "v", r}) {
		t.Fatalf("first event %v, want put of ttl/k at %d", g, r)
	}
	if got[0].KV.ExpiresAt.IsZero() {
		t.Error("put event of a key with TTL has no ExpiresAt")
	}
	if g := toEv(got[1]); g.typ != storage.EventDelete || g.key != "ttl/k" || g.rev <= r {
		t.Fatalf("second event %v, want the expiry's delete of ttl/k after revision %d", g, r)
	}
	mustMissing(t, s, "ttl/k")
}

func testTTL(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	// k2 gets its TTL first so that it has passed once k1's has; then k2's
	// TTL is removed by a put without one.
	mustPut(t, s, "k2", "v2", shortTTL)
	before := time.Now()
	r1 := mustPut(t, s, "k1", "v1", shortTTL)
	after := time.Now()
	r2 := mustPut(t, s, "k2", "v2b", 0)
	mustPut(t, s, "k3", "v3", 0)
	mustPut(t, s, "k4", "v4", time.Hour)

	kv := mustGet(t, s, "k1")
	if exp := kv.ExpiresAt; exp.Before(before.Add(shortTTL-time.Millisecond)) || exp.After(after.Add(shortTTL+time.Minute)) {
		t.Fatalf("ExpiresAt %v not within [%v, %v]", exp, before.Add(shortTTL), after.Add(shortTTL+time.Minute))
	}
	waitFor(t, "k1 to expire", func() bool {
		_, err := s.Get(ctx, "k1")
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("get k1: %v", err)
		}
		return err != nil
	})
	if time.Now().Before(kv.ExpiresAt) {
		t.Fatalf("k1 vanished before its ExpiresAt %v", kv.ExpiresAt)
	}
	kvs, _ := mustList(t, s, "")
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	if !slices.Equal(keys, []string{"k2", "k3", "k4"}) {
		t.Fatalf("list after expiry = %q, want k2 k3 k4", keys)
	}
	if kv := mustGet(t, s, "k2"); string(kv.Value) != "v2b" || kv.Revision != r2 || !kv.ExpiresAt.IsZero() {
		t.Fatalf("k2 = %q rev %d exp %v, want v2b rev %d without expiry", kv.Value, kv.Revision, kv.ExpiresAt, r2)
	}
	// An expired key is absent to conditions.
	if _, err := storage.CompareAndSwap(ctx, s, "k1", r1, []byte("x"), 0); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CAS on an expired key: %v, want ErrConflict", err)
	}
	if _, err := storage.Create(ctx, s, "k1", []byte("reborn"), 0); err != nil {
		t.Fatalf("create over an expired key: %v", err)
	}
	if kv := mustGet(t, s, "k1"); string(kv.Value) != "reborn" || !kv.ExpiresAt.IsZero() {
		t.Fatalf("k1 = %q exp %v, want reborn without expiry", kv.Value, kv.ExpiresAt)
	}
}

func testTTLInvisibleAtExpiry(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	mustPut(t, s, "vanish", "v", shortTTL)
	mustPut(t, s, "stay", "v", 0)
	exp := mustGet(t, s, "vanish").ExpiresAt
	// Wait for the clock, not for the store: once ExpiresAt has passed the
	// key must be gone at once, whether or not it was swept or its lease
	// revoked yet.
	time.Sleep(time.Until(exp) + 10*time.Millisecond)
	mustMissing(t, s, "vanish")
	if kvs, _ := mustList(t, s, ""); len(kvs) != 1 || kvs[0].Key != "stay" {
		t.Fatalf("list after expiry = %v, want only stay", kvs)
	}
	if _, err := s.Txn(ctx, storage.IfAbsent("vanish")); err != nil {
		t.Fatalf("IfAbsent on an expired key: %v", err)
	}
}

func testContextCanceled(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("get: %v, want context.Canceled", err)
	}
	if _, _, err := s.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("list: %v, want context.Canceled", err)
	}
	if _, err := PutKey(ctx, s, "k", []byte("v"), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("put: %v, want context.Canceled", err)
	}
	mustMissing(t, s, "k")
}

func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testClosed(t *testing.T, s storage.Store) {
	ctx := ctxFor(t)
	mustPut(t, s, "k", "v", 0)
	w, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitClosed(t, w)
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "k"); return err }},
		{"List", func() error { _, _, err := s.List(ctx, ""); return err }},
		{"Txn", func() error { _, err := PutKey(ctx, s, "k", []byte("v"), 0); return err }},
		{"Watch", func() error { _, err := s.Watch(ctx, ""); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, err)
		}
	}
}

// RunReopen checks that a store reopened on the same data holds every
// committed write. open(t, dir) must open the store kept in dir (for a
// cluster store: the same namespace); RunReopen closes what it opens.
func RunReopen(t *testing.T, open func(t *testing.T, dir string) storage.Store) {
	ctx := ctxFor(t)
	dir := t.TempDir()
	s := open(t, dir)
	const writers, each = 20, 10
	type written struct {
		value string
		rev   int64
	}
	var (
		mu      sync.Mutex
		want    = map[string]written{}
		deleted []string
		maxRev  int64
	)
	race(writers, func(g int) {
		for i := range each {
			key := fmt.Sprintf("r/%02d/%02d", g, i)
			value := fmt.Sprintf("value %d.%d", g, i)
			rev, err := PutKey(ctx, s, key, []byte(value), 0)
			if err != nil {
				t.Errorf("put %s: %v", key, err)
				return
			}
			mu.Lock()
			want[key] = written{value, rev}
			maxRev = max(maxRev, rev)
			mu.Unlock()
		}
		// Delete each writer's first key again.
		key := fmt.Sprintf("r/%02d/00", g)
		rev, err := DeleteKey(ctx, s, key)
		if err != nil {
			t.Errorf("delete %s: %v", key, err)
			return
		}
		mu.Lock()
		delete(want, key)
		deleted = append(deleted, key)
		maxRev = max(maxRev, rev)
		mu.Unlock()
	})
	if t.Failed() {
		return
	}
	ttlRev := mustPut(t, s, "r/ttl", "ttl", time.Hour)
	ttlExp := mustGet(t, s, "r/ttl").ExpiresAt
	want["r/ttl"] = written{"ttl", ttlRev}
	maxRev = max(maxRev, ttlRev)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s2 := open(t, dir)
	defer s2.Close()
	kvs, listRev := mustList(t, s2, "r/")
	if len(kvs) != len(want) {
		t.Errorf("reopened store lists %d keys, want %d", len(kvs), len(want))
	}
	if listRev < maxRev {
		t.Errorf("reopened store at revision %d, below the last write's %d", listRev, maxRev)
	}
	for _, kv := range kvs {
		w, ok := want[kv.Key]
		if !ok || string(kv.Value) != w.value || kv.Revision != w.rev {
			t.Errorf("reopened %s = %q rev %d, want %q rev %d (written: %t)", kv.Key, kv.Value, kv.Revision, w.value, w.rev, ok)
		}
	}
	for _, key := range deleted {
		mustMissing(t, s2, key)
	}
	if exp := mustGet(t, s2, "r/ttl").ExpiresAt; !exp.Equal(ttlExp) {
		t.Errorf("reopened TTL key expires at %v, want %v", exp, ttlExp)
	}
	if rev := mustPut(t, s2, "r/after", "x", 0); rev <= maxRev {
		t.Errorf("write after reopen got revision %d, not above %d", rev, maxRev)
	}
}
