package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// Watch timing.
const (
	// The events endpoint's wait=: the session's watch.poll_wait, at most
	// maxLongPollWait (under the default client's 60 s timeout: a custom
	// Client.HTTP must allow the wait plus a margin), or
	// defaultLongPollWait from a server that does not say (v1).
	defaultLongPollWait = 25 * time.Second
	maxLongPollWait     = 55 * time.Second
	wsReadTimeout       = 90 * time.Second // no message or ping for this long: reconnect
	wsHandshake         = 10 * time.Second
	maxBackoff          = 15 * time.Second
	maxEventMessage     = 64 << 20
	watchChannelSize    = 16
	minPollGap          = time.Second // never re-poll an empty answer faster
)

// Watch follows the events of s (created by this client: it needs
// s.Watch.Token) and delivers each one exactly once, in sequence order,
// starting with the session's current state. It uses the websocket and, if
// that cannot connect, long-polling; after a dropped connection it
// reconnects with after=<last seq> so that nothing is lost or repeated.
//
// The first connection is made before Watch returns, so a refused watch
// (wrong token, unknown session) is its error. The channel is closed after
// the final event (completed, rejected, failed, expired, cancelled), when
// ctx ends, or when the gateway later refuses the watch; use Wait to learn
// why a watch ended early.
func (c *Client) Watch(ctx context.Context, s *Session) (<-chan Event, error) {
	w, err := c.newWatcher(s)
	if err != nil {
		return nil, err
	}
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	ch := make(chan Event, watchChannelSize)
	go func() {
		defer close(ch)
		_ = w.run(ctx, func(ev Event) bool {
			select {
			case ch <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return ch, nil
}

// Wait follows s like Watch until its final event and returns that event,
// whatever the state: check ev.State (and ev.Login() etc. when completed).
// The error is nil exactly when a final event was received.
func (c *Client) Wait(ctx context.Context, s *Session) (*Event, error) {
	w, err := c.newWatcher(s)
	if err != nil {
		return nil, err
	}
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	var final *Event
	err = w.run(ctx, func(ev Event) bool {
		if isFinal(&ev) {
			e := ev
			final = &e
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return final, nil
}

func isFinal(ev *Event) bool {
	return (ev.Type == "" || ev.Type == "state") && FinalState(ev.State)
}

// watcher is the state of one Watch/Wait.
type watcher struct {
	c         *Client
	wsURL     *url.URL // nil: long-poll only
	eventsURL *url.URL
	last      int64 // highest seq delivered; seqs start at 1
	longPoll  bool
	conn      *websocket.Conn // the open socket between start and run
	pending   []Event         // events the first long-poll fetched
	failures  int
	wait      time.Duration // the long-poll's wait=
}

func (c *Client) newWatcher(s *Session) (*watcher, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if s == nil || s.Watch.Token == "" {
		return nil, fmt.Errorf("%w: session without watch token", ErrInvalidArgument)
	}
	w := &watcher{c: c, longPoll: c.Transport == "longpoll", wait: defaultLongPollWait}
	if pw := time.Duration(s.Watch.PollWait) * time.Second; pw > 0 {
		w.wait = min(pw, maxLongPollWait)
	}
	withToken := func(ref string) (*url.URL, error) {
		u, err := c.resolve(ref)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		if q.Get("token") == "" {
			q.Set("token", s.Watch.Token)
		}
		u.RawQuery = q.Encode()
		return u, nil
	}
	var err error
	if s.Watch.WSURL != "" {
		if w.wsURL, err = withToken(s.Watch.WSURL); err != nil {
			return nil, err
		}
		switch w.wsURL.Scheme {
		case "http":
			w.wsURL.Scheme = "ws"
		case "https":
			w.wsURL.Scheme = "wss"
		}
	}
	events := s.Watch.EventsURL
	if events == "" {
		p, err := sessionPath(s.ID, "/events")
		if err != nil {
			return nil, fmt.Errorf("%w: session without events_url or id", ErrInvalidArgument)
		}
		events = p
	}
	if w.eventsURL, err = withToken(events); err != nil {
		return nil, err
	}
	if w.eventsURL.Scheme != "http" && w.eventsURL.Scheme != "https" {
		return nil, fmt.Errorf("%w: events_url %q is not http(s)", ErrProtocol, events)
	}
	if w.wsURL == nil || (w.wsURL.Scheme != "ws" && w.wsURL.Scheme != "wss") {
		w.longPoll = true
	}
	return w, nil
}

// start makes the first connection: the websocket, or else one long-poll
// that returns at once. A refusal by the gateway is returned.
func (w *watcher) start(ctx context.Context) error {
	if !w.longPoll {
		conn, err := w.dial(ctx)
		if err == nil {
			w.conn = conn
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrWatchEnded, ctx.Err())
		}
		w.longPoll = true // blocked or refused: long-poll tells which
	}
	evs, err := w.poll(ctx, 0)
	if err != nil {
		return err
	}
	w.pending = evs
	return nil
}

// run delivers events through emit until the final one (nil), until emit
// returns false or ctx ends (ErrWatchEnded), or until the gateway refuses
// the watch (its *APIError, wrapped with ErrWatchEnded).
func (w *watcher) run(ctx context.Context, emit func(Event) bool) error {
	if w.conn != nil {
		defer w.conn.Close()
	}
	deliver := func(evs []Event) (done bool, err error) {
		for _, ev := range evs {
			if ev.Seq <= w.last {
				continue // already delivered before a reconnect
			}
			w.last = ev.Seq
			if !emit(ev) {
				return true, fmt.Errorf("%w: receiver gone", ErrWatchEnded)
			}
			if isFinal(&ev) {
				return true, nil
			}
		}
		return false, nil
	}
	if done, err := deliver(w.pending); done {
		return err
	}
	w.pending = nil
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrWatchEnded, err)
		}
		if !w.longPoll {
			conn := w.conn
			w.conn = nil
			if conn == nil {
				var err error
				if conn, err = w.dial(ctx); err != nil {
					w.longPoll = true // the socket stopped working: fall back
					continue
				}
			}
			done, err := w.stream(ctx, conn, deliver)
			if done {
				return err
			}
			w.sleep(ctx) // the loop head reports an ended ctx
			continue
		}
		started, before := time.Now(), w.last
		evs, err := w.poll(ctx, w.wait)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && !ae.Temporary() {
				return fmt.Errorf("%w: %w", ErrWatchEnded, err)
			}
			if errors.Is(err, ErrInvalidArgument) {
				return fmt.Errorf("%w: %w", ErrWatchEnded, err)
			}
			w.sleep(ctx)
			continue
		}
		w.failures = 0
		if done, err := deliver(evs); done {
			return err
		}
		if w.last == before {
			// Nothing new came back early (a gateway or proxy that does
			// not hold the request): do not hammer it.
			if !w.pause(ctx, minPollGap-time.Since(started)) {
				continue // the loop head reports ctx
			}
		}
	}
}

// pause waits d (nothing if d <= 0); false if ctx ended first.
func (w *watcher) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleep waits a jittered, growing backoff; false if ctx ended first.
func (w *watcher) sleep(ctx context.Context) bool {
	d := min(250*time.Millisecond<<min(w.failures, 6), maxBackoff)
	d = d/2 + rand.N(d/2+1)
	w.failures++
	return w.pause(ctx, d)
}

func (w *watcher) header() http.Header {
	h := http.Header{}
	if w.c.Origin != "" {
		h.Set("Origin", w.c.Origin)
	}
	return h
}

// dial opens the websocket with after=<last seq>.
func (w *watcher) dial(ctx context.Context) (*websocket.Conn, error) {
	u := *w.wsURL
	q := u.Query()
	q.Set("after", strconv.FormatInt(w.last, 10))
	u.RawQuery = q.Encode()
	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: wsHandshake}
	if t, ok := w.c.httpClient().Transport.(*http.Transport); ok && t != nil {
		d.TLSClientConfig = t.TLSClientConfig
		if t.Proxy != nil {
			d.Proxy = t.Proxy
		}
	}
	conn, resp, err := d.DialContext(ctx, u.String(), w.header())
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	conn.SetReadLimit(maxEventMessage)
	return conn, nil
}

// stream reads events from conn until the final one or a broken
// connection (then done is false and the caller reconnects).
func (w *watcher) stream(ctx context.Context, conn *websocket.Conn, deliver func([]Event) (bool, error)) (done bool, err error) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return true, fmt.Errorf("%w: %w", ErrWatchEnded, ctx.Err())
			}
			return false, nil
		}
		_ = conn.SetReadDeadline(time.Now().Add(wsReadTimeout))
		evs, err := ParseEvents(msg)
		if err != nil {
			continue // not an event (a future message type): ignore it
		}
		w.failures = 0
		if done, err := deliver(evs); done {
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return true, err
		}
	}
}

// poll makes one long-poll request: events after the last seq, waiting up
// to wait for one to happen.
func (w *watcher) poll(ctx context.Context, wait time.Duration) ([]Event, error) {
	u := *w.eventsURL
	q := u.Query()
	q.Set("after", strconv.FormatInt(w.last, 10))
	q.Set("wait", strconv.Itoa(int(wait/time.Second)))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	req.Header = w.header()
	req.Header.Set("Accept", "application/json")
	resp, err := w.c.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrWatchEnded, ctx.Err())
		}
		return nil, fmt.Errorf("portal: long-poll: %w", err)
	}
	defer resp.Body.Close()
	var body json.RawMessage
	if err := decodeResponse(resp, &body); err != nil {
		return nil, err
	}
	return ParseEvents(body)
}

// ParseEvents reads the events of one websocket message or long-poll
// answer: {"events": [...]}, a JSON array of events, or one event object.
// Every event needs a positive seq and the seqs must increase (the gateway
// sends them in order); the result is never nil on success.
func ParseEvents(b []byte) ([]Event, error) {
	b = bytes.TrimSpace(b)
	var evs []Event
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &evs); err != nil {
			return nil, fmt.Errorf("%w: events: %v", ErrProtocol, err)
		}
	case len(b) > 0 && b[0] == '{':
		var probe struct {
			Events *[]Event        `json:"events"`
			Seq    json.RawMessage `json:"seq"`
		}
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("%w: events: %v", ErrProtocol, err)
		}
		switch {
		case probe.Events != nil:
			evs = *probe.Events
		case probe.Seq != nil:
			var ev Event
			if err := json.Unmarshal(b, &ev); err != nil {
				return nil, fmt.Errorf("%w: event: %v", ErrProtocol, err)
			}
			evs = []Event{ev}
		default:
			return nil, fmt.Errorf("%w: neither an event nor an event list", ErrProtocol)
		}
	default:
		return nil, fmt.Errorf("%w: events: not a JSON object or array", ErrProtocol)
	}
	for i := range evs {
		if evs[i].Seq <= 0 {
			return nil, fmt.Errorf("%w: event without a positive seq", ErrProtocol)
		}
		if i > 0 && evs[i].Seq <= evs[i-1].Seq {
			return nil, fmt.Errorf("%w: events out of order", ErrProtocol)
		}
	}
	if evs == nil {
		evs = []Event{}
	}
	return evs, nil
}
