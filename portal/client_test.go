package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // failure guard
	t.Cleanup(cancel)
	return ctx
}

func loginRequest() portal.SessionRequest {
	return portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "登录", Summary: "test"}, Origin: bidOrigin}
}

// next receives one event or fails.
func next(t *testing.T, ch <-chan portal.Event) portal.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed early")
		}
		return ev
	case <-time.After(waitFor): // failure guard
		t.Fatal("no event")
	}
	return portal.Event{}
}

// afterOf is the after= value of a recorded watch request ("ws:3" → 3).
func afterOf(t *testing.T, req string) int {
	t.Helper()
	n, err := strconv.Atoi(req[strings.Index(req, ":")+1:])
	if err != nil {
		t.Fatalf("watch request %q", req)
	}
	return n
}

// TestWatch drives a login session through scan and confirm on a real
// gateway while a watcher follows it over each transport, and checks that
// every event arrives exactly once, in order, and that (re)connects ask
// for after=<last seq>.
func TestWatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		transport string
		blockWS   bool // the proxy in front of the gateway refuses websockets
		restart   bool // the gateway restarts after the first event
		// wantWatches are the watch requests, in order (nil: not
		// deterministic, only checked to never go back).
		wantWatches []string
	}{
		{name: "websocket", wantWatches: []string{"ws:0"}},
		{name: "websocket, gateway restarted mid-session", restart: true},
		{name: "websocket blocked by a proxy, long-poll fallback", blockWS: true,
			wantWatches: []string{"ws:0", "poll:0", "poll:1", "poll:2"}},
		{name: "long-poll only", transport: "longpoll", wantWatches: []string{"poll:0", "poll:1", "poll:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // its own gateway and proxy
			g := newGateway(t)
			g.proxy.BlockWebsockets(tc.blockWS)
			c := g.client()
			c.Transport = tc.transport
			ctx := testCtx(t)
			s, err := c.CreateSession(ctx, loginRequest())
			if err != nil {
				t.Fatal(err)
			}
			ch, err := c.Watch(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			var got []portal.Event
			got = append(got, next(t, ch))
			if tc.restart {
				g.ts.Restart() // closes the websocket ("going away")
			}
			id := g.scan(s.QR.Payload)
			got = append(got, next(t, ch))
			g.confirm(id, s.Code)
			got = append(got, next(t, ch))
			if _, ok := <-ch; ok {
				t.Fatal("an event after the final one")
			}
			var states []string
			for i, ev := range got {
				if ev.Seq != int64(i+1) {
					t.Errorf("event %d has seq %d", i, ev.Seq)
				}
				states = append(states, string(ev.State))
			}
			if want := []string{"waiting", "scanned", "completed"}; !slices.Equal(states, want) {
				t.Fatalf("states = %v, want %v", states, want)
			}
			res, err := got[2].Login()
			if err != nil {
				t.Fatal(err)
			}
			v, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: g.appID, Origin: bidOrigin})
			if err != nil {
				t.Fatalf("login result from the watch: %v", err)
			}
			if v.User != g.userID || v.Certificate.Subject.CommonName != testUserName {
				t.Fatalf("login of %s (%s)", v.User, v.Certificate.Subject)
			}
			req := g.proxy.Watches()
			if tc.wantWatches != nil && !slices.Equal(req, tc.wantWatches) {
				t.Fatalf("watch requests = %v, want %v", req, tc.wantWatches)
			}
			for i := 1; i < len(req); i++ {
				if afterOf(t, req[i]) < afterOf(t, req[i-1]) {
					t.Fatalf("after= went back: %v", req)
				}
			}
			if tc.restart && (len(req) < 2 || afterOf(t, req[len(req)-1]) < 1) {
				t.Fatalf("no reconnect with after ≥ 1 after the restart: %v", req)
			}
		})
	}
}

// replayGateway serves a recorded real event stream the way a faulty
// gateway or proxy cache might: every answer starts again from the first
// event, whatever after= says. The real gateway never does this, so this
// one small handler is the only stand-in of the package.
type replayGateway struct {
	events []json.RawMessage
	srv    *httptest.Server

	mu    sync.Mutex
	calls int
	after []string // "ws:N" / "poll:N" as asked
}

// recordSession runs a login session to completion on g and returns it
// (as created) with its events as the gateway sent them
// (GET /v1/sessions/{id}, raw JSON).
func recordSession(t *testing.T, g *gateway) (*portal.Session, []json.RawMessage) {
	t.Helper()
	c := g.client()
	s, err := c.CreateSession(testCtx(t), loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	g.scanConfirm(s)
	req, _ := http.NewRequest("GET", g.url+"/v1/sessions/"+s.ID, nil)
	req.Header.Set("Authorization", "Bearer "+g.appKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var view struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil || len(view.Events) != 3 {
		t.Fatalf("recorded %d events: %v", len(view.Events), err)
	}
	return s, view.Events
}

func newReplayGateway(t *testing.T, events []json.RawMessage) *replayGateway {
	rg := &replayGateway{events: events}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	// Answer n (1-based) holds events 1..n.
	mux.HandleFunc("GET /v1/sessions/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		n := rg.call("poll:" + r.URL.Query().Get("after"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"events": rg.events[:n]})
	})
	// Connection n sends events 1..n, then drops (no close frame), except
	// the last, which ends normally.
	mux.HandleFunc("GET /v1/sessions/{id}/ws", func(w http.ResponseWriter, r *http.Request) {
		n := rg.call("ws:" + r.URL.Query().Get("after"))
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, ev := range rg.events[:n] {
			if err := conn.WriteMessage(websocket.TextMessage, ev); err != nil {
				return
			}
		}
		if n == len(rg.events) {
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}
	})
	rg.srv = httptest.NewServer(mux)
	t.Cleanup(rg.srv.Close)
	return rg
}

// call records a request and returns how many events to answer.
func (rg *replayGateway) call(what string) int {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	rg.calls++
	rg.after = append(rg.after, what)
	return min(rg.calls, len(rg.events))
}

// TestWatchDedupesReplays: a watcher that is sent events it already has
// (after a reconnect, or by a gateway that ignores after=) delivers each
// event once.
func TestWatchDedupesReplays(t *testing.T) {
	t.Parallel()
	_, events := recordSession(t, newGateway(t))
	for _, transport := range []string{"auto", "longpoll"} {
		t.Run(transport, func(t *testing.T) {
			rg := newReplayGateway(t, events)
			c := &portal.Client{BaseURL: rg.srv.URL, AppKey: "ukg_replay", Transport: transport}
			base := rg.srv.URL + "/v1/sessions/S1"
			s := &portal.Session{ID: "S1", Watch: portal.Watch{
				WSURL: "ws" + strings.TrimPrefix(base, "http") + "/ws", EventsURL: base + "/events", Token: "t",
			}}
			ch, err := c.Watch(testCtx(t), s)
			if err != nil {
				t.Fatal(err)
			}
			var states []string
			for ev := range ch {
				states = append(states, string(ev.State))
			}
			if want := []string{"waiting", "scanned", "completed"}; !slices.Equal(states, want) {
				t.Fatalf("states = %v, want %v", states, want)
			}
			rg.mu.Lock()
			defer rg.mu.Unlock()
			want := []string{"ws:0", "ws:1", "ws:2"}
			if transport == "longpoll" {
				want = []string{"poll:0", "poll:1", "poll:2"}
			}
			if !slices.Equal(rg.after, want) {
				t.Fatalf("requests = %v, want %v", rg.after, want)
			}
		})
	}
}

func TestWaitFinalStates(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	tests := []struct {
		name  string
		end   func(c *portal.Client, s *portal.Session) error
		state portal.State
	}{
		{"rejected", func(_ *portal.Client, s *portal.Session) error {
			g.reject(g.scan(s.QR.Payload))
			return nil
		}, portal.StateRejected},
		{"cancelled by the portal", func(c *portal.Client, s *portal.Session) error {
			return c.CancelSession(context.Background(), s.ID)
		}, portal.StateCancelled},
		{"completed", func(_ *portal.Client, s *portal.Session) error {
			g.scanConfirm(s)
			return nil
		}, portal.StateCompleted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := g.client()
			ctx := testCtx(t)
			s, err := c.CreateSession(ctx, loginRequest())
			if err != nil {
				t.Fatal(err)
			}
			type answer struct {
				ev  *portal.Event
				err error
			}
			done := make(chan answer, 1)
			go func() {
				ev, err := c.Wait(ctx, s)
				done <- answer{ev, err}
			}()
			if err := tc.end(c, s); err != nil {
				t.Fatal(err)
			}
			a := <-done
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.ev.State != tc.state || !a.ev.Final() {
				t.Fatalf("final event = %+v, want %s", a.ev, tc.state)
			}
			got, err := c.GetSession(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.state || len(got.Events) != int(a.ev.Seq) {
				t.Fatalf("GetSession: state %s with %d events, want %s with %d", got.State, len(got.Events), tc.state, a.ev.Seq)
			}
			_, err = got.Login()
			if (err == nil) != (tc.state == portal.StateCompleted) {
				t.Fatalf("Login() of a %s session: %v", tc.state, err)
			}
		})
	}
}

func TestWaitContextEnds(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	c := g.client()
	s, err := c.CreateSession(testCtx(t), loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Wait(ctx, s)
		done <- err
	}()
	g.proxy.WaitWatches(1) // the watcher is connected
	cancel()
	if err := <-done; !errors.Is(err, portal.ErrWatchEnded) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

func TestWatchRefused(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	c := g.client()
	ctx := testCtx(t)
	s, err := c.CreateSession(ctx, loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateSession(ctx, loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"wrong token", strings.Repeat("A", len(s.Watch.Token))},
		{"another session's token", other.Watch.Token},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := *s
			bad.Watch.Token = tc.token
			bad.Watch.WSURL = strings.Replace(bad.Watch.WSURL, s.Watch.Token, tc.token, 1)
			bad.Watch.EventsURL = strings.Replace(bad.Watch.EventsURL, s.Watch.Token, tc.token, 1)
			_, err := c.Watch(ctx, &bad)
			var ae *portal.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "session_not_found" {
				t.Fatalf("Watch with %s: %v, want APIError 404 session_not_found", tc.name, err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	// What a proxy in front of a gateway answers when the gateway is down.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>Bad Gateway</body></html>"))
	}))
	defer proxy.Close()
	ctx := testCtx(t)

	tests := []struct {
		name       string
		client     portal.Client
		call       func(c *portal.Client) error
		wantErr    error
		wantStatus int
		wantCode   string
	}{
		{name: "wrong app key", client: portal.Client{BaseURL: g.url, AppKey: "ukg_wrong"},
			call:       func(c *portal.Client) error { _, err := c.CreateSession(ctx, loginRequest()); return err },
			wantStatus: 401, wantCode: "invalid_token"},
		{name: "unknown session", client: *g.client(),
			call:       func(c *portal.Client) error { _, err := c.GetSession(ctx, strings.Repeat("A", 22)); return err },
			wantStatus: 404, wantCode: "session_not_found"},
		{name: "origin not registered", client: *g.client(),
			call: func(c *portal.Client) error {
				r := loginRequest()
				r.Origin = "https://evil.example"
				_, err := c.CreateSession(ctx, r)
				return err
			}, wantStatus: 403, wantCode: "origin_not_allowed"},
		{name: "proxy error page", client: portal.Client{BaseURL: proxy.URL, AppKey: "k"},
			call:       func(c *portal.Client) error { _, err := c.GetSession(ctx, "S1"); return err },
			wantStatus: 502, wantCode: ""},
		{name: "unknown kind", client: *g.client(),
			call: func(c *portal.Client) error {
				_, err := c.CreateSession(ctx, portal.SessionRequest{Kind: "stamp"})
				return err
			}, wantErr: portal.ErrInvalidArgument},
		{name: "session id with a slash", client: *g.client(),
			call: func(c *portal.Client) error { return c.CancelSession(ctx, "../admin") }, wantErr: portal.ErrInvalidArgument},
		{name: "relative BaseURL", client: portal.Client{BaseURL: "gw.example", AppKey: "k"},
			call:    func(c *portal.Client) error { _, err := c.GetSession(ctx, "S1"); return err },
			wantErr: portal.ErrInvalidConfig},
		{name: "no app key", client: portal.Client{BaseURL: g.url},
			call:    func(c *portal.Client) error { _, err := c.Verify(ctx, portal.VerifyRequest{}); return err },
			wantErr: portal.ErrInvalidConfig},
		{name: "encrypt to nobody", client: *g.client(),
			call:    func(c *portal.Client) error { _, err := c.Encrypt(ctx, "", "", []byte("x")); return err },
			wantErr: portal.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(&tc.client)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			var ae *portal.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			if ae.Status != tc.wantStatus || ae.Code != tc.wantCode || ae.Message == "" {
				t.Fatalf("APIError = %+v, want status %d code %q", ae, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

func TestQRPNG(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	c := g.client()
	ctx := testCtx(t)
	s, err := c.CreateSession(ctx, loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 256} {
		b, err := c.QRPNG(ctx, s, size)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if size > 0 && (img.Bounds().Dx() != size || img.Bounds().Dy() != size) {
			t.Errorf("size %d: image of %v", size, img.Bounds())
		}
		got, err := phone.DecodeQRImage(img)
		if err != nil || got != s.QR.Payload {
			t.Fatalf("size %d: QR decodes to %q (%v), want %q", size, got, err, s.QR.Payload)
		}
	}
	// Another app's key cannot fetch it.
	other := portal.Client{BaseURL: g.url, AppKey: "ukg_wrong"}
	if _, err := other.QRPNG(ctx, s, 0); err == nil {
		t.Fatal("QR of a session fetched with a wrong key")
	}
}

// TestSessionRequestJSONNames pins the JSON names of POST /v1/sessions to
// the list in docs/protocol.md (the contract: add, never rename).
func TestSessionRequestJSONNames(t *testing.T) {
	t.Parallel()
	req := portal.SessionRequest{
		Kind: "sign", Issuer: "i", Alg: "SM2", User: "u",
		Documents:  []portal.Document{{Name: "a", Data: []byte("x"), Digest: make([]byte, 32)}},
		Format:     "cms-detached",
		Ciphertext: []byte("c"), CiphertextFormat: "cms",
		Display: portal.Display{Title: "t", Summary: "s"}, TTLSeconds: 60,
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"alg", "ciphertext", "ciphertext_format", "display", "documents", "format", "issuer", "kind", "ttl_seconds", "user"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	var docs []map[string]any
	_ = json.Unmarshal(m["documents"], &docs)
	var disp map[string]any
	_ = json.Unmarshal(m["display"], &disp)
	if _, ok := docs[0]["digest"]; !ok || docs[0]["name"] != "a" || docs[0]["data"] != "eA==" || disp["title"] != "t" || disp["summary"] != "s" {
		t.Fatalf("documents/display = %s %s", m["documents"], m["display"])
	}
	// A login request sends only what is set.
	b, _ = json.Marshal(portal.SessionRequest{Kind: "login", Display: portal.Display{Title: "t"}})
	if string(b) != `{"kind":"login","display":{"title":"t"}}` {
		t.Fatalf("login request = %s", b)
	}
}
