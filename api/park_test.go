package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
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
	u, _ := url.Parse(c.Watch.EventsURL)
	var polls []*rawPoll
	for range 5 {
		polls = append(polls, w.rawPoll(c.Watch.EventsURL, 1, 30, ""))
	}
	// Connections the API kept after a first parked poll (Linux): three
	// park again, through the lot; two wait idle for their next request.
	var idle []*rawPoll
	if runtime.GOOS == "linux" {
		var kept []*rawPoll
		for range 5 {
			kept = append(kept, w.rawPoll(c.Watch.EventsURL, 1, 1, ""))
		}
		for _, rp := range kept {
			if _, evs := rp.read(t); len(evs) != 0 {
				t.Fatalf("%+v", evs)
			}
		}
		w.waitMetric(keptNow, 10) // the first five are parked in the lot too
		for _, rp := range kept[:3] {
			rp.send(u, 1, 30, "")
		}
		polls, idle = append(polls, kept[:3]...), kept[3:]
	}
	w.waitMetric(parkedNow, float64(len(polls)))
	start := time.Now()
	w.ts.Stop()
	for _, rp := range polls {
		resp, evs := rp.read(t)
		if resp.StatusCode != 200 || len(evs) != 0 || !resp.Close {
			t.Fatalf("%d %+v close=%v", resp.StatusCode, evs, resp.Close)
		}
	}
	for _, rp := range idle {
		_ = rp.conn.SetReadDeadline(time.Now().Add(sxWaitGuard))
		if b, err := rp.br.ReadByte(); err != io.EOF {
			t.Fatalf("an idle kept connection read %q, %v: want it closed", b, err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("shutdown took %s: the parked polls held it up", d)
	}
}

// rawConn is an HTTP/1.1 client connection written by hand that keeps the
// bytes of every answer, to compare them with net/http's.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	rec  *bytes.Buffer
	br   *bufio.Reader
}

func dialRaw(t *testing.T, host string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rec := &bytes.Buffer{}
	return &rawConn{t: t, conn: conn, rec: rec, br: bufio.NewReader(io.TeeReader(conn, rec))}
}

var dateLine = regexp.MustCompile(`\r\nDate: [^\r]*\r\n`)

// next reads one answer and returns its bytes (the Date value blanked).
func (rc *rawConn) next() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(sxWaitGuard + 30*time.Second))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("reading an answer: %v", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		rc.t.Fatal(err)
	}
	resp.Body.Close()
	n := rc.rec.Len() - rc.br.Buffered() // the rest belongs to the next answer
	raw := string(rc.rec.Next(n))
	return dateLine.ReplaceAllString(raw, "\r\nDate: -\r\n")
}

// send writes raw request bytes.
func (rc *rawConn) send(req string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.conn, req); err != nil {
		rc.t.Fatal(err)
	}
}

// closed waits until the server closed the connection (without
// answering anything more).
func (rc *rawConn) closed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(sxWaitGuard))
	if b, err := rc.br.ReadByte(); err != io.EOF {
		rc.t.Fatalf("read %q, %v: want the end of the stream", b, err)
	}
}

// netHTTP is what net/http answers to req on a fresh connection: the
// reference the kept connections must match byte for byte (but Date).
func netHTTP(t *testing.T, host, req string, answers int) []string {
	t.Helper()
	rc := dialRaw(t, host)
	rc.send(req)
	var out []string
	for range answers {
		out = append(out, rc.next())
	}
	return out
}

const (
	keptNow    = "ukeygate_longpoll_kept_connections"
	keptServed = `ukeygate_longpoll_kept_requests_total{by="api"}`
	keptHanded = `ukeygate_longpoll_kept_requests_total{by="http"}`
)

// TestParkedConnectionKept: after its parked poll is answered, the
// connection stays with the API (Linux), which serves plain re-polls
// itself and hands anything else back to net/http; the answers are
// net/http's, byte for byte.
func TestParkedConnectionKept(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the lot needs epoll")
	}
	t.Parallel()
	w := sxNew(t)
	c := w.create(map[string]any{"kind": "login"})
	u, _ := url.Parse(c.Watch.EventsURL)
	host := u.Host
	poll := func(path, query, hdr string) string {
		return "GET " + path + "?" + query + " HTTP/1.1\r\nHost: " + host + "\r\n" + hdr + "\r\n"
	}
	events := func(after, wait, hdr string) string {
		return poll(u.Path, u.RawQuery+"&after="+after+"&wait="+wait, hdr)
	}
	// quiet is a session nothing happens to: a poll after=1 on it waits.
	q, _ := url.Parse(w.create(map[string]any{"kind": "login"}).Watch.EventsURL)
	quiet := func(wait string) string {
		return poll(q.Path, q.RawQuery+"&after=1&wait="+wait, "")
	}
	// kept opens a connection and parks a 1 s poll on it, which ends
	// empty: the connection is then kept by the API.
	kept := func(t *testing.T) *rawConn {
		t.Helper()
		before := w.sxMetric(keptNow)
		rc := dialRaw(t, host)
		rc.send(quiet("1"))
		if a := rc.next(); !strings.Contains(a, "\r\n\r\n{\"events\":[]}\n") {
			t.Fatalf("first answer %q", a)
		}
		w.waitMetric(keptNow, before+1)
		return rc
	}

	t.Run("re-polls on a kept connection get net/http's answers", func(t *testing.T) {
		rc := kept(t)
		reqs := []string{
			events("0", "25", "Origin: "+sxOrigin+"\r\n"), // news at once
			events("0", "0", "User-Agent: x\r\nAccept: application/json\r\n"),
			events("1", "999", ""),                               // wait out of range
			events("x", "1", "Origin: "+sxOrigin+"\r\n"),         // bad after
			events("0", "1", "Origin: https://evil.example\r\n"), // refused origin
			events("0", "1", "Origin: "+sxOrigin2+"\r\n"),        // the other app's origin
			poll(u.Path, "token=bad&after=0&wait=1", ""),         // wrong token
			poll("/v1/sessions/nosuchsession/events", u.RawQuery+"&after=0&wait=1", ""),
		}
		for round := range 3 {
			for i, req := range reqs {
				want := netHTTP(t, host, req, 1)[0]
				served := w.sxMetric(keptServed)
				rc.send(req)
				if got := rc.next(); got != want {
					t.Fatalf("round %d request %d:\n got %q\nwant %q", round, i, got, want)
				}
				if got := w.sxMetric(keptServed); got != served+1 {
					t.Fatalf("round %d request %d: served in the lot %v, want %v", round, i, got, served+1)
				}
			}
		}
		// A re-poll parks again on the kept connection and gets the
		// next event with the same headers as a fresh connection's.
		served := w.sxMetric(keptServed)
		rc.send(events("1", "25", "Origin: "+sxOrigin+"\r\n"))
		w.waitMetric(parkedNow, 1)
		if got := w.sxMetric(keptServed); got != served+1 {
			t.Fatalf("served in the lot %v, want %v", got, served+1)
		}
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		got := rc.next()
		want := netHTTP(t, host, events("1", "25", "Origin: "+sxOrigin+"\r\n"), 1)[0]
		if got != want {
			t.Fatalf("parked answer:\n got %q\nwant %q", got, want)
		}
		w.waitMetric(keptNow, 1)
		rc.conn.Close()
		w.waitMetric(keptNow, 0)
	})

	t.Run("another request on a kept connection is served by net/http", func(t *testing.T) {
		rc := kept(t)
		for i, req := range []string{
			"GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			"POST " + u.Path + "?" + u.RawQuery + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n\r\n{}",
			"HEAD " + u.Path + "?" + u.RawQuery + "&after=0 HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			poll(u.Path+"/", u.RawQuery, ""),
			poll("/v1/sessions/%2e%2e/events", u.RawQuery, ""),
			events("0", "0", "Expect: 100-continue\r\n"),
		} {
			if strings.HasPrefix(req, "HEAD") {
				continue // a HEAD answer has no body for ReadResponse to find; covered by net/http itself
			}
			want := netHTTP(t, host, req, 1)[0]
			handed := w.sxMetric(keptHanded)
			rc.send(req)
			if got := rc.next(); got != want {
				t.Fatalf("request %d:\n got %q\nwant %q", i, got, want)
			}
			if got := w.sxMetric(keptHanded); got != handed+1 {
				t.Fatalf("request %d: handed back %v, want %v", i, got, handed+1)
			}
			// net/http has it now; a poll that parks brings it back.
			rc.send(quiet("1"))
			if a := rc.next(); !strings.Contains(a, "\r\n\r\n{\"events\":[]}\n") {
				t.Fatalf("request %d: then %q", i, a)
			}
			w.waitMetric(keptNow, 1)
		}
		// A poll that asks to close goes to net/http and is held there.
		req := events("0", "0", "Connection: close\r\n")
		want := netHTTP(t, host, req, 1)[0]
		rc.send(req)
		if got := rc.next(); got != want || !strings.Contains(got, "Connection: close\r\n") {
			t.Fatalf("got %q\nwant %q", got, want)
		}
		rc.closed()
		w.waitMetric(keptNow, 0)
	})

	t.Run("pipelined, split and malformed requests get net/http's answers", func(t *testing.T) {
		two := events("0", "0", "") + events("1", "0", "")
		rc := kept(t)
		want := netHTTP(t, host, two, 2)
		rc.send(two)
		for i := range 2 {
			if got := rc.next(); got != want[i] {
				t.Fatalf("pipelined %d:\n got %q\nwant %q", i, got, want[i])
			}
		}
		// A request that comes in two pieces.
		one := events("0", "0", "")
		want = netHTTP(t, host, one, 1)
		w.waitMetric(keptNow, 0) // net/http has it
		rc.send(quiet("1"))
		rc.next()
		w.waitMetric(keptNow, 1)
		// Either way is right: the lot may read a part (net/http then
		// reads the rest) or all of it.
		rc.send(one[:20])
		rc.send(one[20:])
		if got := rc.next(); got != want[0] {
			t.Fatalf("split:\n got %q\nwant %q", got, want[0])
		}
		rc.conn.Close()
		w.waitMetric(keptNow, 0)
		for i, bad := range []string{
			"GET " + u.Path + "?" + u.RawQuery + " HTTP/1.1\r\nHost: " + host + "\r\nNo-Colon\r\n\r\n",
			"GET " + u.Path + "?" + u.RawQuery + " HTTP/1.1\r\n\r\n", // no Host
			"GET " + u.Path + "?" + u.RawQuery + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
			"GET " + u.Path + "?" + u.RawQuery + " HTTP/1.1\r\nHost: " + host + "\r\nX: a\x01b\r\n\r\n",
			"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
			"GET " + u.Path + " HTTP/9.9\r\nHost: " + host + "\r\n\r\n",
		} {
			want := netHTTP(t, host, bad, 1)[0]
			rc := kept(t)
			rc.send(bad)
			if got := rc.next(); got != want {
				t.Fatalf("malformed %d:\n got %q\nwant %q", i, got, want)
			}
			rc.closed()
			w.waitMetric(keptNow, 0)
		}
	})

	t.Run("a client that leaves is freed, idle or parked", func(t *testing.T) {
		rc := kept(t)
		rc.conn.Close()
		w.waitMetric(keptNow, 0)
		gone := w.sxMetric(parkedTotal("gone"))
		rc = kept(t)
		rc.send(quiet("30"))
		w.waitMetric(parkedNow, 1)
		rc.conn.Close()
		w.waitMetric(parkedTotal("gone"), gone+1)
		w.waitMetric(parkedNow, 0)
		w.waitMetric(keptNow, 0)
	})
}

const keptFast = "ukeygate_longpoll_fast_repolls_total"

// TestRepollFastPath: a re-poll that repeats, but for after=, a long-poll
// the whole chain parked from the same kept connection is parked without
// the chain (Linux), and every answer is still net/http's, byte for byte;
// anything that is not a plain "nothing new yet" goes through the chain.
func TestRepollFastPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the lot needs epoll")
	}
	t.Parallel()
	w := sxNew(t)
	c := w.create(map[string]any{"kind": "login"})
	if want := int(config.DefaultLongPollWait / time.Second); c.Watch.PollWait != want {
		t.Fatalf("watch.poll_wait %d, want the default %d", c.Watch.PollWait, want)
	}
	u, _ := url.Parse(c.Watch.EventsURL)
	host := u.Host
	events := func(after, wait, hdr string) string {
		return "GET " + u.Path + "?" + u.RawQuery + "&after=" + after + "&wait=" + wait + " HTTP/1.1\r\nHost: " + host + "\r\n" + hdr + "\r\n"
	}
	origin := "Origin: " + sxOrigin + "\r\n"
	rc := dialRaw(t, host)
	kept := w.sxMetric(keptNow)
	// 1. net/http parks the first poll; its empty answer leaves the
	// connection in the lot.
	rc.send(events("1", "1", origin))
	empty := rc.next()
	if !strings.HasSuffix(empty, "\r\n\r\n{\"events\":[]}\n") {
		t.Fatalf("first answer %q", empty)
	}
	w.waitMetric(keptNow, kept+1)
	// 2. The lot reads the second; the chain parks it and leaves a memo.
	fast := w.sxMetric(keptFast)
	rc.send(events("1", "1", origin))
	if got := rc.next(); got != empty {
		t.Fatalf("chain's parked answer:\n got %q\nwant %q", got, empty)
	}
	if got := w.sxMetric(keptFast); got != fast {
		t.Fatalf("fast re-polls %v, want %v (the chain parked it)", got, fast)
	}
	// 3. The same request again: parked by the fast path, answered
	// exactly as the chain answered. (A number beyond the last event is
	// refused by the chain: the fast path leaves it there.)
	for i, after := range []string{"1", "1", "1"} {
		rc.send(events(after, "1", origin))
		if got := rc.next(); got != empty {
			t.Fatalf("fast re-poll %d:\n got %q\nwant %q", i, got, empty)
		}
		if got := w.sxMetric(keptFast); got != fast+float64(i+1) {
			t.Fatalf("fast re-polls %v, want %v", got, fast+float64(i+1))
		}
	}
	fast += 3
	// 4. Not the memo's request: another header, a non-canonical or
	// missing number, news already there (after=0). The chain answers,
	// as net/http would.
	for i, req := range []string{
		events("1", "1", origin+"User-Agent: other\r\n"),
		events("01", "1", origin),
		events("", "1", origin),
		events("0", "1", origin),
		events("7", "1", origin),
	} {
		want := netHTTP(t, host, req, 1)[0]
		rc.send(req)
		if got := rc.next(); got != want {
			t.Fatalf("request %d:\n got %q\nwant %q", i, got, want)
		}
		if got := w.sxMetric(keptFast); got != fast {
			t.Fatalf("request %d: fast re-polls %v, want %v", i, got, fast)
		}
	}
	// 5. Parked re-polls hear the news with net/http's headers: the
	// chain parks a wait=25 poll (a new memo), the scan answers it; the
	// re-poll after it is fast-parked and the confirm answers it; the
	// one after the end goes through the chain.
	rc.send(events("1", "25", origin))
	w.waitMetric(parkedNow, 1)
	if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if got, want := rc.next(), netHTTP(t, host, events("1", "25", origin), 1)[0]; got != want {
		t.Fatalf("the scan's answer:\n got %q\nwant %q", got, want)
	}
	rc.send(events("2", "25", origin))
	w.waitMetric(keptFast, fast+1)
	w.waitMetric(parkedNow, 1)
	if err := w.confirm(w.alice, c.ID, w.creds["alice/sm2/sign"].ID, sxPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	got := rc.next()
	if want := netHTTP(t, host, events("2", "25", origin), 1)[0]; got != want {
		t.Fatalf("the confirm's answer to a fast-parked re-poll:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(got, `"state":"completed"`) {
		t.Fatalf("the confirm's answer %q has no completed event", got)
	}
	req := events("3", "25", origin)
	want := netHTTP(t, host, req, 1)[0]
	rc.send(req)
	if got := rc.next(); got != want {
		t.Fatalf("after the end:\n got %q\nwant %q", got, want)
	}
	if got := w.sxMetric(keptFast); got != fast+1 {
		t.Fatalf("fast re-polls %v, want %v (an ended session goes through the chain)", got, fast+1)
	}
}
