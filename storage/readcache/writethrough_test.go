package readcache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

func throughConfig() readcache.Config {
	c := testConfig()
	c.GetPrefixes = append(c.GetPrefixes, "log/head")
	c.WriteThrough = []string{"log/head"}
	return c
}

// A committed write of a write-through key is read back from the cache,
// exactly as the store holds it, and stays cached when the store's watch
// delivers that same write; another node's later write drops it.
func TestWriteThrough(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	inner := &countingStore{Store: raw}
	c := open(t, inner, throughConfig())
	ctx := context.Background()
	rev, err := c.Txn(ctx, storage.IfAbsent("log/head"), storage.Put("log/head", []byte("h1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	v, r := get(t, c, "log/head")
	sv, sr := get(t, raw, "log/head")
	if v != "h1" || r != rev || sv != v || sr != r {
		t.Fatalf("cache %q@%d, store %q@%d, txn %d", v, r, sv, sr, rev)
	}
	if n := inner.gets.Load(); n != 0 {
		t.Fatalf("%d store reads after the write, want 0", n)
	}
	// The watch delivers the write itself: the entry stays.
	settle(t, c, inner, "log/head")
	before := inner.gets.Load()
	if v, _ := get(t, c, "log/head"); v != "h1" || inner.gets.Load() != before {
		t.Fatalf("after the watch delivered the write: %q, %d store reads", v, inner.gets.Load()-before)
	}
	// Another node's write: dropped once its event arrives.
	put(t, raw, "log/head", "h2")
	waitFor(t, "the other node's write", func() bool { v, _ := get(t, c, "log/head"); return v == "h2" })
}

// While the watch lags, the cache can hold an old head: a write
// conditioned on its revision fails, the failed transaction drops it, and
// the retry reads the store. Fresh reads skip the cache altogether.
func TestWriteThroughStaleAndFresh(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	held := &heldStore{Store: raw}
	inner := &countingStore{Store: held}
	c := open(t, inner, throughConfig())
	ctx := context.Background()
	rev, err := c.Txn(ctx, storage.IfAbsent("log/head"), storage.Put("log/head", []byte("h1"), 0))
	if err != nil {
		t.Fatal(err)
	}
	held.hold(true)
	defer held.hold(false)
	nrev := put(t, raw, "log/head", "h2") // another node; this node's watch holds it
	if v, r := get(t, c, "log/head"); v != "h1" || r != rev {
		t.Fatalf("lagging cache read %q@%d, want the stale h1@%d (the test's precondition)", v, r, rev)
	}
	if v, r := getCtx(t, readcache.Fresh(ctx), c, "log/head"); v != "h2" || r != nrev {
		t.Fatalf("fresh read %q@%d, want h2@%d", v, r, nrev)
	}
	_, err = c.Txn(ctx, storage.IfRevision("log/head", rev), storage.Put("log/head", []byte("h3"), 0))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("write after the stale head: %v, want ErrConflict", err)
	}
	if v, r := get(t, c, "log/head"); v != "h2" || r != nrev {
		t.Fatalf("after the conflict: %q@%d, want h2@%d", v, r, nrev)
	}
}

func TestWriteThroughConfig(t *testing.T) {
	c := testConfig()
	c.WriteThrough = []string{"log/head"}
	if err := c.Validate(); err == nil {
		t.Fatal("a write-through key outside the cached prefixes is valid")
	}
}
