package server

import (
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/config"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Paths whose requests spend the enroll budget of their address: each
// tries an activation code.
var enrollPaths = map[string]bool{"/v1/enroll": true, "/v1/register": true}

// maxBuckets bounds the buckets one limiter keeps; beyond it, full
// (idle) buckets are dropped first, and if that is not enough the oldest
// half is.
const maxBuckets = 100_000

// bucket is one key's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is a set of token buckets of one budget, by key.
type limiter struct {
	name     string
	capacity float64
	interval time.Duration // time to refill one token
	now      func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter(name string, b config.Budget, now func() time.Time) *limiter {
	return &limiter{name: name, capacity: float64(b.Requests), interval: b.Per / time.Duration(b.Requests),
		now: now, buckets: map[string]*bucket{}}
}

// allow takes one token of key's bucket; when there is none it returns
// false and how long until there is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.evict(now)
		}
		b = &bucket{tokens: l.capacity, last: now}
		l.buckets[key] = b
	} else if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.capacity, b.tokens+float64(elapsed)/float64(l.interval))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.interval))
}

// evict drops the buckets that have refilled (they are as good as new);
// if none has, it drops half of them.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/float64(l.interval) >= l.capacity {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxBuckets {
		return
	}
	n := 0
	for k := range l.buckets {
		if n%2 == 0 {
			delete(l.buckets, k)
		}
		n++
	}
}

// rateLimits are the budgets of one node.
type rateLimits struct {
	address, app, device, enroll *limiter
	proxies                      []netip.Prefix
	refused                      *prometheus.CounterVec
}

func newRateLimits(cfg config.RateLimitConfig, reg prometheus.Registerer, now func() time.Time) (*rateLimits, error) {
	if now == nil {
		now = time.Now
	}
	rl := &rateLimits{
		address: newLimiter("address", cfg.Address, now),
		app:     newLimiter("app", cfg.App, now),
		device:  newLimiter("device", cfg.Device, now),
		enroll:  newLimiter("enroll", cfg.Enroll, now),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_rate_limited_total",
			Help: "Requests refused with 429 rate_limited, by budget (address, app, device, enroll).",
		}, []string{"limit"}),
	}
	for _, p := range cfg.TrustedProxies {
		pfx, err := config.ParseProxy(p)
		if err != nil {
			return nil, err
		}
		rl.proxies = append(rl.proxies, pfx)
	}
	for _, l := range []string{"address", "app", "device", "enroll"} {
		rl.refused.WithLabelValues(l)
	}
	if err := reg.Register(rl.refused); err != nil {
		return nil, err
	}
	return rl, nil
}

// take spends one token of l for key, counting a refusal.
func (rl *rateLimits) take(l *limiter, key string) *api.RateLimitError {
	if ok, wait := l.allow(key); !ok {
		rl.refused.WithLabelValues(l.name).Inc()
		return &api.RateLimitError{Limit: l.name, RetryAfter: wait}
	}
	return nil
}

func (rl *rateLimits) trusted(a netip.Addr) bool {
	for _, p := range rl.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the request's peer address, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For address that is not one.
func (rl *rateLimits) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !rl.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if a = a.Unmap(); !rl.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

// limitKeys are the budgets one request spends.
type limitKeys struct {
	addr   string
	enroll bool
	app    string // the hash of the app key; "": none
}

// keysOf names the budgets r spends.
func (rl *rateLimits) keysOf(r *http.Request) limitKeys {
	k := limitKeys{addr: rl.clientAddr(r), enroll: enrollPaths[r.URL.Path]}
	if tok, ok := auth.BearerToken(r); ok && !strings.HasPrefix(r.URL.Path, "/v1/admin/") {
		k.app = hex.EncodeToString(gmcrypto.SM3([]byte(tok)))
	}
	return k
}

// spend spends k's budgets in order, stopping at the first refused.
func (rl *rateLimits) spend(k limitKeys) *api.RateLimitError {
	refusal := rl.take(rl.address, k.addr)
	if refusal == nil && k.enroll {
		refusal = rl.take(rl.enroll, k.addr)
	}
	if refusal == nil && k.app != "" {
		refusal = rl.take(rl.app, k.app)
	}
	return refusal
}

// middleware spends the address budget of every request but the health
// and metrics endpoints, the enroll budget of enrollments, and the app
// budget of requests carrying an app key (a bearer token outside the
// operator API; the key is kept as a hash).
func (rl *rateLimits) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathHealth, PathReady, PathMetrics:
			next.ServeHTTP(w, r)
			return
		}
		if refusal := rl.spend(rl.keysOf(r)); refusal != nil {
			secs := api.RetryAfterSeconds(refusal.RetryAfter)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
				"code":                "rate_limited",
				"message":             "too many requests: the " + refusal.Limit + " budget is spent; retry after " + strconv.Itoa(secs) + " s",
				"retry_after_seconds": secs,
			}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitedDevices spends the device budget of every request a phone signs,
// once its signature is verified (so nobody can spend a device's budget
// by naming it).
type limitedDevices struct {
	inner api.DeviceVerifier
	rl    *rateLimits
}

func (d limitedDevices) VerifyDeviceRequest(ctx context.Context, r *http.Request, body []byte) (string, string, error) {
	dev, user, err := d.inner.VerifyDeviceRequest(ctx, r, body)
	if err != nil {
		return dev, user, err
	}
	if refusal := d.rl.take(d.rl.device, dev); refusal != nil {
		return "", "", refusal
	}
	return dev, user, nil
}
