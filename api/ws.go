package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/session"
)

// The websocket of a session (GET /v1/sessions/{id}/ws?token=T&after=SEQ):
// every event after SEQ, then each later one, as one JSON text frame each
// (the Event object), in order, exactly once; after the final event the
// server sends a normal close (1000). Per connection there is one reader
// goroutine, which only answers pings and notices the close (clients send
// nothing else; anything they send is discarded, with a small read
// limit), and one writer, the handler itself, which takes events from the
// session watcher (buffered by the session hub: a watcher that falls
// WatchBuffer events behind is dropped, never blocking the confirm or
// other watchers), pings every wsPingPeriod and puts a deadline on every
// write.

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
	ReadBufferSize:   1024,
	WriteBufferSize:  4096,
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
	sess, err := a.watchedSession(r)
	if err != nil {
		return err
	}
	id := sess.ID
	if _, err := a.checkOrigin(r, sess); err != nil {
		return err
	}
	after, err := afterParam(r)
	if err != nil {
		return err
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return invalid("upgrade", "a websocket upgrade is required (or use the long-poll events endpoint)")
	}
	ctx, cancel := a.untilStopping(r.Context())
	defer cancel()
	// Watch before the upgrade, so that a refusal is a JSON error.
	watcher, err := a.sessions.Watch(ctx, id, after)
	if err != nil {
		return err
	}
	defer watcher.Close()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil // Upgrade has answered the client
	}
	defer conn.Close()

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		conn.SetReadLimit(wsReadLimit)
		_ = conn.SetReadDeadline(time.Now().Add(wsPongWait))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-watcher.Events():
			if !ok {
				code, text := wsClose(watcher.Err())
				if err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(wsWriteWait)); err == nil {
					select {
					case <-readDone:
					case <-time.After(wsCloseGrace):
					}
				}
				return nil
			}
			_ = conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := conn.WriteJSON(ev); err != nil {
				return nil
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return nil
			}
		case <-readDone:
			return nil
		}
	}
}
