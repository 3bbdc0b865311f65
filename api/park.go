package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
)

// Parked long-polls. A long-poll that finds nothing new waits up to
// ?wait= seconds; net/http would keep a goroutine (and a background
// reader goroutine) and about 10 KiB of buffers for it all that time. On a
// plain HTTP/1.1 connection the API instead takes the connection from
// net/http (Hijack) and parks the bare net.Conn on the session's Follower:
// no goroutine and no buffer while it waits. The answer — the events, or
// an empty list at the end of the wait — is written from the event or
// timer path as a complete HTTP/1.1 response, byte for byte what net/http
// would have sent (same headers, same body), and the client's keep-alive
// connection lives on, so the v1 protocol does not change. On Linux the
// connection then stays in the API's parking lot (park_lot.go), which
// reads the next request and serves a plain re-poll itself; elsewhere it
// goes back to the http.Server through its listener (Keepalive). Where the connection cannot be taken (HTTP/2, TLS terminated by
// the gateway, a client that asked to close, no Keepalive wired) the
// request is held by its handler as before.
//
// A parked connection whose client went away is noticed by the lot's
// epoll set (Linux) or by a sweep that peeks at every other parked socket
// once per parkSweepRound (a non-blocking
// MSG_PEEK: end of stream or an error means gone) and is then closed
// without an answer; the wait itself bounds the park in any case. When a
// graceful shutdown begins every parked long-poll is answered with an
// empty list and "Connection: close", as the held handler does.

// Parking timing.
const (
	// parkSlots × parkTick is how often each parked socket is peeked.
	parkSlots = 5
	parkTick  = time.Second
	// parkWriteWait bounds writing a parked long-poll's answer.
	parkWriteWait = 10 * time.Second
	// parkWheelTick is the expiry wheel's step: a wait ends up to one
	// step after its wait= (never before).
	parkWheelTick = 200 * time.Millisecond
	// keepaliveQueue is how many answered connections may wait for the
	// http.Server's accept loop.
	keepaliveQueue = 1024
)

// Outcomes of a parked long-poll (the label of ukeygate_longpoll_parked_total).
const (
	parkEvents   = "events"   // answered with events
	parkEmpty    = "empty"    // answered with none: the wait ended (or the session did)
	parkGone     = "gone"     // the client went away: closed unanswered
	parkShutdown = "shutdown" // a graceful shutdown began: answered with none, connection closed
)

// Keepalive hands the connections of answered parked long-polls back to
// the http.Server: wrap the server's listener with Wrap and give the same
// Keepalive to the API (Deps.Keepalive). The zero value is not usable;
// make one with NewKeepalive.
type Keepalive struct {
	mu     sync.Mutex
	back   chan net.Conn
	closed bool
	wrap   bool
	// lot keeps answered connections with the API (park_lot.go); nil
	// until Serve, or where epoll is not available.
	lot    *lot
	logger *slog.Logger
	// Requests read in the lot: served there, or handed back to net/http;
	// of the served, the re-polls parked by the fast path (park_fast.go).
	served, handedBack, fast atomic.Int64
	// gate: the server's part in the fast path; nil: no fast path.
	gate RepollGate
}

// kept is how many connections the lot holds now (parked or idle).
func (k *Keepalive) kept() int {
	l := k.lotOf()
	if l == nil {
		return 0
	}
	return l.size()
}

// Serve lets the API keep the connections of answered parked long-polls
// and serve their next requests itself (Linux), with h — the same handler
// the http.Server serves — and idle, the http.Server's idle timeout (0:
// none). Call it before the listener from Wrap serves; without it the
// connections go back to the http.Server.
func (k *Keepalive) Serve(h http.Handler, idle time.Duration, log *slog.Logger) {
	l := startLot(k, h, idle)
	k.mu.Lock()
	k.lot, k.logger = l, log
	k.mu.Unlock()
}

func (k *Keepalive) lotOf() *lot {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed || !k.wrap {
		return nil
	}
	return k.lot
}

func (k *Keepalive) log() *slog.Logger {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.logger == nil {
		return slog.Default()
	}
	return k.logger
}

// stopLot: a graceful shutdown began; idle connections in the lot close.
func (k *Keepalive) stopLot() {
	if l := k.lotOf(); l != nil {
		l.stop()
	}
}

// NewKeepalive returns a Keepalive for one listener.
func NewKeepalive() *Keepalive {
	return &Keepalive{back: make(chan net.Conn, keepaliveQueue)}
}

// Wrap returns ln whose Accept also returns the connections given back
// (call it once, for a plain-TCP listener: a connection handed back is
// served as a new connection by the http.Server). Closing the returned
// listener closes ln and every connection still queued.
func (k *Keepalive) Wrap(ln net.Listener) net.Listener {
	k.mu.Lock()
	k.wrap = true
	k.mu.Unlock()
	l := &keepaliveListener{Listener: ln, k: k, acc: make(chan accepted), done: make(chan struct{})}
	go l.pump()
	return l
}

// wrapped reports whether a listener takes the connections back.
func (k *Keepalive) wrapped() bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.wrap && !k.closed
}

// give queues c for the listener's Accept; false: the listener is closed
// (or the queue full) and the caller closes c.
func (k *Keepalive) give(c net.Conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return false
	}
	select {
	case k.back <- c:
		return true
	default:
		return false
	}
}

// close refuses further connections and closes the queued ones.
func (k *Keepalive) close() {
	k.mu.Lock()
	l := k.lot
	k.closed = true
	for done := false; !done; {
		select {
		case c := <-k.back:
			_ = c.Close()
		default:
			done = true
		}
	}
	k.mu.Unlock()
	if l != nil {
		l.close()
	}
}

// replayConn is a connection handed back to net/http with the bytes
// already read from it in front.
type replayConn struct {
	net.Conn
	pre []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// SyscallConn lets the lot watch the connection again once net/http has
// read what was replayed.
func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

type accepted struct {
	c   net.Conn
	err error
}

type keepaliveListener struct {
	net.Listener
	k    *Keepalive
	acc  chan accepted
	done chan struct{}
	once sync.Once
}

// pump accepts from the wrapped listener until it fails for good.
func (l *keepaliveListener) pump() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.acc <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return // permanent: Serve returns with it
			}
		}
	}
}

func (l *keepaliveListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.k.back: // an answered long-poll's connection first
		return c, nil
	default:
	}
	select {
	case c := <-l.k.back:
		return c, nil
	case a := <-l.acc:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *keepaliveListener) Close() error {
	var err error
	l.once.Do(func() {
		l.k.close()
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// canPark reports whether r's long-poll may be parked: a GET without a
// body on plain HTTP/1.1 that keeps its connection, with a listener to
// give it back to.
func (a *API) canPark(r *http.Request, wait time.Duration) bool {
	return wait > 0 && r.Method == http.MethodGet && r.ProtoMajor == 1 && r.ProtoMinor >= 1 &&
		r.TLS == nil && !r.Close && r.ContentLength == 0 && a.keep.wrapped()
}

// parker keeps the parked long-polls: a sweep wheel of parkSlots lists
// (one slot is peeked per parkTick), and the shutdown hook.
type parker struct {
	a       *API
	mu      sync.Mutex
	slots   [parkSlots]*parked // heads of doubly linked lists
	cur     int
	n       int
	swept   int // parked polls the sweep must peek at (not in the lot)
	running bool
	stopped bool
	hook    sync.Once
	// active counts the long-polls taken from net/http and not yet
	// answered or closed (DrainParked waits for them).
	active int
	// expiries: the heads of the lists of parked polls by the wheel tick
	// their wait ends at; a poll leaves its list when it is answered or
	// closed (remove), so that the wheel keeps nothing alive.
	expiries map[int64]*parked
	wheelOn  bool
}

// begin counts a long-poll taken from net/http; finish ends it.
func (pk *parker) begin() {
	pk.mu.Lock()
	pk.active++
	pk.mu.Unlock()
}

func (pk *parker) end() {
	pk.mu.Lock()
	pk.active--
	pk.mu.Unlock()
}

func (pk *parker) count() int {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return pk.active
}

// DrainParked waits, up to timeout, until every parked long-poll has been
// answered or closed; the server calls it after a graceful shutdown began
// (which answers them), before it closes the store.
func (a *API) DrainParked(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		a.park.mu.Lock()
		n := a.park.active
		a.park.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parked is one parked long-poll.
type parked struct {
	pk     *parker
	conn   net.Conn
	f      *session.Follower
	head   []byte // status line and headers, without Date, Content-Length, Connection
	path   string
	remote string
	start  time.Time
	// lc: the connection is in the lot (park_lot.go), which notices a
	// client that goes away; nil: the sweep peeks.
	lc *lotConn
	// memo stands for the request that parked p in its later identical
	// re-polls (park_fast.go); nil: none.
	memo *repollMemo

	// list links, guarded by pk.mu
	slot       int
	prev, next *parked
	listed     bool
	// the expiry wheel's list links, guarded by pk.mu
	wtick        int64
	wprev, wnext *parked
	wlisted      bool

	mu       sync.Mutex
	armed    bool // parked and timed: triggers may run it
	busy     bool // a run is under way
	done     bool // answered or closed
	news     bool // the follower notified
	expired  bool // the wait is over
	stopping bool // a graceful shutdown began
	gone     bool // the client went away
	// closeAfter: answer with Connection: close (set before armed).
	closeAfter bool
}

// notify is the follower's; it runs under the session hub's lock.
func (p *parked) notify() {
	p.mu.Lock()
	p.news = true
	run := p.claimLocked()
	p.mu.Unlock()
	if run {
		go p.run()
	}
}

// claimLocked takes the right to run p if it has something to do and no
// run is under way. p.mu is held.
func (p *parked) claimLocked() bool {
	if !p.armed || p.busy || p.done || !(p.news || p.expired || p.stopping || p.gone) {
		return false
	}
	p.busy = true
	return true
}

// trigger sets one of the flags and runs p here (timer, sweep) if due.
func (p *parked) trigger(set func(p *parked)) {
	p.mu.Lock()
	set(p)
	run := p.claimLocked()
	p.mu.Unlock()
	if run {
		p.run()
	}
}

// run does what is due; one run at a time (busy).
func (p *parked) run() {
	for {
		p.mu.Lock()
		news, expired, stopping, gone := p.news, p.expired, p.stopping, p.gone
		p.news = false
		if p.done || !(news || expired || stopping || gone) {
			p.busy = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if gone {
			p.finish(parkGone, nil, true)
			return
		}
		evs, done, _ := p.f.Next(p.pk.a.stopCtx)
		closing := stopping || p.closeAfter
		switch {
		case len(evs) > 0:
			p.finish(parkEvents, evs, closing)
			return
		case stopping:
			p.finish(parkShutdown, nil, true)
			return
		case done || expired:
			p.finish(parkEmpty, nil, closing)
			return
		}
	}
}

// finish ends the park: the answer (unless the client is gone), then the
// connection back to the http.Server, or closed (closing).
func (p *parked) finish(outcome string, evs []session.Event, closing bool) {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	p.pk.remove(p)
	defer p.pk.end()
	p.f.Close()
	p.pk.a.parkedAnswers.WithLabelValues(outcome).Inc()
	if outcome == parkGone {
		p.closeConn()
		p.pk.a.log.Debug("parked long-poll: the client went away", "path", p.path, "remote", p.remote,
			"duration_ms", msSince(p.start))
		return
	}
	body := emptyEventList
	if len(evs) > 0 {
		b, err := json.Marshal(protocol.EventList{Events: evs})
		if err != nil { // cannot happen with the wire types; close rather than lie
			p.closeConn()
			return
		}
		body = append(b, '\n')
	}
	n, err := p.write(body, closing)
	lvl := slog.LevelDebug // an answer without news is not worth a line each
	if outcome == parkEvents {
		lvl = slog.LevelInfo
	}
	if log := p.pk.a.log; log.Enabled(context.Background(), lvl) {
		log.Log(context.Background(), lvl, "http request",
			"method", http.MethodGet, "path", p.path, "status", http.StatusOK, "bytes", n,
			"duration_ms", msSince(p.start), "remote", p.remote, "parked", true)
	}
	switch {
	case p.lc != nil:
		p.lc.release(err != nil || closing)
	case err != nil || closing || !p.pk.a.keep.give(p.conn):
		_ = p.conn.Close()
	}
}

func (p *parked) closeConn() {
	if p.lc != nil {
		p.lc.drop()
		return
	}
	_ = p.conn.Close()
}

// emptyEventList is the body of an answer without events, as
// json.Marshal writes protocol.EventList{Events: []session.Event{}}.
var emptyEventList = func() []byte {
	b, err := json.Marshal(protocol.EventList{Events: []session.Event{}})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}()

// parkWrites are the buffers answers are rendered into.
var parkWrites = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// write sends the answer with body; closing adds Connection: close.
func (p *parked) write(body []byte, closing bool) (int, error) {
	bp := parkWrites.Get().(*[]byte)
	buf := append((*bp)[:0], p.head...)
	buf = appendTail(buf, nil, body, true, closing)
	// Almost always the socket takes the answer at once; only a client
	// that does not read makes the write wait (up to parkWriteWait).
	n, err := writeNow(p.conn, buf)
	if n < len(buf) && (err == nil || errors.Is(err, syscall.EAGAIN) || errors.Is(err, errors.ErrUnsupported)) {
		_ = p.conn.SetWriteDeadline(time.Now().Add(parkWriteWait))
		_, err = p.conn.Write(buf[max(n, 0):])
		_ = p.conn.SetWriteDeadline(time.Time{})
	}
	if cap(buf) <= 16<<10 {
		*bp = buf[:0]
		parkWrites.Put(bp)
	}
	return len(body), err
}

// appendTail appends what net/http writes after the handler's headers
// (h, those already written; nil: none of Date, Content-Length,
// Content-Type among them): Date, Content-Length, a sniffed Content-Type,
// Connection: close; then the blank line and body.
func appendTail(buf []byte, h http.Header, body []byte, bodyOK, closing bool) []byte {
	if h["Date"] == nil {
		buf = append(buf, "Date: "...)
		buf = time.Now().UTC().AppendFormat(buf, http.TimeFormat)
		buf = append(buf, "\r\n"...)
	}
	if h["Content-Length"] == nil && bodyOK {
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(body)), 10)
		buf = append(buf, "\r\n"...)
	}
	if h != nil && h["Content-Type"] == nil && bodyOK && len(body) > 0 {
		buf = append(buf, "Content-Type: "...)
		buf = append(buf, http.DetectContentType(body)...)
		buf = append(buf, "\r\n"...)
	}
	if closing {
		buf = append(buf, "Connection: close\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	if bodyOK {
		buf = append(buf, body...)
	}
	return buf
}

// renderAnswer appends a whole HTTP/1.1 response as net/http writes it
// for a handler that set h, status and wrote body in full (net/http would
// send a body past its 2 KiB buffer chunked; this sends Content-Length,
// as the parked answers always have).
func renderAnswer(buf []byte, status int, h http.Header, body []byte, closing bool) []byte {
	buf = append(buf, "HTTP/1.1 "...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	buf = append(buf, ' ')
	if text := http.StatusText(status); text != "" {
		buf = append(buf, text...)
	} else {
		buf = append(buf, "status code "...)
		buf = strconv.AppendInt(buf, int64(status), 10)
	}
	buf = append(buf, "\r\n"...)
	aw := appendWriter{buf}
	_ = h.WriteSubset(&aw, headerSkip)
	bodyOK := status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
	return appendTail(aw.b, h, body, bodyOK, closing)
}

// headerSkip: headers net/http writes itself.
var headerSkip = map[string]bool{"Connection": true, "Transfer-Encoding": true}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// parkHead is the status line and the headers h holds (what the
// middleware and the handler set), as net/http would write them.
func parkHead(h http.Header) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.WriteSubset(&b, map[string]bool{"Date": true, "Content-Length": true, "Connection": true, "Transfer-Encoding": true})
	return b.Bytes()
}

// add parks p for wait; after a shutdown began it is answered at once.
func (pk *parker) add(p *parked, wait time.Duration) {
	pk.hook.Do(func() {
		context.AfterFunc(pk.a.stopCtx, pk.stopAll)
	})
	p.lc = pk.a.keep.watch(p)
	pk.mu.Lock()
	stopped := pk.stopped
	if !stopped {
		// The slot the sweep reaches last: the first peek comes about a
		// round after parking.
		p.slot = pk.cur
		p.next = pk.slots[p.slot]
		if p.next != nil {
			p.next.prev = p
		}
		pk.slots[p.slot] = p
		p.listed = true
		pk.n++
		if p.lc == nil {
			pk.swept++
		}
		if !pk.running && pk.swept > 0 {
			pk.running = true
			go pk.sweep()
		}
	}
	pk.mu.Unlock()
	pk.expireAt(p, time.Now().Add(wait))
	p.mu.Lock()
	p.armed = true
	p.stopping = p.stopping || stopped
	run := p.claimLocked()
	p.mu.Unlock()
	if run {
		go p.run()
	}
}

// expireAt ends p's wait at the first tick of the expiry wheel at or
// after due: one goroutine for every parked poll's wait instead of a
// timer each (a timer runs its function on a new goroutine).
func (pk *parker) expireAt(p *parked, due time.Time) {
	tick := (due.UnixNano() + int64(parkWheelTick) - 1) / int64(parkWheelTick)
	pk.mu.Lock()
	if pk.expiries == nil {
		pk.expiries = make(map[int64]*parked)
	}
	if !p.wlisted { // p is not armed yet: nothing has answered it
		p.wtick, p.wprev, p.wnext, p.wlisted = tick, nil, pk.expiries[tick], true
		if p.wnext != nil {
			p.wnext.wprev = p
		}
		pk.expiries[tick] = p
	}
	if !pk.wheelOn {
		pk.wheelOn = true
		go pk.wheel()
	}
	pk.mu.Unlock()
}

// wheel ends the waits that are due, once per parkWheelTick, while any
// is pending. The answers of one tick are written on one goroutine (a
// write that cannot finish at once waits there, up to parkWriteWait).
func (pk *parker) wheel() {
	t := time.NewTicker(parkWheelTick)
	defer t.Stop()
	for now := range t.C {
		cur := now.UnixNano() / int64(parkWheelTick)
		var due []*parked
		pk.mu.Lock()
		for tick, p := range pk.expiries {
			if tick > cur && !pk.stopped {
				continue
			}
			for ; p != nil; p = p.wnext {
				p.wlisted = false
				p.wprev = nil
				due = append(due, p)
			}
			delete(pk.expiries, tick)
		}
		for _, p := range due {
			p.wnext = nil
		}
		if pk.stopped {
			// A graceful shutdown answered every parked poll.
			due = nil
		}
		if len(pk.expiries) == 0 && len(due) == 0 {
			pk.wheelOn = false
			pk.mu.Unlock()
			return
		}
		pk.mu.Unlock()
		if len(due) > 0 {
			go func() {
				for _, p := range due {
					p.trigger(func(p *parked) { p.expired = true })
				}
			}()
		}
	}
}

// remove unlinks p (once) from the sweep's list and the expiry wheel.
func (pk *parker) remove(p *parked) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if p.wlisted {
		p.wlisted = false
		if p.wprev != nil {
			p.wprev.wnext = p.wnext
		} else if p.wnext != nil {
			pk.expiries[p.wtick] = p.wnext
		} else {
			delete(pk.expiries, p.wtick)
		}
		if p.wnext != nil {
			p.wnext.wprev = p.wprev
		}
		p.wprev, p.wnext = nil, nil
	}
	if !p.listed {
		return
	}
	p.listed = false
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		pk.slots[p.slot] = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	}
	p.prev, p.next = nil, nil
	pk.n--
	if p.lc == nil {
		pk.swept--
	}
}

// stopAll answers every parked long-poll: a graceful shutdown began.
func (pk *parker) stopAll() {
	pk.mu.Lock()
	pk.stopped = true
	var all []*parked
	for _, p := range pk.slots {
		for ; p != nil; p = p.next {
			all = append(all, p)
		}
	}
	pk.mu.Unlock()
	for _, p := range all {
		p.mu.Lock()
		p.stopping = true
		run := p.claimLocked()
		p.mu.Unlock()
		if run {
			go p.run()
		}
	}
	pk.a.keep.stopLot()
}

// sweep peeks at one slot's sockets per parkTick while anything is parked.
func (pk *parker) sweep() {
	t := time.NewTicker(parkTick)
	defer t.Stop()
	var due []*parked
	for range t.C {
		pk.mu.Lock()
		if pk.swept == 0 {
			pk.running = false
			pk.mu.Unlock()
			return
		}
		pk.cur = (pk.cur + 1) % parkSlots
		due = due[:0]
		for p := pk.slots[pk.cur]; p != nil; p = p.next {
			due = append(due, p)
		}
		pk.mu.Unlock()
		for i, p := range due {
			due[i] = nil
			if p.lc == nil && peerGone(p.conn) {
				p.trigger(func(p *parked) { p.gone = true })
			}
		}
		if cap(due) > 4096 && pk.size() < cap(due)/4 {
			due = nil
		}
	}
}

func (pk *parker) size() int {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return pk.n
}
