package api

import (
	"container/list"
	"sync"
)

// qrCache keeps rendered QR images, keyed by what they are drawn from
// (the session's payload, which holds its id and QR nonce, the format
// and the size), so that a page that reloads or several widgets of one
// session do not redraw the same code: it is rendered once per
// (session, format, size). It is bounded by entries and bytes and drops
// the least recently used first; an entry of a session that ended is
// never asked for again and ages out.
type qrCache struct {
	maxEntries int
	maxBytes   int

	mu    sync.Mutex
	bytes int
	lru   *list.List // of *qrEntry, most recent first
	byKey map[qrKey]*list.Element
}

type qrKey struct {
	payload string
	svg     bool
	size    int
}

type qrEntry struct {
	key qrKey
	img []byte
}

// Bounds of the QR image cache: a PNG of the default size is about
// 1–3 KiB, an SVG a few KiB.
const (
	qrCacheEntries = 4096
	qrCacheBytes   = 16 << 20
)

func newQRCache(entries, bytes int) *qrCache {
	return &qrCache{maxEntries: entries, maxBytes: bytes, lru: list.New(), byKey: make(map[qrKey]*list.Element)}
}

// get returns the cached image of k (never to be modified), or nil.
func (c *qrCache) get(k qrKey) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*qrEntry).img
}

// put stores img for k (an image larger than the whole cache is not kept).
func (c *qrCache) put(k qrKey, img []byte) {
	if len(img) > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[k] = c.lru.PushFront(&qrEntry{key: k, img: img})
	c.bytes += len(img)
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.lru.Back()
		e := el.Value.(*qrEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.bytes -= len(e.img)
	}
}

// len is the number of cached images.
func (c *qrCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// clear drops every cached image and returns how many there were; the
// map is made anew (a Go map keeps the space of deleted entries).
func (c *qrCache) clear() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.lru.Len()
	c.lru.Init()
	c.byKey = make(map[qrKey]*list.Element)
	c.bytes = 0
	return n
}

// ForgetCaches drops every cached QR image and page sketch and returns
// how many entries there were. The server's memory policy calls it after
// a mass departure of waiting clients, whose sessions' images and
// sketches would otherwise stay until newer ones push them out (up to
// 4,096 images and 16 MiB of sketches); an image asked for again is
// rendered again, a seal session scanned again reads its PDF again.
func (a *API) ForgetCaches() int { return a.qr.clear() + a.sketches.clear() }
