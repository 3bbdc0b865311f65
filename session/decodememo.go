package session

import (
	"bytes"
	"sync"
)

// A session's record is read several times per session (the watch and
// nonce checks, the scan, the confirm's checks and transitions) and its
// JSON decoded each time although it changed at most once in between.
// recordMemo keeps the last few decoded records with the exact stored
// bytes they came from; decodeRecord reuses one only when the bytes read
// now are the same. The stored record stays the only truth: every call
// still reads it from the store, and a record whose bytes changed is
// decoded again.
const (
	memoEntries  = 256      // records kept (a ring: the oldest goes first)
	memoMaxBytes = 16 << 10 // larger records (documents) are not kept
)

type memoEntry struct {
	id  string
	raw []byte
	rec storedRecord
}

type recordMemo struct {
	mu   sync.Mutex
	ring [memoEntries]*memoEntry
	byID map[string]int // id → index in ring
	next int
}

// get returns a copy of the decoded stored record of id if val is the
// exact value it was decoded from.
func (m *recordMemo) get(id string, val []byte) (storedRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.byID[id]
	if !ok || !bytes.Equal(m.ring[i].raw, val) {
		return storedRecord{}, false
	}
	sr := m.ring[i].rec
	// The copy must not share what a caller may change in place.
	sr.Request.Documents = append([]Document(nil), sr.Request.Documents...)
	return sr, true
}

// put keeps sr, decoded from val, as the record of id.
func (m *recordMemo) put(id string, val []byte, sr storedRecord) {
	if len(val) > memoMaxBytes {
		return
	}
	sr.Request.Documents = append([]Document(nil), sr.Request.Documents...)
	e := &memoEntry{id: id, raw: bytes.Clone(val), rec: sr}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = make(map[string]int, memoEntries)
	}
	if i, ok := m.byID[id]; ok {
		m.ring[i] = e
		return
	}
	if old := m.ring[m.next]; old != nil {
		delete(m.byID, old.id)
	}
	m.ring[m.next] = e
	m.byID[id] = m.next
	m.next = (m.next + 1) % memoEntries
}
