package session

import (
	"context"
	"strings"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/storage"
)

// The hub remembers, for the sessions that waiting clients follow, what a
// client's re-poll or reconnect needs: the watch token's hash, the app and
// the seq of the last event, kept current by the hub's store watch. A
// re-poll that has seen every event is then answered from memory (a map
// lookup and the token's hash) and parks on a Follower without listing the
// stored events.
//
// An entry is trusted only while the store watch is open: when it ends the
// hub forgets everything, and an entry read from the store is kept only if
// no commit to that session was dispatched while it was being read (fill).

// known is what the hub remembers of one session.
type known struct {
	appID     string
	tokenHash []byte
	last      int64 // seq of the last event
	// firstAt is the time of the first event (waiting) of a session this
	// node created, while it is the only one (zero otherwise): that event
	// is then rebuilt from it (firstEvent) for the portal's first watch
	// request, without listing the stored events.
	firstAt time.Time
}

// firstEvent is the first event of a session whose hub entry has firstAt:
// what Create stored (TestFirstEventFromMemory compares them).
func firstEvent(at time.Time) Event {
	return Event{Seq: 1, Type: EventTypeState, State: StateWaiting, At: at}
}

// fill marks a session being read from the store to become known.
type fill struct {
	n     int  // readers in flight
	dirty bool // a commit to the session was dispatched meanwhile
}

// maxKnown bounds the remembered sessions (about 150 bytes each).
const maxKnown = 1 << 17

// WatchRef is a session as a waiting client's request needs it.
type WatchRef struct {
	ID    string
	AppID string
	// Last is the seq of the session's last event.
	Last int64
}

// CheckWatch is CheckWatchToken for a waiting client (a long-poll or a
// websocket): it returns what the request needs, from memory when the hub
// knows the session, else from the store (and then remembers it while the
// session is open). A missing session or a wrong token is ErrNotFound.
func (s *Service) CheckWatch(ctx context.Context, id, token string) (WatchRef, error) {
	if !ValidID(id) {
		return WatchRef{}, ErrNotFound
	}
	h := s.hub
	h.mu.Lock()
	if k := h.known[id]; k != nil {
		ref := WatchRef{ID: id, AppID: k.appID, Last: k.last}
		hash := k.tokenHash
		h.mu.Unlock()
		if !gmcrypto.Equal(gmcrypto.SM3([]byte(token)), hash) {
			return WatchRef{}, ErrNotFound
		}
		return ref, nil
	}
	var f *fill
	if h.watchOpen {
		if f = h.fills[id]; f == nil {
			f = &fill{}
			h.fills[id] = f
		}
		f.n++
	}
	h.mu.Unlock()

	r, _, err := s.load(ctx, id)
	var evs []Event
	if err == nil {
		evs, err = s.listEvents(ctx, id)
		if err == nil && len(evs) == 0 {
			err = ErrNotFound
		}
	}
	h.mu.Lock()
	if f != nil {
		f.n--
		if f.n == 0 && h.fills[id] == f {
			delete(h.fills, id)
		}
		last := Event{}
		if err == nil {
			last = evs[len(evs)-1]
		}
		if err == nil && !f.dirty && h.watchOpen && !last.State.Final() && len(h.known) < maxKnown {
			// id is copied out of the request line it came from.
			h.known[strings.Clone(id)] = &known{appID: r.AppID, tokenHash: r.WatchTokenHash, last: last.Seq}
			h.knownPeak = max(h.knownPeak, len(h.known))
		}
	}
	h.mu.Unlock()
	if err != nil {
		return WatchRef{}, err
	}
	if !gmcrypto.Equal(gmcrypto.SM3([]byte(token)), r.WatchTokenHash) {
		return WatchRef{}, ErrNotFound
	}
	return WatchRef{ID: id, AppID: r.AppID, Last: evs[len(evs)-1].Seq}, nil
}

// created remembers a session this node has just created (its first
// event, seq 1, committed), so that its portal's first watch request is
// answered from memory like a re-poll. Only while the store watch is
// open (it then dispatches every later commit to the session, or ends
// and forgets everything) and when no reader is filling the entry. No
// other commit to the session can precede this call: its QR nonce and
// watch token leave the node only when Create returns.
func (h *hub) created(id, appID string, tokenHash []byte, firstAt time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.watchOpen || h.fills[id] != nil || h.known[id] != nil || len(h.known) >= maxKnown {
		return
	}
	h.known[id] = &known{appID: appID, tokenHash: tokenHash, last: 1, firstAt: firstAt}
	h.knownPeak = max(h.knownPeak, len(h.known))
}

// knownLast returns the seq of the last event of session id if the hub
// knows it, and the time of its first event while that is the only one
// and was made here (zero otherwise). h.mu is held.
func (h *hub) knownLast(id string) (last int64, firstAt time.Time, ok bool) {
	k := h.known[id]
	if k == nil {
		return 0, time.Time{}, false
	}
	if k.last == 1 {
		firstAt = k.firstAt
	}
	return k.last, firstAt, true
}

// setWatchOpen records whether the store watch is open; when it is not,
// commits may be missed: everything known is forgotten and the reads in
// flight are not kept.
func (h *hub) setWatchOpen(open bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchOpen = open
	if !open {
		clear(h.known)
		h.known = make(map[string]*known)
		h.knownPeak = 0
		for _, f := range h.fills {
			f.dirty = true
		}
	}
}

// observe keeps known current with one dispatched commit to session id
// (dec decodes its event, once for observe and dispatch). h.mu is held.
func (h *hub) observe(id string, hasTail bool, tail string, ev storage.Event, dec *storedEventOf) {
	if f := h.fills[id]; f != nil {
		f.dirty = true
	}
	k := h.known[id]
	if k == nil {
		return
	}
	if !hasTail {
		if ev.Type == storage.EventDelete {
			h.forget(id)
		}
		return // the record's other changes keep its token and app
	}
	if !strings.HasPrefix(tail, eventsInfix[1:]) {
		return
	}
	if ev.Type != storage.EventPut {
		h.forget(id)
		return
	}
	e, err := dec.get()
	if err == nil && e.Seq <= k.last && !e.State.Final() {
		return // already counted (a session created here: its first event)
	}
	if err != nil || e.Seq != k.last+1 || e.State.Final() {
		// Damaged, out of order, or the end: nobody waits long on an
		// ended session, read it from the store again.
		h.forget(id)
		return
	}
	k.last, k.firstAt = e.Seq, time.Time{}
}

// ForgetUnwatched drops what the hub remembers (known) of the sessions
// nobody follows right now, and returns how many it dropped. After a
// mass departure of waiting clients that memory would otherwise stay until
// each session ends. It is only a cache: a client that comes back (a
// long-poll between two polls) costs one store read and is remembered
// again.
func (s *Service) ForgetUnwatched() int {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id := range h.known {
		if len(h.subs[id]) == 0 {
			delete(h.known, id)
			n++
		}
	}
	if n > 0 {
		h.known = rebuilt(h.known) // a Go map keeps its buckets
		h.knownPeak = len(h.known)
	}
	return n
}

// forget drops session id from known, rebuilding the map after a mass
// departure (a Go map never gives its buckets back). h.mu is held.
func (h *hub) forget(id string) {
	delete(h.known, id)
	if h.knownPeak >= shrinkMin && len(h.known) < h.knownPeak/shrinkRatio {
		h.known = rebuilt(h.known)
		h.knownPeak = len(h.known)
	}
}

// FollowKnown is CheckWatch and Follow in one step, from the hub's memory
// alone, for a waiting client that has every event: the session is known
// to the hub, of app appID, tokenHash is the SM3 hash of its watch token
// and after is its last event's seq. It never reads the store (the
// parking lot calls it on its one goroutine); ok false: nothing was done
// and the caller takes the general path (CheckWatch, Follow).
func (s *Service) FollowKnown(id string, tokenHash []byte, appID string, after int64, notify func()) (f *Follower, ok bool) {
	h := s.hub
	h.mu.Lock()
	k := h.known[id]
	match := k != nil && k.appID == appID && k.last == after && gmcrypto.Equal(k.tokenHash, tokenHash)
	h.mu.Unlock()
	if !match {
		return nil, false
	}
	sb, last, _, isKnown, err := h.subscribeKnown(id, notify)
	if err != nil {
		return nil, false
	}
	if !isKnown || last != after {
		h.unsubscribe(sb)
		return nil, false
	}
	s.metrics.watcherOpened()
	return &Follower{s: s, sb: sb, last: after}, true
}
