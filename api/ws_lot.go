//go:build linux

package api

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// Websockets in the parking lot (Linux, plain TCP): instead of a reader
// goroutine per socket, the lot's epoll set watches the socket and what
// the client sends (pongs, pings, a close; data messages are read and
// discarded as before) is read when it says readable, with one
// non-blocking read at a time, and parsed by wsReader (ws_frame.go).
// Silence is noticed by a timer renewed by each pong, as the reader's
// read deadline was.

// wsMember is a websocket in the lot.
type wsMember struct {
	c   *wsConn
	l   *lot
	fd  int32
	gen int32

	mu      sync.Mutex
	reading bool // a read runs
	again   bool // readable again while it ran
	gone    bool
	rd      wsReader
	partial []byte // the start of a frame not complete yet
	silence *time.Timer
}

func (m *wsMember) generation() int32 { return m.gen }

// wsLotBufs: the buffer one read goes into.
var wsLotBufs = sync.Pool{New: func() any { b := make([]byte, 1024); return &b }}

// watchWS puts c's socket in the lot; false: c keeps a reader goroutine
// (no lot, TLS, or the socket cannot be watched).
func (a *API) watchWS(c *wsConn) bool {
	l := a.keep.lotOf()
	if l == nil {
		return false
	}
	nc := c.conn.NetConn()
	if rc, ok := nc.(*replayConn); ok && len(rc.pre) == 0 {
		nc = rc.Conn
	}
	if _, ok := nc.(*net.TCPConn); !ok {
		return false // TLS or something else: the bytes on the socket are not the frames
	}
	fd := connFD(nc)
	if fd < 0 {
		return false
	}
	m := &wsMember{c: c, l: l, fd: int32(fd)}
	m.silence = time.AfterFunc(wsPongWait, c.finish)
	c.mu.Lock()
	c.unwatch = m.forget
	c.mu.Unlock()
	l.mu.Lock()
	if l.closed || l.stopping {
		l.mu.Unlock()
		m.unset()
		return false
	}
	l.gen++
	m.gen = l.gen
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: m.fd, Pad: m.gen}
	l.fds[m.fd] = m // before the ADD: the loop may report at once
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(l.fds, m.fd)
		l.mu.Unlock()
		m.unset()
		return false
	}
	l.mu.Unlock()
	return true
}

// unset: c keeps its reader goroutine after all.
func (m *wsMember) unset() {
	m.silence.Stop()
	m.c.mu.Lock()
	m.c.unwatch = nil
	m.c.mu.Unlock()
}

// forget takes m out of the epoll set (before its socket is closed).
func (m *wsMember) forget() {
	l := m.l
	l.mu.Lock()
	if l.fds[m.fd] == lotMember(m) {
		delete(l.fds, m.fd)
		if !l.closed {
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(m.fd), nil)
		}
	}
	l.mu.Unlock()
	m.mu.Lock()
	m.gone = true
	m.mu.Unlock()
	m.silence.Stop()
}

func (m *wsMember) event(uint32) {
	m.mu.Lock()
	if m.gone {
		m.mu.Unlock()
		return
	}
	if m.reading {
		m.again = true
		m.mu.Unlock()
		return
	}
	m.reading = true
	m.mu.Unlock()
	go m.read()
}

// read reads and acts on what the client sent, until the socket has
// nothing more for now.
func (m *wsMember) read() {
	bp := wsLotBufs.Get().(*[]byte)
	defer wsLotBufs.Put(bp)
	for {
		m.mu.Lock()
		m.again = false
		m.mu.Unlock()
		if !m.drain(*bp) {
			m.c.finish()
			return
		}
		m.mu.Lock()
		if !m.again || m.gone {
			m.reading = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}

// drain reads until the socket would block; false: the socket is done
// (the client closed, an error, or a frame refused).
func (m *wsMember) drain(buf []byte) bool {
	for {
		n, err := readNow(m.c.conn.NetConn(), buf)
		if errors.Is(err, unix.EAGAIN) {
			return true
		}
		if n <= 0 {
			return false
		}
		data := buf[:n]
		if len(m.partial) > 0 {
			data = append(m.partial, data...)
			m.partial = nil
		}
		for len(data) > 0 {
			f, used, code := m.rd.next(data)
			if code != 0 {
				m.refuse(code)
				return false
			}
			if used == 0 {
				if len(data) > 2+8+4+wsReadLimit {
					m.refuse(wsCloseProtocol) // cannot happen: next judges sizes from the header
					return false
				}
				m.partial = append([]byte(nil), data...)
				break
			}
			data = data[used:]
			if !m.frame(f) {
				return false
			}
		}
	}
}

// frame acts on one client frame; false: the socket is done.
func (m *wsMember) frame(f wsFrame) bool {
	conn := m.c.conn
	switch f.op {
	case wsOpPong:
		m.silence.Reset(wsPongWait)
	case wsOpPing:
		err := conn.WriteControl(websocket.PongMessage, f.payload, time.Now().Add(wsWriteWait))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return false
		}
	case wsOpClose:
		// Answer with the client's code (as gorilla's close handler
		// does), unless the server's close went first; then done.
		msg := []byte{}
		if code := wsCloseCode(f.payload); code != 1005 {
			msg = websocket.FormatCloseMessage(code, "")
		}
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wsWriteWait))
		return false
	}
	return true // data frames: read and discarded, as before
}

// refuse ends the socket with code (a frame broke the protocol).
func (m *wsMember) refuse(code int) {
	_ = m.c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(wsWriteWait))
}

// readNow reads what c's socket holds without waiting (EAGAIN:
// nothing); a connection handed back with bytes to replay is read
// underneath them.
func readNow(c net.Conn, buf []byte) (int, error) {
	return rawNow(c, false, func(fd int) (int, error) { return unix.Read(fd, buf) })
}

// writeNow writes what c's socket takes of b without waiting (EAGAIN:
// nothing; a short count: part).
func writeNow(c net.Conn, b []byte) (int, error) {
	return rawNow(c, true, func(fd int) (int, error) { return unix.Write(fd, b) })
}

// rawNow runs op once on c's socket (again after EINTR), in the runtime's
// read or write lock, without waiting for readiness.
func rawNow(c net.Conn, write bool, op func(fd int) (int, error)) (int, error) {
	if rc, ok := c.(*replayConn); ok {
		c = rc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var oerr error
	f := func(fd uintptr) bool {
		for {
			n, oerr = op(int(fd))
			if oerr != unix.EINTR {
				return true
			}
		}
	}
	if write {
		err = raw.Write(f)
	} else {
		err = raw.Read(f)
	}
	if err != nil {
		return 0, err
	}
	return n, oerr
}
