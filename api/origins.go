package api

import (
	"context"
	"net/http"
	"sync"
)

// Origin checks of waiting clients, cached. A widget re-polls every few
// seconds, and each re-poll's Origin header is checked against the
// session's app: without a cache that is a store read and a JSON decode
// per re-poll. An app's origins are fixed when it is created (auth has no
// way to change them, and apps are never deleted; a disabled app's
// sessions may still be watched), so an allowed (app, origin) pair stays
// allowed and needs no invalidation; should auth ever gain an origin
// update, it must drop that app's pairs here. Only
// allowed pairs are kept (refusals are read again, so that a flood of
// made-up Origin headers cannot fill the cache), at most
// originCacheEntries of them (the cache starts over when full).

const originCacheEntries = 4096

type originKey struct{ app, origin string }

type originCache struct {
	mu sync.RWMutex
	m  map[originKey]struct{}
}

func (c *originCache) allowed(app, origin string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.m[originKey{app, origin}]
	return ok
}

func (c *originCache) add(app, origin string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= originCacheEntries {
		c.m = make(map[originKey]struct{})
	}
	c.m[originKey{app, origin}] = struct{}{}
}

// RequestLog is what a handler tells the server's request log about its
// request; the server puts one in every request's context
// (WithRequestLog) and reads it after the handler returned.
type RequestLog struct {
	// Quiet: the request is routine (a long-poll answered without news,
	// or parked and logged when answered): log it at debug level.
	Quiet bool
}

type requestLogKey struct{}

// WithRequestLog returns ctx carrying a new RequestLog.
func WithRequestLog(ctx context.Context) (context.Context, *RequestLog) {
	l := &RequestLog{}
	return context.WithValue(ctx, requestLogKey{}, l), l
}

// quietLog marks r's log line as routine.
func quietLog(r *http.Request) {
	if l, ok := r.Context().Value(requestLogKey{}).(*RequestLog); ok {
		l.Quiet = true
	}
}
