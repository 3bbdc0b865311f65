package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/internal/seed"
)

// seqs lists the sequence numbers of evs.
func seqs(evs []sxEvent) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestSessionsWatch(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	cred := w.creds["alice/sm2/sign"].ID

	t.Run("reconnecting with after loses nothing and repeats nothing", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		var got []sxEvent
		var last int64
		// step: open a socket with after=last, read n events, hang up.
		step := func(n int) {
			t.Helper()
			conn, _, err := w.dial(c.Watch.WSURL, last, nil)
			if err != nil {
				t.Fatal(err)
			}
			evs, _ := readEvents(t, conn, n)
			conn.Close()
			got = append(got, evs...)
			if len(evs) > 0 {
				last = evs[len(evs)-1].Seq
			}
		}
		step(1) // waiting
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		step(1) // scanned
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		conn, _, err := w.dial(c.Watch.WSURL, last, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs, code := readEvents(t, conn, 0)
		conn.Close()
		got = append(got, evs...)
		if code != websocket.CloseNormalClosure {
			t.Fatalf("close code %d after the final event", code)
		}
		if s := seqs(got); len(s) != 3 || s[0] != 1 || s[1] != 2 || s[2] != 3 {
			t.Fatalf("seqs %v", s)
		}
		if got[0].State != "waiting" || got[1].State != "scanned" || got[2].State != "completed" ||
			!bytes.Equal(got[2].Result, w.view(c.ID).Result) || len(got[2].Result) == 0 {
			t.Fatalf("events %+v", got)
		}
		// After the final event: nothing more, a normal close at once.
		conn, _, err = w.dial(c.Watch.WSURL, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs, code = readEvents(t, conn, 0)
		conn.Close()
		if len(evs) != 0 || code != websocket.CloseNormalClosure {
			t.Fatalf("after the final event: %v, close %d", seqs(evs), code)
		}
	})

	t.Run("a connected watcher sees every transition live", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		conns := make([]*websocket.Conn, 3) // several watchers of one session
		for i := range conns {
			conn, _, err := w.dial(c.Watch.WSURL, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if evs, _ := readEvents(t, conn, 1); len(evs) != 1 || evs[0].State != "waiting" {
				t.Fatalf("first event %+v", evs)
			}
			conns[i] = conn
		}
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		for _, conn := range conns {
			evs, code := readEvents(t, conn, 0)
			if s := seqs(evs); len(s) != 2 || s[0] != 2 || s[1] != 3 || code != websocket.CloseNormalClosure {
				t.Fatalf("seqs %v close %d", s, code)
			}
			if evs[1].State != "completed" || len(evs[1].Result) == 0 {
				t.Fatalf("final %+v", evs[1])
			}
		}
	})

	t.Run("long-poll", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		poll := func(after int64, wait int) []sxEvent {
			t.Helper()
			var got struct{ Events []sxEvent }
			w.must(w.do("GET", c.Watch.EventsURL+"&after="+strconv.FormatInt(after, 10)+"&wait="+strconv.Itoa(wait), nil, nil), http.StatusOK).decode(t, &got)
			return got.Events
		}
		if evs := poll(0, 0); len(evs) != 1 || evs[0].State != "waiting" {
			t.Fatalf("%+v", evs)
		}
		// A poll that waits for the scan; whichever comes first, it returns
		// event 2 exactly.
		type answer struct {
			Events []sxEvent
			err    error
		}
		done := make(chan answer, 1)
		go func() {
			var a answer
			resp, err := http.Get(c.Watch.EventsURL + "&after=1&wait=20")
			if err != nil {
				done <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			a.err = json.NewDecoder(resp.Body).Decode(&a)
			done <- a
		}()
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if a := <-done; a.err != nil || len(a.Events) != 1 || a.Events[0].Seq != 2 || a.Events[0].State != "scanned" {
			t.Fatalf("%+v", a)
		}
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		if evs := poll(2, 20); len(evs) != 1 || evs[0].State != "completed" || len(evs[0].Result) == 0 {
			t.Fatalf("%+v", evs)
		}
		// After the final event the poll answers at once, empty.
		if evs := poll(3, 20); len(evs) != 0 {
			t.Fatalf("%+v", evs)
		}
		// With the app key instead of the token.
		var got struct{ Events []sxEvent }
		w.must(w.app("GET", "/v1/sessions/"+c.ID+"/events", nil), http.StatusOK).decode(t, &got)
		if s := seqs(got.Events); len(s) != 3 {
			t.Fatalf("seqs %v", s)
		}
	})
}

// TestSessionsWatchShutdown: a graceful shutdown ends the websockets with
// 1001 (going away) instead of waiting for them.
func TestSessionsWatchShutdown(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{}) // the apps only
	ts := w.ts
	c := w.create(map[string]any{"kind": "login"})
	conn, _, err := w.dial(c.Watch.WSURL, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if evs, _ := readEvents(t, conn, 1); len(evs) != 1 {
		t.Fatalf("%+v", evs)
	}
	stopped := make(chan struct{})
	go func() {
		ts.Stop()
		close(stopped)
	}()
	evs, code := readEvents(t, conn, 0)
	if len(evs) != 0 || code != websocket.CloseGoingAway {
		t.Fatalf("events %v, close code %d", seqs(evs), code)
	}
	<-stopped
}
