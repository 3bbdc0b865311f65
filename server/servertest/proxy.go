package servertest

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
)

// Proxy is a reverse proxy (net/http/httputil) in front of a test server,
// as a load balancer or a company proxy would be: the server's public_url
// is the proxy's URL, so that browsers, phones and portals reach the
// server through it. It records the requests it passes and can refuse
// websocket upgrades, as some proxies do.
type Proxy struct {
	// URL is the proxy's base URL, also the server's public_url.
	URL string

	t       testing.TB
	mu      sync.Mutex
	blockWS bool
	reqs    []string
	changed chan struct{} // closed and replaced on every new request
}

// watchGuard bounds WaitWatches (a failure guard only).
const watchGuard = 20 * time.Second

// StartBehindProxy starts a server as Start does (the mutate functions
// apply first) with its public_url set to a reverse proxy in front of it,
// and stops both in t.Cleanup. A Restart of the server keeps its address,
// so the proxy keeps working across it (answering 502 while the server is
// down).
func StartBehindProxy(t testing.TB, mutate ...func(*config.Config)) (*TS, *Proxy) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: proxy listen: %v", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), t: t, changed: make(chan struct{})}
	ts := Start(t, append(mutate, func(c *config.Config) { c.PublicURL = p.URL })...)
	target, err := url.Parse(ts.URL)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("servertest: %v", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the server sees the public host, as behind a real proxy
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
	}
	srv := &http.Server{
		Handler:           p.handler(rp),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("servertest: proxy: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ts, p
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("token") // keep watch tokens out of the record, as out of logs
		rec := r.Method + " " + r.URL.Path
		if len(q) > 0 {
			rec += "?" + q.Encode()
		}
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		p.mu.Lock()
		p.reqs = append(p.reqs, rec)
		close(p.changed)
		p.changed = make(chan struct{})
		blocked := p.blockWS && upgrade
		p.mu.Unlock()
		if blocked {
			http.Error(w, "websockets are not allowed through this proxy", http.StatusBadGateway)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// BlockWebsockets makes the proxy refuse (on) or pass (off) websocket
// upgrades; refused ones get a 502 text answer.
func (p *Proxy) BlockWebsockets(on bool) {
	p.mu.Lock()
	p.blockWS = on
	p.mu.Unlock()
}

// Requests returns the requests passed so far, in order, as
// "METHOD /path?query" with any token parameter removed.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}

// Watches returns the session watch requests so far, in order:
// "ws:AFTER" for a websocket, "poll:AFTER" for a long-poll (AFTER is the
// after= parameter, "0" when absent).
func (p *Proxy) Watches() []string {
	var out []string
	for _, r := range p.Requests() {
		_, target, _ := strings.Cut(r, " ")
		u, err := url.Parse(target)
		if err != nil || !strings.HasPrefix(u.Path, "/v1/sessions/") {
			continue
		}
		after := u.Query().Get("after")
		if after == "" {
			after = "0"
		}
		switch {
		case strings.HasSuffix(u.Path, "/ws"):
			out = append(out, "ws:"+after)
		case strings.HasSuffix(u.Path, "/events"):
			out = append(out, "poll:"+after)
		}
	}
	return out
}

// WaitWatches waits until at least n watch requests passed and returns
// them (Watches); after watchGuard it fails the test.
func (p *Proxy) WaitWatches(n int) []string {
	p.t.Helper()
	guard := time.NewTimer(watchGuard)
	defer guard.Stop()
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if w := p.Watches(); len(w) >= n {
			return w
		}
		select {
		case <-changed:
		case <-guard.C:
			p.t.Fatalf("servertest: only %d watch requests after %s: %v", len(p.Watches()), watchGuard, p.Watches())
		}
	}
}
