//go:build linux || darwin || freebsd || netbsd || openbsd

package api

import (
	"errors"
	"net"
	"syscall"
)

// peerGone peeks at a parked connection without blocking and without
// taking its read lock: true when the client closed it (end of stream) or
// it failed (reset). Data waiting (a client that sent its next request
// early) is left for net/http to read.
func peerGone(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case err != nil:
			gone = true
		case n == 0:
			gone = true
		}
	})
	return gone
}
