package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The parked long-polls (park.go): the server of these tests (servertest)
// serves plain HTTP/1.1 with the Keepalive listener, so a long-poll that
// finds nothing new is taken from net/http and parked without a goroutine.

// sxMetric reads one sample of the server's /metrics (0 if absent).
func (w *sxWorld) sxMetric(sample string) float64 {
	w.t.Helper()
	m := w.must(w.do("GET", "/metrics", nil, nil), http.StatusOK)
	for _, line := range strings.Split(string(m.body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				w.t.Fatalf("metric %s: %q", sample, line)
			}
			return f
		}
	}
	return 0
}

// waitMetric waits until sample reaches want (a failure guard only).
func (w *sxWorld) waitMetric(sample string, want float64) {
	w.t.Helper()
	deadline := time.Now().Add(sxWaitGuard)
	for {
		got := w.sxMetric(sample)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s = %v, want %v", sample, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	parkedNow = "ukeygate_longpoll_parked"
)

func parkedTotal(outcome string) string {
	return `ukeygate_longpoll_parked_total{outcome="` + outcome + `"}`
}

// rawPoll is one long-poll written by hand on its own connection.
type rawPoll struct {
	conn net.Conn
	br   *bufio.Reader
}

func (w *sxWorld) rawPoll(eventsURL string, after int64, wait int, hdr string) *rawPoll {
	w.t.Helper()
	u, err := url.Parse(eventsURL)
	if err != nil {
		w.t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { conn.Close() })
	rp := &rawPoll{conn: conn, br: bufio.NewReader(conn)}
	rp.send(u, after, wait, hdr)
	return rp
}

func (rp *rawPoll) send(u *url.URL, after int64, wait int, hdr string) {
	fmt.Fprintf(rp.conn, "GET %s?%s&after=%d&wait=%d HTTP/1.1\r\nHost: %s\r\n%s\r\n", u.Path, u.RawQuery, after, wait, u.Host, hdr)
}

// read reads one answer (a failure guard bounds it).
func (rp *rawPoll) read(t *testing.T) (*http.Response, []sxEvent) {
	t.Helper()
	_ = rp.conn.SetReadDeadline(time.Now().Add(sxWaitGuard + 30*time.Second))
	resp, err := http.ReadResponse(rp.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Events []sxEvent }
	if err := json.Unmarshal(body, &got); err != nil || got.Events == nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return resp, got.Events
}

func TestParkedLongPoll(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	cred := w.creds["alice/sm2/sign"].ID

	t.Run("an event reaches the parked poll with net/http's headers, and the connection lives on", func(t *testing.T) {
		before := w.sxMetric(parkedTotal("events"))
		c := w.create(map[string]any{"kind": "login"})
		u, _ := url.Parse(c.Watch.EventsURL)
		rp := w.rawPoll(c.Watch.EventsURL, 1, 25, "Origin: "+sxOrigin+"\r\n")
		w.waitMetric(parkedNow, 1)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		resp, evs := rp.read(t)
		if resp.StatusCode != 200 || len(evs) != 1 || evs[0].Seq != 2 || evs[0].State != "scanned" {
			t.Fatalf("%d %+v", resp.StatusCode, evs)
		}
		for k, want := range map[string]string{
			"Content-Type":                "application/json; charset=utf-8",
			"Cache-Control":               "no-store",
			"X-Content-Type-Options":      "nosniff",
			"Access-Control-Allow-Origin": sxOrigin,
			"Vary":                        "Origin",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		if resp.Close || resp.Header.Get("Date") == "" || resp.ContentLength <= 0 {
			t.Errorf("close %v, date %q, length %d", resp.Close, resp.Header.Get("Date"), resp.ContentLength)
		}
		if got := w.sxMetric(parkedTotal("events")); got != before+1 {
			t.Errorf("parked answers with events: %v, want %v", got, before+1)
		}
		// The same connection serves the next poll (net/http has it
		// back), which parks again and gets the final event.
		rp.send(u, 2, 25, "")
		w.waitMetric(parkedNow, 1)
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		if _, evs := rp.read(t); len(evs) != 1 || evs[0].Seq != 3 || evs[0].State != "completed" {
			t.Fatalf("%+v", evs)
		}
		// After the final event: at once, empty, not parked.
		rp.send(u, 3, 25, "")
		if _, evs := rp.read(t); len(evs) != 0 {
			t.Fatalf("%+v", evs)
		}
		w.waitMetric(parkedNow, 0)
	})

	t.Run("the wait ends with an empty answer on the same connection", func(t *testing.T) {
		before := w.sxMetric(parkedTotal("empty"))
		c := w.create(map[string]any{"kind": "login"})
		u, _ := url.Parse(c.Watch.EventsURL)
		rp := w.rawPoll(c.Watch.EventsURL, 1, 1, "")
		start := time.Now()
		resp, evs := rp.read(t)
		if resp.StatusCode != 200 || len(evs) != 0 || time.Since(start) < 900*time.Millisecond {
			t.Fatalf("%d %+v after %s", resp.StatusCode, evs, time.Since(start))
		}
		if got := w.sxMetric(parkedTotal("empty")); got != before+1 {
			t.Errorf("parked empty answers: %v, want %v", got, before+1)
		}
		rp.send(u, 0, 0, "")
		if _, evs := rp.read(t); len(evs) != 1 || evs[0].State != "waiting" {
			t.Fatalf("%+v", evs)
		}
	})

	t.Run("a client that leaves is noticed and freed", func(t *testing.T) {
		before := w.sxMetric(parkedTotal("gone"))
		c := w.create(map[string]any{"kind": "login"})
		rp := w.rawPoll(c.Watch.EventsURL, 1, 30, "")
		w.waitMetric(parkedNow, 1)
		rp.conn.Close()
		// The sweep peeks at each parked socket every few seconds, well
		// before the 30 s wait ends.
		w.waitMetric(parkedTotal("gone"), before+1)
		w.waitMetric(parkedNow, 0)
		// The session goes on: a new poll sees its events.
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		rp2 := w.rawPoll(c.Watch.EventsURL, 1, 25, "")
		if _, evs := rp2.read(t); len(evs) != 1 || evs[0].Seq != 2 {
			t.Fatalf("%+v", evs)
		}
	})

	t.Run("many parked polls each get every event once, in order", func(t *testing.T) {
		const n = 150
		c := w.create(map[string]any{"kind": "login"})
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
		defer hc.CloseIdleConnections()
		var dials atomic.Int64
		hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		got := make([][]int64, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				after := int64(1)
				for after < 3 {
					resp, err := hc.Get(c.Watch.EventsURL + "&after=" + strconv.FormatInt(after, 10) + "&wait=25")
					if err != nil {
						errs <- err
						return
					}
					var body struct{ Events []sxEvent }
					err = json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if err != nil {
						errs <- err
						return
					}
					for _, e := range body.Events {
						got[i] = append(got[i], e.Seq)
						after = e.Seq
					}
				}
			})
		}
		w.waitMetric(parkedNow, n)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		w.waitMetric(parkedNow, n) // every poller re-polled and parked again
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, s := range got {
			if len(s) != 2 || s[0] != 2 || s[1] != 3 {
				t.Fatalf("poller %d got seqs %v", i, s)
			}
		}
		if d := dials.Load(); d != n {
			t.Errorf("%d dials for %d pollers: the parked connections were not kept alive", d, n)
		}
	})

	t.Run("a poll that asks to close, or HTTP/1.0, is held as before", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		rp := w.rawPoll(c.Watch.EventsURL, 1, 1, "Connection: close\r\n")
		resp, evs := rp.read(t)
		if resp.StatusCode != 200 || len(evs) != 0 || !resp.Close {
			t.Fatalf("%d %+v close=%v", resp.StatusCode, evs, resp.Close)
		}
		if n := w.sxMetric(parkedNow); n != 0 {
			t.Fatalf("parked: %v", n)
		}
	})
}

// TestParkedLongPollShutdown: a graceful shutdown answers every parked
// poll (empty, Connection: close) before the server stops.
func TestParkedLongPollShutdown(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	c := w.create(map[string]any{"kind": "login"})
	var polls []*rawPoll
	for range 5 {
		polls = append(polls, w.rawPoll(c.Watch.EventsURL, 1, 30, ""))
	}
	w.waitMetric(parkedNow, 5)
	start := time.Now()
	w.ts.Stop()
	for _, rp := range polls {
		resp, evs := rp.read(t)
		if resp.StatusCode != 200 || len(evs) != 0 || !resp.Close {
			t.Fatalf("%d %+v close=%v", resp.StatusCode, evs, resp.Close)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("shutdown took %s: the parked polls held it up", d)
	}
}
