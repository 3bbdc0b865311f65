package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

func quietServer(c *config.Config) { c.Log.Level = "warn" }

// quietFixture starts a quiet server and sets up the bench configured by
// edit against it, with a context bounded for the test.
func quietFixture(t *testing.T, edit func(*Config)) (*servertest.TS, context.Context, *Fixture) {
	t.Helper()
	ts := servertest.Start(t, quietServer)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cfg := DefaultConfig()
	cfg.Server, cfg.AdminToken = ts.URL, ts.AdminToken
	edit(&cfg)
	f, err := Setup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts, ctx, f
}

func TestPinWatch(t *testing.T) {
	tests := []struct {
		server, ws, events string
		wantWS, wantEvents string
		wantErr            bool
	}{
		{"http://127.0.0.1:8080", "wss://ukey.example.com/v1/sessions/s1/ws?token=t",
			"https://ukey.example.com/v1/sessions/s1/events?token=t",
			"ws://127.0.0.1:8080/v1/sessions/s1/ws?token=t", "http://127.0.0.1:8080/v1/sessions/s1/events?token=t", false},
		{"https://gw.test", "ws://evil.example:9/v1/sessions/s1/ws", "http://u:p@evil.example/e",
			"wss://gw.test/v1/sessions/s1/ws", "https://gw.test/e", false},
		{"http://127.0.0.1:8080", "/v1/sessions/s1/ws", "", "/v1/sessions/s1/ws", "", false},
		{"http://127.0.0.1:8080", "gopher://evil.example/x", "", "", "", true},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			u, _ := url.Parse(tc.server)
			f := &Fixture{server: u}
			s := &portal.Session{Watch: portal.Watch{WSURL: tc.ws, EventsURL: tc.events, Token: "t"}}
			err := f.pinWatch(s)
			if tc.wantErr {
				if !errors.Is(err, ErrForeignHost) {
					t.Fatalf("pinWatch = %v, want ErrForeignHost", err)
				}
				return
			}
			if err != nil || s.Watch.WSURL != tc.wantWS || s.Watch.EventsURL != tc.wantEvents {
				t.Fatalf("pinWatch = %v: %q %q, want %q %q", err, s.Watch.WSURL, s.Watch.EventsURL, tc.wantWS, tc.wantEvents)
			}
		})
	}
}

// A server that redirects elsewhere gets no request to the other host.
func TestRedirectToOtherHostRefused(t *testing.T) {
	hits := make(chan string, 8)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	cfg := DefaultConfig()
	cfg.Server, cfg.AdminToken = redirector.URL, "t"
	_, err := Setup(context.Background(), cfg)
	if !errors.Is(err, ErrSetup) || !errors.Is(err, ErrForeignHost) {
		t.Fatalf("Setup = %v, want ErrSetup and ErrForeignHost", err)
	}
	select {
	case p := <-hits:
		t.Fatalf("the other host got a request for %s", p)
	default:
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("scan: %w", &phone.APIError{Status: 410, Code: "session_expired"}), "session_expired"},
		{fmt.Errorf("create: %w", &portal.APIError{Status: 429, Code: "rate_limited"}), "rate_limited"},
		{&portal.APIError{Status: 502}, "http_502"},
		{fmt.Errorf("push: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("%w: x", ErrNotOffered), "not_offered"},
		{fmt.Errorf("%w: x", ErrUnexpectedState), "unexpected_state"},
		{fmt.Errorf("%w: x", ErrUnexpectedEvents), "unexpected_events"},
		{fmt.Errorf("%w: x", ErrBadResult), "bad_result"},
		{fmt.Errorf("watch: %w", portal.ErrWatchEnded), "watch_ended"},
		{fmt.Errorf("%w: x", ErrForeignHost), "foreign_host"},
		{errors.New("something"), "other"},
	}
	for _, tc := range tests {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	// A refused connection is a transport error.
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.URL
	ln.Close()
	_, err := http.Get(addr)
	if got := ErrorCode(err); got != "transport" {
		t.Errorf("ErrorCode(%v) = %q, want transport", err, got)
	}
}

// Failed sessions are counted by the server's error code, and the counts
// still add up.
func TestFailuresCountedByCode(t *testing.T) {
	ts, ctx, f := quietFixture(t, func(c *Config) { c.Sessions, c.Concurrency = 6, 2 })
	a := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken, HTTP: f.http}
	for _, u := range f.users {
		if _, err := a.RevokeDevice(ctx, u.phone.State.DeviceID, "bench test"); err != nil {
			t.Fatal(err)
		}
	}
	r, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sessions != 6 || r.Failed != 6 || r.Completed != 0 || len(r.Errors) != 1 {
		t.Fatalf("sessions %d failed %d completed %d errors %v", r.Sessions, r.Failed, r.Completed, r.Errors)
	}
	for code, n := range r.Errors {
		switch code {
		case "other", "timeout", "transport", "not_offered", "bad_result":
			t.Fatalf("counted as %q (%s), want the server's code", code, r.ErrorExamples[code])
		}
		if n != 6 || !strings.Contains(r.ErrorExamples[code], "scan") {
			t.Fatalf("%s: %d, e.g. %s", code, n, r.ErrorExamples[code])
		}
	}
	for _, p := range r.Phases {
		if p.Count != 0 {
			t.Fatalf("phase %+v has samples of failed sessions", p)
		}
	}
	var text strings.Builder
	_ = r.WriteText(&text)
	if !strings.Contains(text.String(), "errors:\n") {
		t.Fatalf("text report:\n%s", text.String())
	}
}

// TestWatchConfigValidate names the first bad field of a waiting-clients
// run.
func TestWatchConfigValidate(t *testing.T) {
	if err := DefaultWatchConfig().Validate(); err != nil {
		t.Fatalf("the default: %v", err)
	}
	for _, tc := range []struct {
		field string
		bad   func(*WatchConfig)
	}{
		{"watchers", func(c *WatchConfig) { c.Watchers = 0 }},
		{"transport", func(c *WatchConfig) { c.Transport = "carrier-pigeon" }},
		{"confirms", func(c *WatchConfig) { c.Confirms = c.Watchers + 1 }},
		{"settle", func(c *WatchConfig) { c.Settle = -time.Second }},
		{"left_settle", func(c *WatchConfig) { c.LeftSettle = 2 * time.Hour }},
		{"idle_window", func(c *WatchConfig) { c.IdleWindow = 0 }},
		{"open_parallel", func(c *WatchConfig) { c.OpenParallel = 0 }},
	} {
		c := DefaultWatchConfig()
		tc.bad(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
}

// TestCryptoLimitTimedAgain: a load long enough (here: any, the bound
// lowered) has its crypto limit timed before and after it, and the
// report's limit, per-session time and ratio are the mean of the two.
func TestCryptoLimitTimedAgain(t *testing.T) {
	_, ctx, f := quietFixture(t, func(c *Config) { c.Sessions, c.Concurrency, c.Users = 4, 2, 2 })
	defer func(d time.Duration) { cryptoLimitAgainAfter = d }(cryptoLimitAgainAfter)
	cryptoLimitAgainAfter = 0
	r, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := r.CryptoLimit
	if c == nil || len(c.Timed) != 2 || c.Timed[0] <= 0 || c.Timed[1] <= 0 {
		t.Fatalf("crypto limit %+v, want two timings", c)
	}
	if mean := (c.Timed[0] + c.Timed[1]) / 2; math.Abs(c.SessionsPerSecond-mean) > 1e-9*mean ||
		math.Abs(r.CryptoRatio-r.Throughput/mean) > 1e-9 ||
		math.Abs(time.Duration(c.PerSession).Seconds()-float64(c.CPUs)/mean) > 1e-6 {
		t.Fatalf("crypto limit %+v and ratio %v are not the mean of the timings", c, r.CryptoRatio)
	}
	if c.OneCore <= 0 || math.Abs(c.OneCoreScaled-float64(c.CPUs)/time.Duration(c.OneCore).Seconds()) > 1e-6*c.OneCoreScaled {
		t.Fatalf("one-core figures %+v", c)
	}
}

// TestServerLoad: the server figures of a load, from two /metrics
// expositions: CPU per session always, the store's commits when the
// node has them (bbolt), nothing without completed sessions.
func TestServerLoad(t *testing.T) {
	parse := func(s string) ServerFigures {
		t.Helper()
		sf, seen := parseFigures(strings.NewReader(s))
		if !seen {
			t.Fatalf("no resident memory in %q", s)
		}
		return sf
	}
	const proc = "# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes 5e+07\n"
	etcdBefore := parse(proc + "process_cpu_seconds_total 10\n")
	etcdAfter := parse(proc + "process_cpu_seconds_total 12.5\n")
	if etcdBefore.Store != nil {
		t.Fatalf("store figures without ukeygate_store_commit*: %+v", etcdBefore.Store)
	}
	l := serverLoad(etcdBefore, etcdAfter, 5*time.Second, 1000)
	if l == nil || math.Abs(l.CPUPerSession-2.5) > 1e-9 || l.CommitsPerSession != 0 || l.CommitBusy != 0 {
		t.Fatalf("etcd node: %+v", l)
	}

	store := func(cpu, commits, txns, secs, disk, pages float64) string {
		return proc + fmt.Sprintf("process_cpu_seconds_total %g\nukeygate_store_commits_total %g\nukeygate_store_committed_transactions_total %g\n"+
			"ukeygate_store_commit_seconds_total %g\nukeygate_store_commit_disk_seconds_total %g\nukeygate_store_commit_pages_total %g\n"+
			"ukeygate_store_commit_rollbacks_total 0\n", cpu, commits, txns, secs, disk, pages)
	}
	before := parse(store(1, 100, 400, 0.5, 0.4, 3000))
	after := parse(store(5, 900, 4400, 4.5, 3.6, 33000))
	l = serverLoad(before, after, 5*time.Second, 1000)
	want := ServerLoad{CPUPerSession: 4, CommitsPerSession: 0.8, TransactionsPerCommit: 5, PagesPerCommit: 37.5, MsPerCommit: 5, CommitBusy: 0.8, DiskBusy: 0.64}
	if l == nil {
		t.Fatal("no figures")
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"cpu", l.CPUPerSession, want.CPUPerSession}, {"commits", l.CommitsPerSession, want.CommitsPerSession},
		{"transactions", l.TransactionsPerCommit, want.TransactionsPerCommit}, {"pages", l.PagesPerCommit, want.PagesPerCommit},
		{"ms", l.MsPerCommit, want.MsPerCommit}, {"busy", l.CommitBusy, want.CommitBusy}, {"disk", l.DiskBusy, want.DiskBusy},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if l := serverLoad(before, after, 5*time.Second, 0); l != nil {
		t.Fatalf("figures without a completed session: %+v", l)
	}
}
