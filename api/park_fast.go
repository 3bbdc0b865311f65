package api

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/session"
)

// The re-poll fast path. A portal waiting on a session sends the same
// long-poll again and again on its kept connection: byte for byte the
// same request but for the after= number. When such a request was served
// in the parking lot (park_lot.go) through the whole handler chain and
// parked, the lot keeps a memo of it: the request's bytes cut around the
// after= value, and what the chain decided (the session, the watch token,
// the app and origin, the answer's headers, the wait). The next request
// that matches the memo is parked at once, without parsing it into an
// http.Request or running the chain: a map lookup for the session and the
// token (session.CheckWatch), the origin cache, the server's rate limits
// and metrics (RepollGate), then the session's Follower. Whatever is not
// a plain "nothing new, park it" — news already there, a session that is
// gone, an origin no longer allowed, a refused rate limit, a shutdown —
// goes to the whole chain, which answers it as it always has.

// RepollGate is the server middleware's part in a re-poll the lot serves
// without the handler chain. Gate is called with the request a memo is
// made from (after the middleware saw it); it returns admit, which spends
// that request's rate-limit budgets again for a later identical re-poll
// (false: refused; the whole chain then answers with its 429), and
// served, which records a re-poll served so (the request metrics). Either
// may be nil.
type RepollGate interface {
	Gate(r *http.Request) (admit func() bool, served func(time.Duration))
}

// SetGate gives the lot's fast path the server's gate; without one (nil)
// memos are not made and every re-poll runs the whole chain.
func (k *Keepalive) SetGate(g RepollGate) {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.gate = g
	k.mu.Unlock()
}

func (k *Keepalive) gateOf() RepollGate {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gate
}

// pollBounds defaults Deps.PollWait and Deps.MaxHold: the wait a session
// advises (whole seconds, not beyond the hold) and the longest hold.
func pollBounds(pollWait, maxHold time.Duration) (advised, hold time.Duration) {
	hold = MaxPollWait
	if maxHold > 0 {
		hold = min(maxHold, MaxPollWait)
	}
	advised = DefaultPollWait
	if pollWait > 0 {
		advised = pollWait
	}
	return min(advised.Truncate(time.Second), hold.Truncate(time.Second)), hold
}

// repollMemo is what the whole chain decided for a parked long-poll read
// in the lot, for the identical re-polls after it.
type repollMemo struct {
	a         *API
	pre, post []byte // the request's bytes before and after the after= digits
	id, token string
	tokenHash []byte // SM3 of token, as the session hub keeps it
	appID     string
	origin    string // the allowed Origin the request carried ("": none)
	head      []byte // the answer's status line and headers (parkHead)
	path      string
	wait      time.Duration
	admit     func() bool
	served    func(time.Duration)
}

// maxAfterDigits bounds the after= value a memo matches (int64 has 19).
const maxAfterDigits = 18

// match returns the after= value of data if data is the memo's request
// with another (canonical decimal) after= value.
func (m *repollMemo) match(data []byte) (int64, bool) {
	n := len(data) - len(m.pre) - len(m.post)
	if n < 1 || n > maxAfterDigits || !bytes.HasPrefix(data, m.pre) || !bytes.HasSuffix(data, m.post) {
		return 0, false
	}
	digits := data[len(m.pre) : len(m.pre)+n]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var after int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		after = after*10 + int64(c-'0')
	}
	return after, true
}

// lotRequestKey carries the bytes of a request read in the lot (in its
// context) to parkPoll, which makes the memo.
type lotRequestKey struct{}

// afterSpan finds the after= value in data's request line: the start and
// end of its digits in data; false if the request line is not a plain
// one with exactly one after= parameter (nothing escaped in the target).
func afterSpan(data []byte) (int, int, bool) {
	const method, proto = "GET ", " HTTP/1.1"
	line, _, ok := bytes.Cut(data, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(line, []byte(method)) || !bytes.HasSuffix(line, []byte(proto)) {
		return 0, 0, false
	}
	target := line[len(method) : len(line)-len(proto)]
	q := bytes.IndexByte(target, '?')
	if q < 0 || bytes.ContainsAny(target, "%+#; ") {
		return 0, 0, false
	}
	start, end := -1, -1
	for i := q + 1; i <= len(target); {
		j := bytes.IndexByte(target[i:], '&')
		if j < 0 {
			j = len(target)
		} else {
			j += i
		}
		if v, ok := bytes.CutPrefix(target[i:j], []byte("after=")); ok {
			if start >= 0 || len(v) == 0 || len(v) > maxAfterDigits {
				return 0, 0, false
			}
			for _, c := range v {
				if c < '0' || c > '9' {
					return 0, 0, false
				}
			}
			start, end = len(method)+j-len(v), len(method)+j
		}
		i = j + 1
	}
	if start < 0 {
		return 0, 0, false
	}
	return start, end, true
}

// newRepollMemo makes the memo of r, a long-poll read in the lot that the
// chain is parking (nil: none; r is not one a memo can stand for).
func (a *API) newRepollMemo(r *http.Request, id, token, appID, origin string, head []byte, wait time.Duration) *repollMemo {
	data, _ := r.Context().Value(lotRequestKey{}).([]byte)
	g := a.keep.gateOf()
	if data == nil || g == nil || token == "" || r.Header.Get("Authorization") != "" {
		return nil
	}
	start, end, ok := afterSpan(data)
	if !ok {
		return nil
	}
	buf := bytes.Clone(data)
	m := &repollMemo{a: a, pre: buf[:start], post: buf[end:], id: id, token: token, appID: appID, origin: origin,
		head: head, path: r.URL.Path, wait: wait, tokenHash: gmcrypto.SM3([]byte(token))}
	m.admit, m.served = g.Gate(r)
	return m
}

// repoll parks the re-poll m stands for, with after; false: the whole
// chain must answer it (nothing has changed). known: from the session
// hub's memory alone (session.FollowKnown), which never waits, so the
// lot's goroutine may call it; else the token check and the follower may
// read the store.
func (a *API) repoll(conn net.Conn, remote string, m *repollMemo, after int64, known bool) bool {
	start := time.Now()
	if a.stopCtx.Err() != nil || a.sessionsReady() != nil {
		return false
	}
	if m.origin != "" && !a.origins.allowed(m.appID, m.origin) {
		return false
	}
	p := &parked{pk: &a.park, memo: m}
	var f *session.Follower
	if known {
		var ok bool
		if f, ok = a.sessions.FollowKnown(m.id, m.tokenHash, m.appID, after, p.notify); !ok {
			return false
		}
	} else {
		ctx := context.Background()
		ref, err := a.sessions.CheckWatch(ctx, m.id, m.token)
		if err != nil || ref.AppID != m.appID {
			return false
		}
		if f, err = a.sessions.Follow(ctx, m.id, after, p.notify); err != nil {
			return false
		}
		if evs, done, _ := f.Next(ctx); len(evs) > 0 || done {
			f.Close()
			return false
		}
	}
	// The budgets are spent last: a re-poll the chain answers spends them there.
	if m.admit != nil && !m.admit() {
		f.Close()
		return false
	}
	a.parkRepoll(p, f, conn, remote, m, start)
	return true
}

// parkRepoll parks p, a re-poll m stands for, following f.
func (a *API) parkRepoll(p *parked, f *session.Follower, conn net.Conn, remote string, m *repollMemo, start time.Time) {
	ctx := context.Background()
	a.park.begin()
	p.conn, p.f, p.head = conn, f, m.head
	p.path, p.remote, p.start = m.path, remote, start
	a.park.add(p, m.wait)
	d := time.Since(start)
	if m.served != nil {
		m.served(d)
	}
	// The line the request log writes for a parked long-poll (quiet).
	if a.log.Enabled(ctx, slog.LevelDebug) {
		a.log.Debug("http request", "method", http.MethodGet, "path", m.path, "status", http.StatusSwitchingProtocols,
			"bytes", 0, "duration_ms", float64(d.Microseconds())/1000, "remote", remote)
	}
}
