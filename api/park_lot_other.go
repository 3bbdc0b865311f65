//go:build !linux

package api

import (
	"net/http"
	"time"
)

// Without epoll the connections of answered parked long-polls go back to
// net/http (Keepalive) and a sweep peeks at parked sockets.

type lot struct{}

type lotConn struct{}

func startLot(*Keepalive, http.Handler, time.Duration) *lot { return nil }

func (*lot) close() {}
func (*lot) stop()  {}

func (*lot) size() int { return 0 }

func (k *Keepalive) watch(*parked) *lotConn { return nil }

func (*lotConn) drop()        {}
func (*lotConn) release(bool) {}
