package session

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// hub keeps ONE store watch on "sessions/" per Service and fans its events
// out to the subscribers of each session. It never blocks on a subscriber
// and never queues for one: each subscriber has ONE pending slot holding
// the latest event (highest seq) it has not taken yet, and a notify
// function the hub calls (under its lock; it must not block) whenever the
// slot changes, a re-list is due or the subscriber is stopped. A subscriber
// that finds the pending seq beyond the next one re-lists the stored
// events (see Follower.Next), so that coalescing loses nothing and the
// final state is always seen. When the store watch ends (the store dropped the hub for
// falling behind, or the backend hiccuped) the hub opens a new one and then
// tells every subscriber to re-list, so that no event is missed.
type hub struct {
	svc *Service

	mu   sync.Mutex
	subs map[string][]*sub // a session has few subscribers
	// peak is the most sessions subs has held since it was last rebuilt:
	// a Go map never gives its buckets back, so after a mass departure
	// remove rebuilds it (see shrinkRatio).
	peak int
	// n is the number of subscribers, npeak their most since the last
	// Service.Waiting (which resets it).
	n, npeak int
	// watchOpen: the store watch is open, so dispatch sees every commit
	// and known (known.go) can be trusted.
	watchOpen bool
	known     map[string]*known
	knownPeak int
	fills     map[string]*fill
	started   bool
	closed    bool
	// open is closed once the store watch has first opened: from then on
	// every committed event reaches dispatch (tests wait on it).
	open     chan struct{}
	openOnce sync.Once
}

// sub is one watcher's registration. Its fields after notify are guarded
// by the hub's mutex.
type sub struct {
	id     string
	notify func() // called with h.mu held; must not block

	pending Event // the latest event not taken yet (when has)
	has     bool
	resync  bool  // "re-list, you may have missed events"
	stopped bool  // removed from the hub; err says why
	err     error // why it was stopped
}

// taken is what a subscriber takes from its slot.
type taken struct {
	pending Event
	has     bool
	resync  bool
	stopped bool
	err     error
}

func newHub(s *Service) *hub {
	return &hub{
		svc:   s,
		subs:  make(map[string][]*sub),
		known: make(map[string]*known),
		fills: make(map[string]*fill),
		open:  make(chan struct{}),
	}
}

// take empties sb's slot and returns what it held.
func (h *hub) take(sb *sub) taken {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := taken{pending: sb.pending, has: sb.has, resync: sb.resync, stopped: sb.stopped, err: sb.err}
	sb.pending, sb.has, sb.resync = Event{}, false, false
	return t
}

// subscribe registers a subscriber for session id, starting the hub's
// store watch on first use. A subscriber registered before the watch is
// open is told to re-list once it is.
func (h *hub) subscribe(id string, notify func()) (*sub, error) {
	sb, _, _, _, err := h.subscribeKnown(id, notify)
	return sb, err
}

// subscribeKnown is subscribe that also returns the seq of the session's
// last event if the hub knows it (known.go), and the time of its first
// event while that is the only one and was made here, read under the same
// lock: an event after it reaches the new subscriber.
func (h *hub) subscribeKnown(id string, notify func()) (sb *sub, last int64, firstAt time.Time, isKnown bool, err error) {
	sb, err = h.subscribeLocked(id, notify)
	if err == nil {
		last, firstAt, isKnown = h.knownLast(id)
	}
	h.mu.Unlock()
	return sb, last, firstAt, isKnown, err
}

// subscribeLocked registers the subscriber and returns with h.mu held.
func (h *hub) subscribeLocked(id string, notify func()) (*sub, error) {
	h.mu.Lock()
	if h.closed {
		return nil, ErrClosed
	}
	if !h.started {
		h.started = true
		h.svc.wg.Add(1)
		go h.run()
	}
	// A copy: id is usually a substring of the request line (path
	// values are), which the map would otherwise keep whole.
	id = strings.Clone(id)
	sb := &sub{id: id, notify: notify}
	h.subs[id] = append(h.subs[id], sb)
	h.n++
	h.npeak = max(h.npeak, h.n)
	h.peak = max(h.peak, len(h.subs))
	return sb, nil
}

// Waiting returns the number of clients following a session on this node
// right now (websockets and long-polls, parked or in a request) and the
// most there were since the previous call (so that a caller who looks
// now and then misses no peak). The server's memory policy watches it
// for a mass departure.
func (s *Service) Waiting() (now, peak int) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	now, peak = h.n, max(h.npeak, h.n)
	h.npeak = h.n
	return now, peak
}

// unsubscribe removes sb (if still registered).
func (h *hub) unsubscribe(sb *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(sb)
}

// remove deletes sb from the map. h.mu is held.
func (h *hub) remove(sb *sub) bool {
	m := h.subs[sb.id]
	i := slices.Index(m, sb)
	if i < 0 {
		return false
	}
	h.n--
	if len(m) == 1 {
		delete(h.subs, sb.id)
		if h.peak >= shrinkMin && len(h.subs) < h.peak/shrinkRatio {
			h.subs = rebuilt(h.subs)
			h.peak = len(h.subs)
		}
		return true
	}
	h.subs[sb.id] = slices.Delete(slices.Clone(m), i, i+1)
	return true
}

// rebuilt returns a new map holding m's entries, sized for them. A Go map
// never gives back the space of deleted entries, and maps.Clone copies the
// tables as they are (same capacity), so only a fresh map shrinks.
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	n := make(map[K]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// The subscriber map is rebuilt when it falls below 1/shrinkRatio of its
// peak, once that peak was at least shrinkMin sessions.
const (
	shrinkRatio = 8
	shrinkMin   = 1024
)

// stop removes sb and ends it with err. h.mu is held.
func (h *hub) stop(sb *sub, err error) {
	if h.remove(sb) {
		sb.stopped, sb.err = true, err
		sb.notify()
	}
}

// close stops every subscriber with ErrClosed; the run goroutine ends with
// the Service's context.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.stopAll(ErrClosed)
}

func (h *hub) stopAll(err error) {
	for _, m := range h.subs {
		for _, sb := range m {
			h.stop(sb, err)
		}
	}
}

func (h *hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.subs {
		for _, sb := range m {
			sb.resync = true
			sb.notify()
		}
	}
}

// run keeps the store watch open until the Service closes.
func (h *hub) run() {
	defer h.svc.wg.Done()
	ctx := h.svc.ctx
	backoff := 50 * time.Millisecond
	for {
		// Values are opened (the vault decrypts them) only for the events
		// observe or a subscriber decodes, once each (storedEventOf).
		ch, open, err := storage.WatchLazy(ctx, h.svc.store, sessionsPrefix)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, storage.ErrClosed) {
				h.mu.Lock()
				h.closed = true
				h.stopAll(ErrClosed)
				h.mu.Unlock()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		h.setWatchOpen(true)
		h.openOnce.Do(func() { close(h.open) })
		// Events committed before this watch opened are not in ch: every
		// subscriber re-lists now (its List happens after the open).
		h.resyncAll()
		for ev := range ch {
			h.dispatch(ev, open)
		}
		// Commits from now until the next open may be missed.
		h.setWatchOpen(false)
		if ctx.Err() != nil {
			return
		}
	}
}

// dispatch hands one store event to the subscribers of its session; open
// opens its value (the watch's storage.Opener).
func (h *hub) dispatch(ev storage.Event, open storage.Opener) {
	rest, ok := strings.CutPrefix(ev.KV.Key, sessionsPrefix)
	if !ok {
		return
	}
	id, tail, hasTail := strings.Cut(rest, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	dec := &storedEventOf{svc: h.svc, id: id, kv: ev.KV, open: open}
	h.observe(id, hasTail, tail, ev, dec)
	subs := h.subs[id]
	if len(subs) == 0 {
		return
	}
	if !hasTail {
		if ev.Type == storage.EventDelete {
			// The session's retention ended: nothing more will come.
			for _, sb := range subs {
				h.stop(sb, ErrNotFound)
			}
		}
		return
	}
	if ev.Type != storage.EventPut || !strings.HasPrefix(tail, eventsInfix[1:]) {
		return
	}
	e, err := dec.get()
	if err != nil {
		// A damaged event: let the subscribers re-list and fail there.
		for _, sb := range subs {
			sb.resync = true
			sb.notify()
		}
		return
	}
	for _, sb := range subs {
		if !sb.has || e.Seq > sb.pending.Seq {
			sb.pending, sb.has = e, true
		}
		sb.notify()
	}
}

// storedEventOf opens and decodes one dispatched event at most once, for
// observe and for the subscribers both (the store's value is sealed by the
// vault, and a decode opens the sealed result too); a commit nobody needs
// (a session's record, an event of a session nobody follows) is not
// opened at all.
type storedEventOf struct {
	svc  *Service
	id   string
	kv   storage.KV // the value as the watch delivered it, not yet opened
	open storage.Opener
	done bool
	e    Event
	err  error
}

func (d *storedEventOf) get() (Event, error) {
	if !d.done {
		d.done = true
		v, err := d.open(d.kv.Key, d.kv.Value)
		if err != nil {
			d.err = err
			return d.e, d.err
		}
		d.e, d.err = d.svc.decodeEvent(d.id, d.kv.Key, v)
	}
	return d.e, d.err
}
