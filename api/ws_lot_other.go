//go:build !linux

package api

// Without epoll each websocket keeps its reader goroutine (ws.go).
func (a *API) watchWS(*wsConn) bool { return false }
