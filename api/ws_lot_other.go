//go:build !linux

package api

import (
	"errors"
	"net"
)

// writeNow: the caller writes with a deadline instead.
func writeNow(net.Conn, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Without epoll each websocket keeps its reader goroutine (ws.go).
func (a *API) watchWS(*wsConn) bool { return false }
