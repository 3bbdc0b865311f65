package readcache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/readcache"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// sameBytes reports whether a and b are the same memory (not only equal).
func sameBytes(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

// GetShared hands out the cached value itself (no copy per read), for a
// cached key and for a memoized key within its request; Get keeps handing
// out copies, and a change to one reaches neither the cache nor the memo.
// Keys neither cached nor memoized, missing keys and stores that are not
// SharedGetters read as Get does.
func TestGetShared(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	c := open(t, raw, memoConfig())
	ctx := context.Background()
	put(t, raw, "apps/a", "app record")
	put(t, raw, "sessions/s", "session record")
	put(t, raw, "other/o", "not cached")
	settle(t, c, raw, "apps/") // the cache has seen the writes: apps/a stays cached
	mctx := readcache.WithMemo(ctx)

	for _, tc := range []struct {
		name   string
		ctx    context.Context
		key    string
		want   string
		shared bool // two GetShared answers are the same memory
	}{
		{"cached", ctx, "apps/a", "app record", true},
		{"memoized", mctx, "sessions/s", "session record", true},
		{"memoized key outside a request", ctx, "sessions/s", "session record", false},
		{"not cached", ctx, "other/o", "not cached", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first read fills the cache or the memo.
			if kv, err := c.Get(tc.ctx, tc.key); err != nil || string(kv.Value) != tc.want {
				t.Fatalf("Get = %q, %v; want %q", kv.Value, err, tc.want)
			}
			first, err := storage.GetShared(tc.ctx, c, tc.key)
			if err != nil || string(first.Value) != tc.want || first.Revision <= 0 {
				t.Fatalf("GetShared = %q@%d, %v; want %q", first.Value, first.Revision, err, tc.want)
			}
			second, err := storage.GetShared(tc.ctx, c, tc.key)
			if err != nil || string(second.Value) != tc.want || second.Revision != first.Revision {
				t.Fatalf("GetShared again = %q@%d, %v", second.Value, second.Revision, err)
			}
			if sameBytes(first.Value, second.Value) != tc.shared {
				t.Fatalf("two GetShared answers share memory: %v, want %v", !tc.shared, tc.shared)
			}
			own, err := c.Get(tc.ctx, tc.key)
			if err != nil || sameBytes(own.Value, second.Value) {
				t.Fatalf("Get = %q, %v, sharing memory with GetShared's", own.Value, err)
			}
			copy(own.Value, "XXXX")
			if again, err := storage.GetShared(tc.ctx, c, tc.key); err != nil || string(again.Value) != tc.want || string(second.Value) != tc.want {
				t.Fatalf("after a change to Get's copy: GetShared = %q (%v), the earlier answer %q", again.Value, err, second.Value)
			}
		})
	}
	for _, key := range []string{"apps/missing", "other/missing"} {
		if _, err := storage.GetShared(ctx, c, key); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("GetShared(%s) = %v, want ErrNotFound", key, err)
		}
	}
	if _, err := storage.GetShared(mctx, c, "sessions/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetShared(sessions/missing) in a request = %v, want ErrNotFound", err)
	}
	// A store that is no SharedGetter is read with Get.
	if _, ok := storage.Store(raw).(storage.SharedGetter); ok {
		t.Fatal("the bbolt store is a SharedGetter")
	}
	if kv, err := storage.GetShared(ctx, raw, "apps/a"); err != nil || string(kv.Value) != "app record" {
		t.Fatalf("GetShared of the bbolt store = %q, %v", kv.Value, err)
	}
}

// A request's own write is what GetShared answers within it, and a change
// the caller makes to the slice it wrote does not reach the memo.
func TestGetSharedSeesOwnWrite(t *testing.T) {
	raw := storagetest.MustOpenBolt(t)
	c := open(t, raw, memoConfig())
	mctx := readcache.WithMemo(context.Background())
	put(t, raw, "sessions/s", "v1")
	if kv, err := storage.GetShared(mctx, c, "sessions/s"); err != nil || string(kv.Value) != "v1" {
		t.Fatalf("GetShared = %q, %v", kv.Value, err)
	}
	buf := []byte("v2")
	rev, err := c.Txn(mctx, storage.Put("sessions/s", buf, 0))
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XX")
	if kv, err := storage.GetShared(mctx, c, "sessions/s"); err != nil || string(kv.Value) != "v2" || kv.Revision != rev {
		t.Fatalf("GetShared after the request's write = %q@%d, %v; want v2@%d", kv.Value, kv.Revision, err, rev)
	}
}
