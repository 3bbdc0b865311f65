package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Watcher streams the events of one session. Read Events until it is
// closed, then call Err to learn why:
//   - nil: the session's final event was delivered (or had been delivered
//     before: after was already the final event's Seq);
//   - ErrSlowWatcher: the reader fell behind and was dropped;
//   - ErrNotFound: the session's records were deleted (retention ended);
//   - ErrClosed: Close was called or the Service closed;
//   - the context's error, or a store error.
//
// Whatever the reason, reconnecting with after = the last Seq received
// loses nothing and repeats nothing.
type Watcher struct {
	c       chan Event
	closeCh chan struct{}
	once    sync.Once

	mu  sync.Mutex
	err error
}

// Events returns the channel of events, in Seq order, each exactly once.
func (w *Watcher) Events() <-chan Event { return w.c }

// Err returns why Events was closed (nil while it is open, and after the
// final event).
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops the watcher; Events is closed soon after. Safe to call more
// than once and concurrently.
func (w *Watcher) Close() { w.once.Do(func() { close(w.closeCh) }) }

// Watch streams the events of session id with Seq > after (0: from the
// first, "waiting"), then every later event as it is committed, on any
// node, in order, exactly once; Events closes after the final event. A
// session that does not exist is ErrNotFound; after beyond the last event
// is ErrInvalidSeq; a negative after is ErrInvalidArgument. The caller has
// checked the watch token (CheckWatchToken) or the app key.
//
// It is a Follower with a goroutine feeding a channel; a server that
// keeps many waiting clients uses Follow directly, without the goroutine.
func (s *Service) Watch(ctx context.Context, id string, after int64) (*Watcher, error) {
	wake := make(chan struct{}, 1)
	f, err := s.Follow(ctx, id, after, func() {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	})
	if err != nil {
		return nil, err
	}
	w := &Watcher{c: make(chan Event), closeCh: make(chan struct{})}
	go s.runWatcher(ctx, w, f, wake)
	return w, nil
}

func (s *Service) runWatcher(ctx context.Context, w *Watcher, f *Follower, wake <-chan struct{}) {
	defer f.Close()
	var err error
loop:
	for {
		evs, done, ferr := f.Next(ctx)
		for _, e := range evs {
			select {
			case w.c <- e:
			case <-ctx.Done():
				err = ctx.Err()
				break loop
			case <-w.closeCh:
				err = ErrClosed
				break loop
			}
		}
		if done {
			err = ferr
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		case <-w.closeCh:
			err = ErrClosed
			break loop
		}
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.c)
}

// Follower follows the events of one session without a goroutine of its
// own: the hub calls its notify function when there may be something new,
// and the owner then calls Next (from one goroutine at a time; a notify may
// come before Follow returns). A websocket or a long-poll parks on it with
// nothing but its registration in the hub (one pending slot).
type Follower struct {
	s      *Service
	sb     *sub
	last   int64
	listed []Event
	first  bool
	done   bool
	err    error
	once   sync.Once
}

// Follow registers a follower of session id's events with Seq > after
// (0: from the first); the refusals are Watch's. notify is called, from
// the hub, without blocking, whenever Next may return something or end:
// it must be quick and must not call the Follower (typically it wakes the
// goroutine that will). Close the follower when done with it.
//
// It subscribes to the hub before listing the stored events, and dedupes
// by Seq: an event is either listed or arrives through the hub (or both).
func (s *Service) Follow(ctx context.Context, id string, after int64, notify func()) (*Follower, error) {
	if after < 0 {
		return nil, fmt.Errorf("%w: after=%d is negative", ErrInvalidArgument, after)
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if notify == nil {
		notify = func() {}
	}
	sb, last, firstAt, isKnown, err := s.hub.subscribeKnown(id, notify)
	if err != nil {
		return nil, err
	}
	if isKnown && after == last {
		// The client has every event (the hub knows the last one): park
		// without reading the store.
		s.metrics.watcherOpened()
		return &Follower{s: s, sb: sb, last: after}, nil
	}
	if isKnown && after == 0 && last == 1 && !firstAt.IsZero() {
		// A session made here, still at its first event (the portal's
		// first watch request): that event from memory.
		s.metrics.watcherOpened()
		return &Follower{s: s, sb: sb, last: after, listed: []Event{firstEvent(firstAt)}, first: true}, nil
	}
	evs, err := s.listEvents(ctx, id)
	if err == nil && len(evs) == 0 {
		err = ErrNotFound
	}
	if err == nil && after > evs[len(evs)-1].Seq {
		err = fmt.Errorf("%w: after=%d, last event %d", ErrInvalidSeq, after, evs[len(evs)-1].Seq)
	}
	if err != nil {
		s.hub.unsubscribe(sb)
		return nil, err
	}
	s.metrics.watcherOpened()
	return &Follower{s: s, sb: sb, last: after, listed: evs, first: true}, nil
}

// Next returns the events after the last one it returned, in Seq order,
// each exactly once (possibly none: call it again after the next notify).
// done reports that the follower has ended, after the events returned with
// it: err is then nil when the final event was delivered (or had been
// before: after was the final event's Seq), else why it ended (ErrNotFound
// when the session's records were deleted, ErrClosed, a store error). A
// reader that reconnects with after = the last Seq received loses
// nothing and repeats nothing.
func (f *Follower) Next(ctx context.Context) (evs []Event, done bool, err error) {
	if f.done {
		return nil, true, f.err
	}
	t := f.s.hub.take(f.sb)
	var out []Event
	final := false
	// add appends e unless it is old; live events also feed the
	// commit-to-push latency.
	add := func(e Event, live bool) {
		if final || e.Seq <= f.last {
			return
		}
		out = append(out, e)
		f.last = e.Seq
		if live {
			f.s.metrics.pushed(e.State, f.s.now().Sub(e.At))
		}
		final = e.State.Final()
	}
	catchUp := func(evs []Event) {
		for _, e := range evs {
			add(e, false)
		}
		if n := len(evs); n > 0 && evs[n-1].State.Final() && evs[n-1].Seq <= f.last {
			final = true // nothing can follow a final event
		}
	}
	if f.first {
		f.first = false
		catchUp(f.listed)
		f.listed = nil
	}
	switch {
	case final:
	case t.resync || (t.has && t.pending.Seq > f.last+1):
		// A re-opened store watch, or events coalesced in the slot:
		// the store has them all, in order.
		evs, err := f.s.listEvents(ctx, f.sb.id)
		if err == nil && len(evs) == 0 {
			err = ErrNotFound
		}
		if err != nil {
			return f.end(out, err)
		}
		catchUp(evs)
	case t.has && t.pending.Seq == f.last+1:
		add(t.pending, true)
	}
	if final {
		return f.end(out, nil)
	}
	if t.stopped {
		return f.end(out, t.err)
	}
	return out, false, nil
}

func (f *Follower) end(out []Event, err error) ([]Event, bool, error) {
	f.done, f.err = true, err
	f.Close()
	return out, true, err
}

// Close ends the follower's registration; safe to call more than once and
// concurrently with a notify (not with Next).
func (f *Follower) Close() {
	f.once.Do(func() {
		f.s.hub.unsubscribe(f.sb)
		f.s.metrics.watcherClosed()
	})
}

// Poll is the long-poll form of Watch: it returns the stored events of
// session id with Seq > after at once if there are any; otherwise it waits
// up to wait for the next ones and returns what arrived (an empty slice on
// timeout, or at once if the session has ended and after is its final
// event). The caller bounds wait. It waits on a Follower: no goroutine of
// its own, one store listing per call.
func (s *Service) Poll(ctx context.Context, id string, after int64, wait time.Duration) ([]Event, error) {
	wake := make(chan struct{}, 1)
	f, err := s.Follow(ctx, id, after, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var timeout <-chan time.Time
	for {
		evs, done, _ := f.Next(ctx)
		if len(evs) > 0 {
			return evs, nil
		}
		if done || wait <= 0 {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return []Event{}, nil
		}
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-wake:
		case <-timeout:
			return []Event{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
