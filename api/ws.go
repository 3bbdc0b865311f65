package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/session"
)

// The websocket of a session (GET /v1/sessions/{id}/ws?token=T&after=SEQ):
// every event after SEQ, then each later one, as one JSON text frame each
// (the Event object), in order, exactly once; after the final event the
// server sends a normal close (1000).
//
// A waiting socket costs no goroutine on Linux over plain TCP: the API's
// parking lot (park_lot.go, ws_lot.go) watches it with epoll and reads
// what the client sends when there is something, with a strict frame
// reader (ws_frame.go). Elsewhere it costs one goroutine, its reader.
// Either way the reader only answers pings and notices the close or
// silence (clients send nothing else; anything they send is discarded,
// with a small read limit and a small read buffer).
// There is no writer goroutine while nothing is to be written: the
// session's Follower (one pending slot in the session hub, coalescing to
// the latest event; a lagging socket re-lists, it is never dropped)
// notifies the socket, which then starts a short-lived flush goroutine
// that writes what is due and ends. Pings come from one shared timer
// wheel (wsWheel) for all sockets, the server's shutdown reaches the
// socket through context.AfterFunc, and write buffers are pooled
// (gorilla's WriteBufferPool), so that an idle socket holds no buffer.

// Websocket timing and limits.
const (
	// wsWriteWait bounds one frame's write.
	wsWriteWait = 10 * time.Second
	// wsPongWait is how long the connection may stay silent (no pong, no
	// frame) before it is considered dead.
	wsPongWait = 60 * time.Second
	// wsPingPeriod must be shorter than wsPongWait.
	wsPingPeriod = wsPongWait * 9 / 10
	// wsReadLimit bounds a client frame (clients only send control frames).
	wsReadLimit = 512
	// wsCloseGrace is how long the server waits for the client's answer to
	// its close frame.
	wsCloseGrace = 2 * time.Second
)

// Close codes the server ends a websocket with (RFC 6455): normal after the
// final event; going away when the server shuts down; try again later when
// the watcher fell behind (reconnect with after= the last seq received).
const (
	wsCloseNormal    = websocket.CloseNormalClosure
	wsCloseGoingAway = websocket.CloseGoingAway
	wsCloseTryLater  = websocket.CloseTryAgainLater
	wsCloseInternal  = websocket.CloseInternalServerErr
)

var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	// Clients only send control frames (at most 125 bytes of payload).
	ReadBufferSize:  256,
	WriteBufferSize: 4096,
	// A buffer only while a frame is written.
	WriteBufferPool: &sync.Pool{},
	// The handler checks the Origin against the app's origins before
	// upgrading, and answers a refusal as a JSON error.
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsClose tells how a watcher's end closes the socket.
func wsClose(err error) (int, string) {
	switch {
	case err == nil:
		return wsCloseNormal, "session ended"
	case errors.Is(err, session.ErrSlowWatcher):
		return wsCloseTryLater, "too slow: reconnect with after"
	case errors.Is(err, session.ErrNotFound):
		return wsCloseNormal, "session gone"
	case errors.Is(err, session.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wsCloseGoingAway, "server going away: reconnect with after"
	}
	return wsCloseInternal, "internal error: reconnect with after"
}

func (a *API) watchSocket(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.watchedRef(r)
	if err != nil {
		return err
	}
	id := ref.ID
	if _, err := a.checkAppOrigin(r, ref.AppID); err != nil {
		return err
	}
	after, err := afterParam(r)
	if err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return invalid("upgrade", "a websocket upgrade is required (or use the long-poll events endpoint)")
	}
	c := &wsConn{a: a}
	// Follow before the upgrade, so that a refusal is a JSON error.
	f, err := a.sessions.Follow(r.Context(), id, after, c.notify)
	if err != nil {
		return err
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		f.Close()
		return nil // Upgrade has answered the client
	}
	c.start(conn, f)
	return nil
}

// wsConn is one open websocket.
type wsConn struct {
	a    *API
	conn *websocket.Conn
	f    *session.Follower

	mu       sync.Mutex
	started  bool // start has run: flushes may write
	flushing bool // a flush goroutine runs
	events   bool // the follower has notified since the last Next
	ping     bool // the wheel asked for a ping
	closing  bool // a close frame is sent or the socket is finished
	finished bool
	stop     func() bool // stops the shutdown AfterFunc
	unwatch  func()      // takes the socket out of the parking lot (ws_lot.go); nil: a reader goroutine reads it
	grace    *time.Timer // finishes the socket if the client does not answer the close
	slot     int         // the ping wheel's slot
}

// start runs after the upgrade: the reader, the ping, the shutdown hook,
// and a first flush (the listed events).
func (c *wsConn) start(conn *websocket.Conn, f *session.Follower) {
	c.mu.Lock()
	c.conn, c.f = conn, f
	c.mu.Unlock()
	c.a.wheel.add(c)
	stop := context.AfterFunc(c.a.stopCtx, func() {
		c.close(wsCloseGoingAway, "server going away: reconnect with after")
	})
	c.mu.Lock()
	c.stop, c.started, c.events = stop, true, true
	c.mu.Unlock()
	if !c.a.watchWS(c) {
		go c.read()
	}
	c.kick()
}

// notify is the follower's: something may be due. It runs with the hub's
// lock held and must not block.
func (c *wsConn) notify() {
	c.mu.Lock()
	c.events = true
	c.mu.Unlock()
	c.kick()
}

// pingNow is the wheel's.
func (c *wsConn) pingNow() {
	c.mu.Lock()
	c.ping = true
	c.mu.Unlock()
	c.kick()
}

// kick starts a flush goroutine unless one runs (or the socket is not
// started yet or is closing).
func (c *wsConn) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.flushing || c.closing || !(c.events || c.ping) {
		return
	}
	c.flushing = true
	go c.flush()
}

// flush writes what is due and ends.
func (c *wsConn) flush() {
	for {
		c.mu.Lock()
		events, ping := c.events, c.ping
		c.events, c.ping = false, false
		if c.closing || (!events && !ping) {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if ping {
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				c.finish()
				return
			}
		}
		if !events {
			continue
		}
		evs, done, err := c.f.Next(c.a.stopCtx)
		for _, ev := range evs {
			_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.conn.WriteJSON(ev); err != nil {
				c.finish()
				return
			}
		}
		if done {
			code, text := wsClose(err)
			c.close(code, text)
		}
	}
}

// close sends a close frame (once) and finishes the socket when the
// client answers (the reader sees it) or after wsCloseGrace.
func (c *wsConn) close(code int, text string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.mu.Unlock()
	if err := c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(wsWriteWait)); err != nil {
		c.finish()
		return
	}
	t := time.AfterFunc(wsCloseGrace, c.finish)
	c.mu.Lock()
	c.grace = t
	c.mu.Unlock()
}

// read is the socket's one goroutine: it answers pings, notices the
// client's close or silence, and then finishes the socket.
func (c *wsConn) read() {
	conn := c.conn
	conn.SetReadLimit(wsReadLimit)
	_ = conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
	for {
		if _, _, err := conn.NextReader(); err != nil {
			c.finish()
			return
		}
	}
}

// finish releases everything the socket holds (once).
func (c *wsConn) finish() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished, c.closing = true, true
	grace, stop, unwatch := c.grace, c.stop, c.unwatch
	c.mu.Unlock()
	if unwatch != nil {
		unwatch() // before the close: the descriptor may be reused
	}
	if grace != nil {
		grace.Stop()
	}
	if stop != nil {
		stop()
	}
	c.a.wheel.remove(c)
	c.f.Close()
	_ = c.conn.Close()
}

// wsWheel pings every open socket once per wsPingPeriod from one ticker:
// the period is cut into wsWheelSlots slots and a socket joins the slot
// the ticker reaches last, so that its first ping comes about a period
// after it opened. The ticker runs only while there are sockets.
type wsWheel struct {
	mu      sync.Mutex
	slots   [wsWheelSlots]map[*wsConn]struct{}
	cur     int
	n       int
	running bool
}

const wsWheelSlots = 54 // one tick per wsPingPeriod / wsWheelSlots

func (w *wsWheel) add(c *wsConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c.slot = (w.cur + wsWheelSlots - 1) % wsWheelSlots
	if w.slots[c.slot] == nil {
		w.slots[c.slot] = make(map[*wsConn]struct{})
	}
	w.slots[c.slot][c] = struct{}{}
	w.n++
	if !w.running {
		w.running = true
		go w.run()
	}
}

func (w *wsWheel) remove(c *wsConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.slots[c.slot]
	if _, ok := m[c]; !ok {
		return
	}
	delete(m, c)
	w.n--
	if len(m) == 0 {
		w.slots[c.slot] = nil // a map never shrinks: drop it
	}
}

func (w *wsWheel) run() {
	t := time.NewTicker(wsPingPeriod / wsWheelSlots)
	defer t.Stop()
	var due []*wsConn
	for range t.C {
		w.mu.Lock()
		if w.n == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.cur = (w.cur + 1) % wsWheelSlots
		due = due[:0]
		for c := range w.slots[w.cur] {
			due = append(due, c)
		}
		w.mu.Unlock()
		for _, c := range due {
			c.pingNow()
		}
		if cap(due) > 4096 && len(due) < cap(due)/4 {
			due = nil
		}
	}
}
