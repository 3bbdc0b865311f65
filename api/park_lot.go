//go:build linux

package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The parking lot (Linux): the connections of parked long-polls stay with
// the API between polls instead of going back to net/http. One goroutine
// waits on an epoll set that holds every such socket (edge-triggered:
// readable or hung up). A socket that becomes readable while its poll is
// parked has a client that went away (or one that sent its next request
// early, kept for after the answer); one that becomes readable after its
// answer carries the client's next request, which is read here (one read
// into a pooled buffer) and, when it is a plain re-poll — one complete
// GET of /v1/sessions/{id}/events on HTTP/1.1, nothing after it — served
// by the server's own handler (every middleware, the same checks) with a
// ResponseWriter that renders the answer as net/http would. Anything else
// (another request, a malformed or pipelined one, a partial read) goes
// back to net/http with the bytes already read replayed in front of the
// connection, so net/http answers it exactly as it would have.

const (
	// lotRead is the pooled buffer one re-poll is read into; a request
	// that does not fit goes to net/http.
	lotRead = 4096
	lotHup  = unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	// lotWorkerIdle is how long a worker waits for more work: workers
	// keep the stack the handler chain grew (a new goroutine per request
	// would grow it again each time).
	lotWorkerIdle = 2 * time.Second
)

// States of a connection in the lot.
const (
	lcBusy   = iota // a request is being read or served
	lcParked        // its long-poll is parked
	lcIdle          // answered; waiting for the next request
	lcGone          // closed or handed back
)

type lot struct {
	k       *Keepalive
	handler http.Handler
	idle    time.Duration
	epfd    int

	mu       sync.Mutex
	conns    map[net.Conn]*lotConn
	fds      map[int32]lotMember
	gen      int32
	closed   bool // the listener closed: the epoll set is gone
	stopping bool // a graceful shutdown began

	// work hands a connection whose request came to an idle worker.
	work chan *lotConn
}

// lotMember is what the epoll set reports to: a kept HTTP connection
// (lotConn) or a websocket (wsMember, ws_lot.go).
type lotMember interface {
	event(ev uint32)
	generation() int32
}

func (lc *lotConn) generation() int32 { return lc.gen }

type lotConn struct {
	l      *lot
	conn   net.Conn
	fd     int32
	gen    int32
	remote string

	mu     sync.Mutex
	state  int
	pend   uint32 // epoll events not yet acted on
	p      *parked
	idleAt time.Time
	timer  *time.Timer
	brw    *bufio.ReadWriter
	// memo: the last long-poll the whole chain parked from this
	// connection, which its identical re-polls match (park_fast.go).
	memo *repollMemo
	// pre: a request the lot's goroutine read but could not serve from
	// memory (preN bytes), for the worker that serves it.
	pre  *[]byte
	preN int
}

var lotBufs = sync.Pool{New: func() any { b := make([]byte, lotRead); return &b }}

type lotParser struct {
	rd bytes.Reader
	br *bufio.Reader
}

var lotParsers = sync.Pool{New: func() any {
	p := &lotParser{}
	p.br = bufio.NewReaderSize(&p.rd, lotRead)
	return p
}}

// startLot makes the lot; nil if epoll is not available.
func startLot(k *Keepalive, h http.Handler, idle time.Duration) *lot {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	l := &lot{k: k, handler: h, idle: idle, epfd: epfd,
		conns: make(map[net.Conn]*lotConn), fds: make(map[int32]lotMember), work: make(chan *lotConn)}
	go l.loop()
	return l
}

// loop is the one goroutine that waits on the epoll set.
func (l *lot) loop() {
	evs := make([]unix.EpollEvent, 256)
	lcs := make([]lotMember, 0, len(evs))
	for {
		n, err := unix.EpollWait(l.epfd, evs, 1000)
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = unix.Close(l.epfd)
			return
		}
		lcs = lcs[:0]
		for i := 0; i < n; i++ {
			lc := l.fds[evs[i].Fd]
			if lc != nil && lc.generation() != evs[i].Pad {
				lc = nil
			}
			lcs = append(lcs, lc)
		}
		l.mu.Unlock()
		if err != nil && !errors.Is(err, unix.EINTR) {
			time.Sleep(10 * time.Millisecond) // cannot happen with a valid set; do not spin
		}
		for i, lc := range lcs {
			if lc != nil {
				lc.event(evs[i].Events)
			}
			lcs[i] = nil
		}
	}
}

// close ends the lot (the listener closed): idle connections are closed,
// the others when their answer is written.
func (l *lot) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.closeIdle()
}

// stop: a graceful shutdown began.
func (l *lot) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.closeIdle()
}

func (l *lot) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *lot) ending() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed || l.stopping
}

func (l *lot) closeIdle() {
	l.mu.Lock()
	var idle []*lotConn
	for _, lc := range l.conns {
		idle = append(idle, lc)
	}
	l.mu.Unlock()
	for _, lc := range idle {
		lc.mu.Lock()
		was := lc.state
		if was == lcIdle {
			lc.state = lcGone
		}
		lc.mu.Unlock()
		if was == lcIdle {
			lc.drop()
		}
	}
}

// watch puts p's connection in the lot (or finds it there) with p parked
// on it; nil: it cannot be watched (the caller falls back to the sweep).
func (k *Keepalive) watch(p *parked) *lotConn {
	l := k.lotOf()
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	lc := l.conns[p.conn]
	if lc == nil {
		fd := connFD(p.conn)
		if fd < 0 {
			l.mu.Unlock()
			return nil
		}
		l.gen++
		lc = &lotConn{l: l, conn: p.conn, fd: int32(fd), gen: l.gen, remote: p.remote, state: lcBusy}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: lc.fd, Pad: lc.gen}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.mu.Unlock()
			return nil
		}
		l.conns[p.conn] = lc
		l.fds[lc.fd] = lc
	}
	l.mu.Unlock()
	lc.mu.Lock()
	lc.state, lc.p = lcParked, p
	if p.memo != nil {
		lc.memo = p.memo
	}
	hup := lc.pend&lotHup != 0
	lc.mu.Unlock()
	if hup {
		go p.trigger(func(p *parked) { p.gone = true })
	}
	return lc
}

// connFD is c's socket, or -1.
func connFD(c net.Conn) int {
	if rc, ok := c.(*replayConn); ok {
		if len(rc.pre) > 0 {
			return -1
		}
		c = rc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}

// event acts on what the epoll set reported for lc.
func (lc *lotConn) event(ev uint32) {
	lc.mu.Lock()
	switch lc.state {
	case lcIdle:
		lc.state = lcBusy
		lc.pend = 0
		if lc.timer != nil {
			lc.timer.Stop()
		}
		m := lc.memo
		lc.mu.Unlock()
		if m != nil && lc.serveKnown(m) {
			return
		}
		lc.l.dispatch(lc)
		return
	case lcParked:
		lc.pend |= ev
		p := lc.p
		lc.mu.Unlock()
		if ev&lotHup != 0 {
			p.trigger(func(p *parked) { p.gone = true })
		}
		return
	case lcBusy:
		lc.pend |= ev
	}
	lc.mu.Unlock()
}

// forget takes lc out of the lot (before its connection is closed or
// handed back).
func (lc *lotConn) forget() {
	l := lc.l
	l.mu.Lock()
	if l.conns[lc.conn] == lc {
		delete(l.conns, lc.conn)
		delete(l.fds, lc.fd)
		if !l.closed {
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(lc.fd), nil)
		}
	}
	l.mu.Unlock()
	lc.mu.Lock()
	lc.state = lcGone
	if lc.timer != nil {
		lc.timer.Stop()
	}
	lc.mu.Unlock()
}

// drop forgets lc and closes its connection.
func (lc *lotConn) drop() {
	lc.forget()
	_ = lc.conn.Close()
}

// release: p's answer is written; closing closes the connection, else it
// waits in the lot for the next request.
func (lc *lotConn) release(closing bool) {
	if closing || lc.l.ending() {
		lc.drop()
		return
	}
	lc.idleNext()
}

// idleNext makes lc wait for its next request (or serves the one that
// already came).
func (lc *lotConn) idleNext() {
	lc.mu.Lock()
	lc.p = nil
	if lc.state == lcGone {
		lc.mu.Unlock()
		return
	}
	if lc.pend != 0 {
		lc.pend = 0
		lc.state = lcBusy
		lc.mu.Unlock()
		lc.l.dispatch(lc)
		return
	}
	lc.state = lcIdle
	if d := lc.l.idle; d > 0 {
		lc.idleAt = time.Now()
		if lc.timer == nil {
			lc.timer = time.AfterFunc(d, lc.idleOver)
		} else {
			lc.timer.Reset(d)
		}
	}
	lc.mu.Unlock()
}

// idleOver closes lc if it stayed idle for the idle timeout.
func (lc *lotConn) idleOver() {
	lc.mu.Lock()
	over := lc.state == lcIdle && time.Since(lc.idleAt) >= lc.l.idle-time.Millisecond
	if over {
		lc.state = lcGone
	}
	lc.mu.Unlock()
	if over {
		lc.drop()
	}
}

// serveKnown serves lc's next request on the lot's goroutine if it is a
// re-poll m stands for that the session hub answers from memory
// (repoll from memory: nothing waits); false: the bytes read are left in lc.pre
// for the worker.
func (lc *lotConn) serveKnown(m *repollMemo) bool {
	bp := lotBufs.Get().(*[]byte)
	buf := (*bp)[:lotRead]
	n, err := lc.readNow(buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		lotBufs.Put(bp)
		lc.idleNext()
		return true
	case n <= 0:
		lotBufs.Put(bp)
		lc.drop() // end of stream or reset: the client is gone
		return true
	}
	if after, ok := m.match(buf[:n]); ok && m.a.repoll(lc.conn, lc.remote, m, after, true) {
		lotBufs.Put(bp)
		lc.l.k.served.Add(1)
		lc.l.k.fast.Add(1)
		return true
	}
	lc.pre, lc.preN = bp, n
	return false
}

// serve reads and serves lc's next request: one non-blocking read of
// what is there (an edge may announce bytes an earlier read already
// took: then lc waits again), or the bytes the lot's goroutine read.
func (lc *lotConn) serve() {
	var (
		bp  *[]byte
		n   int
		err error
	)
	if lc.pre != nil {
		bp, n = lc.pre, lc.preN
		lc.pre = nil
	} else {
		bp = lotBufs.Get().(*[]byte)
		n, err = lc.readNow((*bp)[:lotRead])
	}
	defer lotBufs.Put(bp)
	buf := (*bp)[:lotRead]
	switch {
	case errors.Is(err, unix.EAGAIN):
		lc.idleNext()
		return
	case n <= 0:
		lc.drop() // end of stream or reset: the client is gone
		return
	}
	data := buf[:n]
	lc.mu.Lock()
	m := lc.memo
	lc.mu.Unlock()
	if m != nil {
		if after, ok := m.match(data); ok && m.a.repoll(lc.conn, lc.remote, m, after, false) {
			lc.l.k.served.Add(1)
			lc.l.k.fast.Add(1)
			return
		}
	}
	ps := lotParsers.Get().(*lotParser)
	req := ps.parse(data)
	lotParsers.Put(ps)
	if req == nil {
		lc.l.k.handedBack.Add(1)
		lc.handBack(data)
		return
	}
	lc.l.k.served.Add(1)
	lc.answer(req, data)
}

// readNow reads what lc's socket holds without waiting (EAGAIN: nothing).
func (lc *lotConn) readNow(buf []byte) (int, error) { return readNow(lc.conn, buf) }

// handBack gives lc's connection back to net/http, which reads data
// first.
func (lc *lotConn) handBack(data []byte) {
	lc.forget()
	rc := &replayConn{Conn: lc.conn, pre: bytes.Clone(data)}
	if !lc.l.k.give(rc) {
		_ = lc.conn.Close()
	}
}

// parse returns the plain re-poll data holds, or nil when net/http must
// have it: not exactly one complete request, or anything about it that
// is not a plain long-poll (net/http then answers or refuses it itself).
func (ps *lotParser) parse(data []byte) *http.Request {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 || end+4 != len(data) {
		return nil // partial, or more than one request
	}
	ps.rd.Reset(data)
	ps.br.Reset(&ps.rd)
	req, err := http.ReadRequest(ps.br)
	if err != nil || ps.br.Buffered() > 0 || ps.rd.Len() > 0 {
		return nil
	}
	if req.Method != http.MethodGet || req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Close ||
		req.ContentLength != 0 || len(req.TransferEncoding) > 0 || !plainPollPath(req.RequestURI) {
		return nil
	}
	// ReadRequest took the one Host header (several: an error) into
	// req.Host; none leaves it empty (net/http refuses that on HTTP/1.1).
	if req.URL.Host != "" || !plainHost(req.Host) {
		return nil
	}
	for k, vs := range req.Header {
		switch k {
		case "Expect", "Upgrade", "Content-Length", "Transfer-Encoding", "Trailer":
			return nil
		}
		if !tokenOnly(k) {
			return nil
		}
		for _, v := range vs {
			if !plainValue(v) {
				return nil
			}
		}
	}
	return req
}

// plainPollPath: /v1/sessions/{id}/events with an optional query, nothing
// escaped or unusual in the path.
func plainPollPath(uri string) bool {
	path, _, _ := strings.Cut(uri, "?")
	id, ok := strings.CutPrefix(path, "/v1/sessions/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, "/events")
	if !ok || id == "" || id == "." || id == ".." {
		return false
	}
	return !strings.ContainsAny(path, "%\\") && !strings.Contains(id, "/") && !strings.Contains(uri, "#")
}

func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

func tokenOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func plainValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// answer runs the server's handler for req, read from data, on lc.
func (lc *lotConn) answer(req *http.Request, data []byte) {
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), lotRequestKey{}, data))
	defer cancel()
	req = req.WithContext(ctx)
	req.RemoteAddr = lc.remote
	w := &lotWriter{lc: lc, h: make(http.Header, 8)}
	defer func() {
		if v := recover(); v != nil {
			// net/http drops the connection of a handler that panics.
			if !w.hijacked {
				lc.drop()
			}
			if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
				lc.l.k.log().Error("panic serving a parked connection's request", "panic", v)
			}
		}
	}()
	lc.l.handler.ServeHTTP(w, req)
	if w.hijacked {
		return // the handler parked it (or closed it)
	}
	closing := lc.l.ending()
	bp := lotBufs.Get().(*[]byte)
	out := renderAnswer((*bp)[:0], w.status(), w.h, w.body, closing)
	_ = lc.conn.SetWriteDeadline(time.Now().Add(parkWriteWait))
	_, err := lc.conn.Write(out)
	_ = lc.conn.SetWriteDeadline(time.Time{})
	if cap(out) <= 4*lotRead {
		*bp = out[:0]
		lotBufs.Put(bp)
	}
	if err != nil || closing {
		lc.drop()
		return
	}
	lc.idleNext()
}

// lotWriter is the ResponseWriter of a request read in the lot: it keeps
// the answer, which lotConn.answer renders as net/http would.
type lotWriter struct {
	lc       *lotConn
	h        http.Header
	code     int
	body     []byte
	hijacked bool
}

func (w *lotWriter) Header() http.Header { return w.h }

func (w *lotWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
}

func (w *lotWriter) Write(b []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *lotWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Hijack gives the handler the connection (parkPoll parks it).
func (w *lotWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	lc := w.lc
	if lc.brw == nil {
		lc.brw = bufio.NewReadWriter(bufio.NewReaderSize(lc.conn, 16), bufio.NewWriterSize(lc.conn, 16))
	}
	return lc.conn, lc.brw, nil
}

// dispatch serves lc's request on an idle worker, or a new one.
func (l *lot) dispatch(lc *lotConn) {
	select {
	case l.work <- lc:
	default:
		go l.worker(lc)
	}
}

func (l *lot) worker(lc *lotConn) {
	t := time.NewTimer(lotWorkerIdle)
	defer t.Stop()
	for {
		lc.serve()
		t.Reset(lotWorkerIdle)
		select {
		case lc = <-l.work:
		case <-t.C:
			return
		}
	}
}
