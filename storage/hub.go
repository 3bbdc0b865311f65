package storage

import (
	"context"
	"strings"
	"sync"
)

// hub fans committed changes out to the watchers of one bbolt store.
//
// Commits hand their events to publish from a bbolt commit handler, that is
// after the transaction is durable. publish delivers strictly in revision
// order: a revision that arrives early is held until every lower one has
// been delivered. Delivery never blocks a writer: a watcher whose buffer is
// full is dropped and its channel closed, and the watcher must re-list.
type hub struct {
	buffer int

	mu       sync.Mutex
	next     int64             // the next revision to deliver
	pending  map[int64][]Event // revisions committed out of order, by revision
	watchers map[*watcher]struct{}
	closed   bool
}

type watcher struct {
	prefix string
	ch     chan Event
	stop   func() bool // stops the context.AfterFunc that removes the watcher
}

func newHub(lastRevision int64, buffer int) *hub {
	return &hub{
		buffer:   buffer,
		next:     lastRevision + 1,
		pending:  make(map[int64][]Event),
		watchers: make(map[*watcher]struct{}),
	}
}

// publish delivers the events of the commit that made revision rev.
func (h *hub) publish(rev int64, events []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || rev < h.next {
		return
	}
	h.pending[rev] = events
	for {
		evs, ok := h.pending[h.next]
		if !ok {
			return
		}
		delete(h.pending, h.next)
		h.next++
		h.deliver(evs)
	}
}

// deliver sends events to every matching watcher without blocking.
// h.mu is held.
func (h *hub) deliver(events []Event) {
	for w := range h.watchers {
		for _, ev := range events {
			if !strings.HasPrefix(ev.KV.Key, w.prefix) {
				continue
			}
			select {
			case w.ch <- ev:
			default:
				h.drop(w) // fell behind: close rather than block the writer
			}
			if _, ok := h.watchers[w]; !ok {
				break
			}
		}
	}
}

// add registers a watcher for prefix until ctx ends or the hub closes.
func (h *hub) add(ctx context.Context, prefix string) (<-chan Event, error) {
	w := &watcher{prefix: prefix, ch: make(chan Event, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.watchers[w] = struct{}{}
	w.stop = context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.drop(w)
	})
	return w.ch, nil
}

// drop removes w and closes its channel; a second drop is a no-op. h.mu is held.
func (h *hub) drop(w *watcher) {
	if _, ok := h.watchers[w]; !ok {
		return
	}
	delete(h.watchers, w)
	close(w.ch)
	w.stop()
}

// close closes every watcher's channel; later publish and add do nothing.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for w := range h.watchers {
		h.drop(w)
	}
	h.pending = nil
}
