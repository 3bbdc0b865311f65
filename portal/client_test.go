package portal_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // failure guard
	t.Cleanup(cancel)
	return ctx
}

func (g *standin) client() *portal.Client {
	return &portal.Client{BaseURL: g.srv.URL, AppKey: standinAppKey}
}

func loginRequest() portal.SessionRequest {
	return portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "登录", Summary: "test"}, Origin: "https://bid.example.com"}
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
	case <-time.After(15 * time.Second): // failure guard
		t.Fatal("no event")
	}
	return portal.Event{}
}

// TestWatch drives a login session through scan and confirm while a
// watcher follows it over each transport, and checks that every event
// arrives exactly once, in order, and that reconnects ask for after=<last>.
func TestWatch(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		blockWS   bool
		dropAfter int
		replayAll bool
		// wantRequests are the watcher requests, in order (nil: not
		// deterministic, only checked to never go back).
		wantRequests []string
	}{
		{name: "websocket", wantRequests: []string{"ws:0"}},
		{name: "websocket dropped after each event", dropAfter: 1, wantRequests: []string{"ws:0", "ws:1", "ws:2"}},
		{name: "websocket blocked, long-poll fallback", blockWS: true, wantRequests: []string{"poll:0", "poll:1", "poll:2"}},
		{name: "long-poll only", transport: "longpoll", wantRequests: []string{"poll:0", "poll:1", "poll:2"}},
		{name: "gateway repeats old events over long-poll", transport: "longpoll", replayAll: true},
		{name: "gateway repeats old events over websocket reconnects", dropAfter: 1, replayAll: true,
			wantRequests: []string{"ws:0", "ws:1", "ws:2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newStandin(t)
			g.blockWS, g.dropAfter, g.replayAll = tc.blockWS, tc.dropAfter, tc.replayAll
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
			// Each step happens only after the watcher saw the previous
			// event, so the reconnects' after= values are deterministic.
			var got []portal.Event
			got = append(got, next(t, ch))
			g.waitRequests(len(tc.wantRequests) - 2)
			g.scan(s.ID)
			got = append(got, next(t, ch))
			g.waitRequests(len(tc.wantRequests) - 1)
			g.confirm(s.ID)
			got = append(got, next(t, ch))
			if _, ok := <-ch; ok {
				t.Fatal("an event after the final one")
			}
			var states []string
			for i, ev := range got {
				if ev.Seq != int64(i+1) {
					t.Errorf("event %d has seq %d", i, ev.Seq)
				}
				states = append(states, ev.State)
			}
			if want := []string{"waiting", "scanned", "completed"}; !slices.Equal(states, want) {
				t.Fatalf("states = %v, want %v", states, want)
			}
			res, err := got[2].Login()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: standinAppID, Origin: "https://bid.example.com"}); err != nil {
				t.Fatalf("login result from the watch: %v", err)
			}
			req := g.requested()
			if tc.wantRequests != nil && !slices.Equal(req, tc.wantRequests) {
				t.Fatalf("watcher requests = %v, want %v", req, tc.wantRequests)
			}
			for i := 1; i < len(req); i++ {
				a, _ := strconv.Atoi(req[i-1][strings.Index(req[i-1], ":")+1:])
				b, _ := strconv.Atoi(req[i][strings.Index(req[i], ":")+1:])
				if b < a {
					t.Fatalf("after= went back: %v", req)
				}
			}
		})
	}
}

func TestWaitFinalStates(t *testing.T) {
	tests := []struct {
		name  string
		end   func(g *standin, c *portal.Client, id string) error
		state string
	}{
		{"rejected", func(g *standin, _ *portal.Client, id string) error {
			g.scan(id)
			return g.transition(id, portal.StateRejected, nil)
		}, portal.StateRejected},
		{"cancelled by the portal", func(_ *standin, c *portal.Client, id string) error {
			return c.CancelSession(context.Background(), id)
		}, portal.StateCancelled},
		{"completed", func(g *standin, _ *portal.Client, id string) error {
			g.scan(id)
			g.confirm(id)
			return nil
		}, portal.StateCompleted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newStandin(t)
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
			if err := tc.end(g, c, s.ID); err != nil {
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
	g := newStandin(t)
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
	g.waitRequests(1) // the watcher is connected
	cancel()
	if err := <-done; !errors.Is(err, portal.ErrWatchEnded) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

func TestWatchRefused(t *testing.T) {
	g := newStandin(t)
	c := g.client()
	ctx := testCtx(t)
	s, err := c.CreateSession(ctx, loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"wrong token", "T0000000000000000000000000000099"},
		{"another session's token", func() string {
			o, err := c.CreateSession(ctx, loginRequest())
			if err != nil {
				t.Fatal(err)
			}
			return o.Watch.Token
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := *s
			bad.Watch.Token = tc.token
			_, err := c.Watch(ctx, &bad)
			var ae *portal.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != "session_not_found" {
				t.Fatalf("Watch with %s: %v, want APIError 404 session_not_found", tc.name, err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	g := newStandin(t)
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
		{name: "wrong app key", client: portal.Client{BaseURL: g.srv.URL, AppKey: "wrong"},
			call:       func(c *portal.Client) error { _, err := c.CreateSession(ctx, loginRequest()); return err },
			wantStatus: 401, wantCode: "unauthorized"},
		{name: "unknown session", client: *g.client(),
			call:       func(c *portal.Client) error { _, err := c.GetSession(ctx, "S000000000000999"); return err },
			wantStatus: 404, wantCode: "session_not_found"},
		{name: "proxy error page", client: portal.Client{BaseURL: proxy.URL, AppKey: "k"},
			call:       func(c *portal.Client) error { _, err := c.GetSession(ctx, "S1"); return err },
			wantStatus: 502, wantCode: ""},
		{name: "unknown kind", client: *g.client(),
			call: func(c *portal.Client) error {
				_, err := c.CreateSession(ctx, portal.SessionRequest{Kind: "seal"})
				return err
			}, wantErr: portal.ErrInvalidArgument},
		{name: "session id with a slash", client: *g.client(),
			call: func(c *portal.Client) error { return c.CancelSession(ctx, "../admin") }, wantErr: portal.ErrInvalidArgument},
		{name: "relative BaseURL", client: portal.Client{BaseURL: "gw.example", AppKey: "k"},
			call:    func(c *portal.Client) error { _, err := c.GetSession(ctx, "S1"); return err },
			wantErr: portal.ErrInvalidConfig},
		{name: "no app key", client: portal.Client{BaseURL: g.srv.URL},
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
	g := newStandin(t)
	c := g.client()
	ctx := testCtx(t)
	s, err := c.CreateSession(ctx, loginRequest())
	if err != nil {
		t.Fatal(err)
	}
	png, err := c.QRPNG(ctx, s, 256)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(png), "size=256") {
		t.Fatalf("the size did not reach the gateway: %q", png)
	}
}

// TestSessionRequestJSONNames pins the JSON names of POST /v1/sessions to
// the list in DESIGN.md (the contract: add, never rename).
func TestSessionRequestJSONNames(t *testing.T) {
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
	if string(b) != `{"kind":"login","display":{"title":"t","summary":""}}` {
		t.Fatalf("login request = %s", b)
	}
}
