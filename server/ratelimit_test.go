package server

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ukeygate/ukeygate/config"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterBucket(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter("test", config.Budget{Requests: 3, Per: 3 * time.Second}, clk.now)
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: allowed %v, wait %s; want refused, wait within 1s", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	clk.advance(wait)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("refused after the announced wait")
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("one refill gave two tokens")
	}
	clk.advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("after an hour, request %d refused: the bucket must refill to its capacity", i+1)
		}
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("the bucket refilled beyond its capacity")
	}
}

func TestLimiterEviction(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter("test", config.Budget{Requests: 1, Per: time.Minute}, clk.now)
	for i := range maxBuckets {
		l.allow(strconv.Itoa(i))
	}
	clk.advance(2 * time.Minute) // every bucket has refilled
	l.allow("new")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after eviction, want 1", n)
	}
}

func TestClientAddr(t *testing.T) {
	cfg := config.Default().RateLimit
	cfg.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1"}
	rl, err := newRateLimits(cfg, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "203.0.113.7:5000", "", "203.0.113.7"},
		{"direct client, forged header ignored", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"through a trusted proxy", "10.1.2.3:443", "198.51.100.1", "198.51.100.1"},
		{"client forges a hop before the proxy", "10.1.2.3:443", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"two trusted proxies", "192.168.1.1:443", "198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"trusted proxy without header", "10.1.2.3:443", "", "10.1.2.3"},
		{"garbage hop", "10.1.2.3:443", "not-an-ip", "10.1.2.3"},
		{"IPv6 client", "[2001:db8::1]:443", "", "2001:db8::1"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:443", "", "203.0.113.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/issuers", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := rl.clientAddr(r); got != tc.want {
				t.Fatalf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}
