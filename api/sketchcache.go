package api

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// sketchCache keeps the page sketches a scan drew (seal.Sketches), so that
// a second tab's scan or a re-scan of the same seal session does not read
// the whole PDF again. An entry is keyed by the session's id (made by the
// gateway), the document's digest as the gateway computed it (the SM3 of
// the PDF in the session record, or the upload's, checked against the
// upload when it was read) and the SM3 of what was drawn on which pages
// (the spots and the seal's size): nothing a portal controls alone picks
// an entry. It is bounded by entries and bytes and drops the least
// recently used first; an entry goes when its session ends on this node
// (confirm, reject, cancel) and is not served after the session's expiry
// time (ended elsewhere or expired: dropped then, or pushed out).
type sketchCache struct {
	maxEntries int
	maxBytes   int
	now        func() time.Time

	mu    sync.Mutex
	bytes int
	lru   *list.List // of *sketchEntry, most recent first
	byKey map[sketchKey]*list.Element

	// drawn counts documents whose sketches were drawn by reading the PDF,
	// cached those served from here (ukeygate_scan_sketch_documents_total).
	drawn, cached atomic.Int64
}

type sketchKey struct {
	session string
	digest  string   // hex, as the scan answer shows it
	pages   [32]byte // SM3 of the pages and seals drawn
}

type sketchEntry struct {
	key     sketchKey
	svgs    []string
	size    int
	expires time.Time
}

// Bounds of the sketch cache: a sketch is at most about 40 KB (150 runs
// of 48 characters), a scan draws at most 6 (protocol.MaxScanSketches).
const (
	sketchCacheEntries = 1024
	sketchCacheBytes   = 16 << 20
)

func newSketchCache(entries, bytes int) *sketchCache {
	return &sketchCache{maxEntries: entries, maxBytes: bytes, now: time.Now, lru: list.New(), byKey: make(map[sketchKey]*list.Element)}
}

// get returns the cached sketches of k (never to be modified), or nil.
func (c *sketchCache) get(k sketchKey) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil
	}
	e := el.Value.(*sketchEntry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	c.cached.Add(1)
	return e.svgs
}

// put stores svgs for k until expires, the session's expiry time (a set
// larger than the whole cache is not kept). It drops first the entries
// past their expiry time, then the least recently used over the bounds.
func (c *sketchCache) put(k sketchKey, svgs []string, expires time.Time) {
	size := len(k.session) + len(k.digest) + len(k.pages)
	for _, s := range svgs {
		size += len(s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for el := c.lru.Back(); el != nil; {
		prev := el.Prev()
		if !now.Before(el.Value.(*sketchEntry).expires) {
			c.remove(el)
		}
		el = prev
	}
	if size > c.maxBytes || !now.Before(expires) {
		return
	}
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	c.byKey[k] = c.lru.PushFront(&sketchEntry{key: k, svgs: svgs, size: size, expires: expires})
	c.bytes += size
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

// remove drops el; c.mu is held.
func (c *sketchCache) remove(el *list.Element) {
	e := el.Value.(*sketchEntry)
	c.lru.Remove(el)
	delete(c.byKey, e.key)
	c.bytes -= e.size
}

// forget drops the entries of session id (it ended).
func (c *sketchCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if el.Value.(*sketchEntry).key.session == id {
			c.remove(el)
		}
		el = next
	}
}

// clear drops every entry and returns how many there were; the map is
// made anew (a Go map keeps the space of deleted entries).
func (c *sketchCache) clear() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.lru.Len()
	c.lru.Init()
	c.byKey = make(map[sketchKey]*list.Element)
	c.bytes = 0
	return n
}

// size is the number of entries and their bytes.
func (c *sketchCache) size() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}
