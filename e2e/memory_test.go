package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// metricValue reads one sample of the gateway's /metrics (the line that
// starts with series, e.g. `ukeygate_session_watchers`); -1 if absent.
func metricValue(t *testing.T, baseURL, series string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err != nil {
				t.Fatalf("%s: %v", sc.Text(), err)
			}
			return v
		}
	}
	return -1
}

// TestMemoryReleaseAfterDeparture: with the memory policy's thresholds
// lowered to a handful of clients, websockets that wait and then all
// leave make the running server release (counted by reason "departure"),
// and it keeps serving: a new client still follows a session to its end.
func TestMemoryReleaseAfterDeparture(t *testing.T) {
	t.Parallel()
	const clients = 6
	ts := servertest.Start(t, func(c *config.Config) {
		c.Log.Level = "warn"
		c.Memory.MinWaiters = clients
		c.Memory.CheckInterval = 100 * time.Millisecond
		c.Memory.MinInterval = 100 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sw := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Apps: []operator.AppRequest{{Name: "memory portal", Origins: []string{testOrigin}}},
	})
	pc := &portal.Client{BaseURL: ts.URL, AppKey: sw.Apps[0].APIKey, Origin: testOrigin}
	const departures = `ukeygate_memory_releases_total{reason="departure"}`
	if v := metricValue(t, ts.URL, departures); v != 0 {
		t.Fatalf("%s = %v before any client, want 0", departures, v)
	}
	var sessions []*portal.Session
	var cancels []context.CancelFunc
	for range clients {
		s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: testOrigin,
			Display: portal.Display{Title: "memory"}})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		events, err := pc.Watch(wctx, s)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range events {
			}
		}()
		sessions, cancels = append(sessions, s), append(cancels, wcancel)
	}
	waitUntil(t, ctx, "every client waiting", func() bool {
		return metricValue(t, ts.URL, "ukeygate_session_watchers") == clients
	})
	for _, c := range cancels {
		c()
	}
	waitUntil(t, ctx, "a release after the departure", func() bool {
		return metricValue(t, ts.URL, departures) >= 1
	})
	// Still serving: a session whose hub memory was dropped is followed
	// again, and its cancellation arrives.
	s := sessions[0]
	events, err := pc.Watch(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.CancelSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if ev.Final() {
			if ev.State != portal.StateCancelled {
				t.Fatalf("final event %+v, want cancelled", ev)
			}
			return
		}
	}
	t.Fatal("the watch ended without the final event")
}

// waitUntil polls cond every 20 ms until it holds; ctx is the guard.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
