package readcache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// countingStore counts the Gets that reach the store.
type countingStore struct {
	storage.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (storage.KV, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func memoConfig() readcache.Config {
	c := testConfig()
	c.MemoPrefixes = []string{"sessions/"}
	return c
}

func getCtx(t *testing.T, ctx context.Context, s storage.Store, key string) (string, int64) {
	t.Helper()
	kv, err := s.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(kv.Value), kv.Revision
}

// Within one request's memo a memoized key is read from the store once;
// the request's own writes are read back from the memo, at the revision
// the store gave them; outside a memo every read goes to the store.
func TestMemoReadsOnceAndSeesOwnWrites(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	inner := &countingStore{Store: raw}
	c := open(t, inner, memoConfig())
	put(t, raw, "sessions/a", "v1")

	ctx := readcache.WithMemo(context.Background())
	v, rev := getCtx(t, ctx, c, "sessions/a")
	if v2, rev2 := getCtx(t, ctx, c, "sessions/a"); v != "v1" || v2 != v || rev2 != rev {
		t.Fatalf("read %q@%d then %q@%d", v, rev, v2, rev2)
	}
	if n := inner.gets.Load(); n != 1 {
		t.Fatalf("%d store reads in one request, want 1", n)
	}
	// Absent keys are memoized too.
	getCtx(t, ctx, c, "sessions/none")
	getCtx(t, ctx, c, "sessions/none")
	if n := inner.gets.Load(); n != 2 {
		t.Fatalf("%d store reads, want 2", n)
	}

	// A write of the request: read back from the memo, as the store has it.
	wrev, err := c.Txn(ctx, storage.IfRevision("sessions/a", rev), storage.Put("sessions/a", []byte("v2"), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v, rev = getCtx(t, ctx, c, "sessions/a")
	if n := inner.gets.Load(); n != 2 {
		t.Fatalf("the request's own write was read from the store (%d reads)", n)
	}
	sv, srev := get(t, raw, "sessions/a")
	if v != "v2" || rev != wrev || sv != v || srev != rev {
		t.Fatalf("memo has %q@%d, store %q@%d, txn returned %d", v, rev, sv, srev, wrev)
	}
	if _, err := c.Txn(ctx, storage.Delete("sessions/a")); err != nil {
		t.Fatal(err)
	}
	if v, _ := getCtx(t, ctx, c, "sessions/a"); v != "" {
		t.Fatalf("deleted key read as %q", v)
	}

	// Another request, and a read without a memo, go to the store.
	put(t, raw, "sessions/b", "x")
	getCtx(t, readcache.WithMemo(context.Background()), c, "sessions/b")
	get(t, c, "sessions/b")
	get(t, c, "sessions/b")
	if n := inner.gets.Load(); n != 5 {
		t.Fatalf("%d store reads, want 5 (nothing shared between requests)", n)
	}
}

// A write by someone else during the request (another node) is not in
// the memo, but a transition conditioned on the memo's revision fails,
// and the failed transaction drops the key: the retry reads the store.
func TestMemoStaleRevisionFailsThenRereads(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	inner := &countingStore{Store: raw}
	c := open(t, inner, memoConfig())
	put(t, raw, "sessions/s", "scanned")

	ctx := readcache.WithMemo(context.Background())
	_, rev := getCtx(t, ctx, c, "sessions/s")
	nrev := put(t, raw, "sessions/s", "cancelled") // another node
	if v, _ := getCtx(t, ctx, c, "sessions/s"); v != "scanned" {
		t.Fatalf("memo read %q", v)
	}
	_, err := c.Txn(ctx, storage.IfRevision("sessions/s", rev), storage.Put("sessions/s", []byte("completed"), 0))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("a transition on the stale revision: %v, want ErrConflict", err)
	}
	if v, r := getCtx(t, ctx, c, "sessions/s"); v != "cancelled" || r != nrev {
		t.Fatalf("after the conflict the request read %q@%d, want cancelled@%d", v, r, nrev)
	}
	if n := inner.gets.Load(); n != 2 {
		t.Fatalf("%d store reads, want 2", n)
	}
}

// A memoized key with a TTL is not served past its expiry.
func TestMemoExpiry(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	inner := &countingStore{Store: raw}
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	cfg := memoConfig()
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	c := open(t, inner, cfg)
	ctx := readcache.WithMemo(context.Background())
	if _, err := c.Txn(ctx, storage.Put("sessions/t", []byte("v"), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v, _ := getCtx(t, ctx, c, "sessions/t"); v != "v" {
		t.Fatalf("read %q", v)
	}
	if n := inner.gets.Load(); n != 0 {
		t.Fatalf("%d store reads before the expiry, want 0", n)
	}
	clock.Store(now.Add(2 * time.Minute).UnixNano())
	// The memo no longer answers; the store decides by its own clock.
	_, _ = c.Get(ctx, "sessions/t")
	if n := inner.gets.Load(); n != 1 {
		t.Fatalf("%d store reads after the expiry, want 1", n)
	}
}

// An Update (bbolt) in a request with a memo puts what it wrote into the
// memo, as Txn does.
func TestMemoSeesOwnUpdate(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	inner := &countingStore{Store: raw}
	c := open(t, struct {
		storage.Store
		storage.Updater
	}{inner, raw}, memoConfig())
	put(t, raw, "sessions/u", "v1")
	ctx := readcache.WithMemo(context.Background())
	getCtx(t, ctx, c, "sessions/u")
	rev, err := c.Update(ctx, func(storage.ReadFunc) ([]storage.Op, error) {
		return []storage.Op{storage.Put("sessions/u", []byte("v2"), 0)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, r := getCtx(t, ctx, c, "sessions/u"); v != "v2" || r != rev {
		t.Fatalf("after the request's Update: %q@%d, want v2@%d", v, r, rev)
	}
	if n := inner.gets.Load(); n != 1 {
		t.Fatalf("%d store reads, want 1", n)
	}
}
