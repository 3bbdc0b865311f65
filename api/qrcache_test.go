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
