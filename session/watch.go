package session

import (
	"context"
	"errors"
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
// It subscribes to the hub before listing the stored events, and dedupes
// by Seq: an event is either listed or arrives through the hub (or both).
func (s *Service) Watch(ctx context.Context, id string, after int64) (*Watcher, error) {
	if after < 0 {
		return nil, fmt.Errorf("%w: after=%d is negative", ErrInvalidArgument, after)
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	sb, err := s.hub.subscribe(id)
	if err != nil {
		return nil, err
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
	w := &Watcher{c: make(chan Event), closeCh: make(chan struct{})}
	s.metrics.watcherOpened()
	go s.runWatcher(ctx, w, sb, after, evs)
	return w, nil
}

// errFinal ends a watcher normally.
var errFinal = errors.New("session: final event delivered")

func (s *Service) runWatcher(ctx context.Context, w *Watcher, sb *sub, last int64, listed []Event) {
	defer s.metrics.watcherClosed()
	defer s.hub.unsubscribe(sb)

	// deliver sends e unless it is old; live events also feed the
	// commit-to-push latency.
	deliver := func(e Event, live bool) error {
		if e.Seq <= last {
			return nil
		}
		select {
		case w.c <- e:
		case <-sb.stopped:
			return sb.err
		case <-ctx.Done():
			return ctx.Err()
		case <-w.closeCh:
			return ErrClosed
		}
		last = e.Seq
		if live {
			s.metrics.pushed(e.State, s.now().Sub(e.At))
		}
		if e.State.Final() {
			return errFinal
		}
		return nil
	}
	// catchUp delivers stored events after last.
	catchUp := func(evs []Event) error {
		for _, e := range evs {
			if err := deliver(e, false); err != nil {
				return err
			}
		}
		if n := len(evs); n > 0 && evs[n-1].State.Final() && evs[n-1].Seq <= last {
			return errFinal // nothing can follow a final event
		}
		return nil
	}
	relist := func() error {
		evs, err := s.listEvents(ctx, sb.id)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return ErrNotFound
		}
		return catchUp(evs)
	}

	err := catchUp(listed)
	for err == nil {
		select {
		case e := <-sb.in:
			switch {
			case e.Seq <= last:
			case e.Seq == last+1:
				err = deliver(e, true)
			default: // a gap: the hub's watch was re-opened; re-list
				err = relist()
			}
		case <-sb.resync:
			err = relist()
		case <-sb.stopped:
			err = sb.err
		case <-ctx.Done():
			err = ctx.Err()
		case <-w.closeCh:
			err = ErrClosed
		}
	}
	if err == errFinal {
		err = nil
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.c)
}

// Poll is the long-poll form of Watch: it returns the stored events of
// session id with Seq > after at once if there are any; otherwise it waits
// up to wait for the next ones and returns what arrived (an empty slice on
// timeout, or at once if the session has ended and after is its final
// event). The caller bounds wait.
func (s *Service) Poll(ctx context.Context, id string, after int64, wait time.Duration) ([]Event, error) {
	evs, err := s.Events(ctx, id, after)
	if err != nil || len(evs) > 0 || wait <= 0 {
		return evs, err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	w, err := s.Watch(wctx, id, after)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	out := []Event{}
	e, ok := <-w.Events()
	if !ok {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return out, nil
	}
	out = append(out, e)
	for {
		select {
		case e, ok := <-w.Events():
			if !ok {
				return out, nil
			}
			out = append(out, e)
		default:
			return out, nil
		}
	}
}
