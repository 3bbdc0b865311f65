package session

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ukeygate/ukeygate/storage"
)

// hub keeps ONE store watch on "sessions/" per Service and fans its events
// out to the subscribers of each session. It never blocks on a subscriber:
// a subscriber whose buffer is full is dropped (stopped with
// ErrSlowWatcher). When the store watch ends (the store dropped the hub for
// falling behind, or the backend hiccuped) the hub opens a new one and then
// tells every subscriber to re-list, so that no event is missed.
type hub struct {
	svc    *Service
	buffer int

	mu      sync.Mutex
	subs    map[string]map[*sub]struct{}
	started bool
	closed  bool
	// open is closed once the store watch has first opened: from then on
	// every committed event reaches dispatch (tests wait on it).
	open     chan struct{}
	openOnce sync.Once
}

// sub is one watcher's registration.
type sub struct {
	id      string
	in      chan Event    // events of the session, in store order
	resync  chan struct{} // capacity 1: "re-list, you may have missed events"
	stopped chan struct{} // closed by stop
	err     error         // why it was stopped; set before stopped closes
}

func newHub(s *Service) *hub {
	return &hub{
		svc:    s,
		buffer: s.cfg.WatchBuffer,
		subs:   make(map[string]map[*sub]struct{}),
		open:   make(chan struct{}),
	}
}

// subscribe registers a subscriber for session id, starting the hub's
// store watch on first use. A subscriber registered before the watch is
// open is told to re-list once it is.
func (h *hub) subscribe(id string) (*sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if !h.started {
		h.started = true
		h.svc.wg.Add(1)
		go h.run()
	}
	sb := &sub{
		id:      id,
		in:      make(chan Event, h.buffer),
		resync:  make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	m := h.subs[id]
	if m == nil {
		m = make(map[*sub]struct{})
		h.subs[id] = m
	}
	m[sb] = struct{}{}
	return sb, nil
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
	if _, ok := m[sb]; !ok {
		return false
	}
	delete(m, sb)
	if len(m) == 0 {
		delete(h.subs, sb.id)
	}
	return true
}

// stop removes sb and ends it with err. h.mu is held.
func (h *hub) stop(sb *sub, err error) {
	if h.remove(sb) {
		sb.err = err
		close(sb.stopped)
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
		for sb := range m {
			h.stop(sb, err)
		}
	}
}

func (h *hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.subs {
		for sb := range m {
			select {
			case sb.resync <- struct{}{}:
			default: // a resync is already pending
			}
		}
	}
}

// run keeps the store watch open until the Service closes.
func (h *hub) run() {
	defer h.svc.wg.Done()
	ctx := h.svc.ctx
	backoff := 50 * time.Millisecond
	for {
		ch, err := h.svc.store.Watch(ctx, sessionsPrefix)
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
		h.openOnce.Do(func() { close(h.open) })
		// Events committed before this watch opened are not in ch: every
		// subscriber re-lists now (its List happens after the open).
		h.resyncAll()
		for ev := range ch {
			h.dispatch(ev)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// dispatch hands one store event to the subscribers of its session.
func (h *hub) dispatch(ev storage.Event) {
	rest, ok := strings.CutPrefix(ev.KV.Key, sessionsPrefix)
	if !ok {
		return
	}
	id, tail, hasTail := strings.Cut(rest, "/")
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.subs[id]
	if len(subs) == 0 {
		return
	}
	if !hasTail {
		if ev.Type == storage.EventDelete {
			// The session's retention ended: nothing more will come.
			for sb := range subs {
				h.stop(sb, ErrNotFound)
			}
		}
		return
	}
	if ev.Type != storage.EventPut || !strings.HasPrefix(tail, eventsInfix[1:]) {
		return
	}
	e, err := h.svc.decodeEvent(id, ev.KV.Key, ev.KV.Value)
	if err != nil {
		// A damaged event: let the subscribers re-list and fail there.
		for sb := range subs {
			select {
			case sb.resync <- struct{}{}:
			default:
			}
		}
		return
	}
	for sb := range subs {
		select {
		case sb.in <- e:
		default:
			h.stop(sb, ErrSlowWatcher)
			h.svc.metrics.dropped()
		}
	}
}
