package api

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSketchCacheBounds: the sketch cache stays within its entries and
// bytes (the least recently used go first), does not keep a set larger
// than itself or one whose session has already expired, stops serving an
// entry at its session's expiry time and drops it then or at the next
// put, and forgets one session's entries, the others kept; its bytes are
// those of what it keeps; under concurrent use (-race) the bounds hold.
func TestSketchCacheBounds(t *testing.T) {
	base := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	key := func(session string, doc int) sketchKey {
		return sketchKey{session: session, digest: fmt.Sprintf("%064x", doc)}
	}
	svg := func(n int) []string { return []string{strings.Repeat("s", n)} }
	type step struct {
		put     sketchKey
		size    int
		ttl     time.Duration // from the cache's now
		advance time.Duration
		forget  string
	}
	for _, tc := range []struct {
		name           string
		entries, bytes int
		steps          []step
		held           int // entries held after the steps, before any get
		kept, gone     []sketchKey
	}{
		{"entries bound", 3, 1 << 20, []step{
			{put: key("s1", 1), size: 10, ttl: time.Hour}, {put: key("s1", 2), size: 10, ttl: time.Hour},
			{put: key("s2", 1), size: 10, ttl: time.Hour}, {put: key("s3", 1), size: 10, ttl: time.Hour},
		}, 3, []sketchKey{key("s1", 2), key("s2", 1), key("s3", 1)}, []sketchKey{key("s1", 1)}},
		{"bytes bound", 100, 3000, []step{
			{put: key("s1", 1), size: 1000, ttl: time.Hour}, {put: key("s2", 1), size: 1000, ttl: time.Hour},
			{put: key("s3", 1), size: 1000, ttl: time.Hour},
		}, 2, []sketchKey{key("s2", 1), key("s3", 1)}, []sketchKey{key("s1", 1)}},
		{"larger than the cache", 100, 3000, []step{
			{put: key("s1", 1), size: 10, ttl: time.Hour}, {put: key("s2", 1), size: 5000, ttl: time.Hour},
		}, 1, []sketchKey{key("s1", 1)}, []sketchKey{key("s2", 1)}},
		{"session already expired", 100, 1 << 20, []step{
			{put: key("s1", 1), size: 10, ttl: 0},
		}, 0, nil, []sketchKey{key("s1", 1)}},
		{"session's expiry", 100, 1 << 20, []step{
			{put: key("s1", 1), size: 10, ttl: time.Minute}, {put: key("s2", 1), size: 10, ttl: time.Hour},
			{advance: time.Minute},
		}, 2, []sketchKey{key("s2", 1)}, []sketchKey{key("s1", 1)}},
		{"expired dropped at the next put", 100, 1 << 20, []step{
			{put: key("s1", 1), size: 10, ttl: time.Minute}, {advance: 2 * time.Minute},
			{put: key("s2", 1), size: 10, ttl: time.Hour},
		}, 1, []sketchKey{key("s2", 1)}, []sketchKey{key("s1", 1)}},
		{"forget a session", 100, 1 << 20, []step{
			{put: key("s1", 1), size: 10, ttl: time.Hour}, {put: key("s1", 2), size: 10, ttl: time.Hour},
			{put: key("s2", 1), size: 10, ttl: time.Hour}, {forget: "s1"},
		}, 1, []sketchKey{key("s2", 1)}, []sketchKey{key("s1", 1), key("s1", 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := base
			c := newSketchCache(tc.entries, tc.bytes)
			c.now = func() time.Time { return now }
			sizes := map[sketchKey]int{}
			for _, s := range tc.steps {
				switch {
				case s.forget != "":
					c.forget(s.forget)
				case s.advance > 0:
					now = now.Add(s.advance)
				default:
					c.put(s.put, svg(s.size), now.Add(s.ttl))
					sizes[s.put] = s.size
				}
				if n, b := c.size(); n > tc.entries || b > tc.bytes {
					t.Fatalf("%d entries, %d bytes: over %d, %d", n, b, tc.entries, tc.bytes)
				}
			}
			if n, _ := c.size(); n != tc.held {
				t.Errorf("%d entries held, want %d", n, tc.held)
			}
			for _, k := range tc.gone {
				if c.get(k) != nil {
					t.Errorf("%v still served", k)
				}
			}
			// What is left counts the bytes of what is kept only.
			want := 0
			for _, k := range tc.kept {
				if c.get(k) == nil {
					t.Errorf("%v not kept", k)
				}
				want += len(k.session) + len(k.digest) + len(k.pages) + sizes[k]
			}
			if n, b := c.size(); n != len(tc.kept) || b != want {
				t.Errorf("%d entries of %d bytes, want %d of %d", n, b, len(tc.kept), want)
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		const entries, bytes = 16, 4096
		c := newSketchCache(entries, bytes)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					k := key(fmt.Sprintf("s%d", g), i%40)
					if c.get(k) == nil {
						c.put(k, svg(100+i%200), time.Now().Add(time.Hour))
					}
					if i%50 == 0 {
						c.forget(fmt.Sprintf("s%d", (g+1)%8))
					}
				}
			})
		}
		wg.Wait()
		if n, b := c.size(); n > entries || b > bytes || n == 0 {
			t.Fatalf("%d entries, %d bytes (bounds %d, %d)", n, b, entries, bytes)
		}
	})
}

// TestForgetCaches: the memory policy's hook (API.ForgetCaches) empties
// both caches of what the API drew, the QR images and the page sketches,
// and counts their entries; both work as before afterwards.
func TestForgetCaches(t *testing.T) {
	t.Parallel()
	expires := time.Now().Add(time.Hour)
	sk := func(session string) sketchKey { return sketchKey{session: session, digest: "d"} }
	for _, tc := range []struct {
		name          string
		images        int
		sketches      int
		wantForgotten int
	}{
		{"empty", 0, 0, 0},
		{"images only", 3, 0, 3},
		{"sketches only", 0, 2, 2},
		{"both", 2, 3, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &API{qr: newQRCache(qrCacheEntries, qrCacheBytes), sketches: newSketchCache(sketchCacheEntries, sketchCacheBytes)}
			for i := range tc.images {
				a.qr.put(qrKey{payload: fmt.Sprint(i)}, []byte("img"))
			}
			for i := range tc.sketches {
				a.sketches.put(sk(fmt.Sprint(i)), []string{"<svg/>"}, expires)
			}
			if n := a.ForgetCaches(); n != tc.wantForgotten {
				t.Fatalf("ForgetCaches = %d, want %d", n, tc.wantForgotten)
			}
			if n, b := a.sketches.size(); n != 0 || b != 0 || a.qr.len() != 0 || a.qr.bytes != 0 {
				t.Fatalf("after ForgetCaches: %d sketches of %d bytes, %d images of %d bytes", n, b, a.qr.len(), a.qr.bytes)
			}
			for i := range tc.sketches {
				if a.sketches.get(sk(fmt.Sprint(i))) != nil {
					t.Fatalf("sketch %d still served", i)
				}
			}
			a.sketches.put(sk("again"), []string{"<svg/>"}, expires)
			a.qr.put(qrKey{payload: "again"}, []byte("img"))
			if a.sketches.get(sk("again")) == nil || a.qr.get(qrKey{payload: "again"}) == nil {
				t.Fatal("the caches keep nothing after ForgetCaches")
			}
			if n := a.ForgetCaches(); n != 2 {
				t.Fatalf("second ForgetCaches = %d, want 2", n)
			}
		})
	}
}
