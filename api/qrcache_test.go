package api

import (
	"bytes"
	"fmt"
	"testing"
)

func TestQRCacheBounds(t *testing.T) {
	t.Parallel()
	c := newQRCache(3, 100)
	img := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	for i := range 4 {
		c.put(qrKey{payload: fmt.Sprint(i)}, img(10))
	}
	if c.len() != 3 || c.get(qrKey{payload: "0"}) != nil {
		t.Fatalf("after 4 puts into 3 entries: %d entries, oldest kept: %v", c.len(), c.get(qrKey{payload: "0"}) != nil)
	}
	// Using "1" makes "2" the least recently used.
	if c.get(qrKey{payload: "1"}) == nil {
		t.Fatal("entry 1 missing")
	}
	c.put(qrKey{payload: "big"}, img(81))
	if c.get(qrKey{payload: "2"}) != nil || c.get(qrKey{payload: "3"}) != nil || c.get(qrKey{payload: "1"}) == nil || c.bytes > 100 {
		t.Fatalf("byte bound: %d bytes, %d entries", c.bytes, c.len())
	}
	c.put(qrKey{payload: "huge"}, img(101))
	if c.get(qrKey{payload: "huge"}) != nil {
		t.Fatal("an image larger than the cache was kept")
	}
	// Format and size are part of the key.
	c.put(qrKey{payload: "p", size: 256}, img(1))
	if c.get(qrKey{payload: "p", size: 512}) != nil || c.get(qrKey{payload: "p", svg: true}) != nil {
		t.Fatal("another size or format hit the cache")
	}
}

// TestQRCacheClear: clear empties the cache and its byte count, and the
// cache works as before afterwards.
func TestQRCacheClear(t *testing.T) {
	t.Parallel()
	c := newQRCache(3, 100)
	for i := range 3 {
		c.put(qrKey{payload: fmt.Sprint(i)}, []byte("img"))
	}
	if n := c.clear(); n != 3 || c.len() != 0 || c.bytes != 0 || c.get(qrKey{payload: "0"}) != nil {
		t.Fatalf("clear = %d; then %d entries, %d bytes", n, c.len(), c.bytes)
	}
	c.put(qrKey{payload: "a"}, []byte("img"))
	if c.get(qrKey{payload: "a"}) == nil || c.len() != 1 || c.bytes != 3 {
		t.Fatalf("after clear and a put: %d entries, %d bytes", c.len(), c.bytes)
	}
	if n := c.clear(); n != 1 {
		t.Fatalf("second clear = %d, want 1", n)
	}
}
