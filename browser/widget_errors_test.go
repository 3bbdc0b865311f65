package browser_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/portal"
)

// widgetErrorsTTL is the sessions' TTL in TestWidgetCrossOriginErrors: the
// error state must come long before it ends (the widget's own expiry comes
// 8 s after it).
const widgetErrorsTTL = 60

// TestWidgetCrossOriginErrors: the widget embedded by a portal on another
// origin than the gateway ends in the error state, long before the
// session would expire, when the gateway refuses its watch: with a watch
// token the gateway does not know (no app to consult, so an answer the
// page cannot read), and from an origin the app does not allow. From an
// allowed origin the page reads the gateway's error answers (CORS on
// errors too).
func TestWidgetCrossOriginErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		allowPage   bool // the app allows the page's origin
		badToken    bool // the widget gets a watch token the gateway does not know
		wantReadErr bool // the page can read an error answer of the long-poll
	}{
		{"unknown watch token, allowed origin", true, true, true},
		{"origin the app does not allow", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The two cases run side by side, and only with each other: the
			// test itself is not parallel, so the package's parallel tests
			// start only after both end (the timing check stays unloaded).
			t.Parallel()
			w := newWorld(t, false)
			mux := http.NewServeMux()
			page := httptest.NewServer(mux)
			t.Cleanup(page.Close)
			origins := []string{"https://elsewhere.example.com"}
			if tc.allowPage {
				origins = []string{page.URL}
			}
			app := w.addApp("cross-origin errors", origins...)
			cl := &portal.Client{BaseURL: w.url, AppKey: app.APIKey}

			var mu syncSessions
			mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(rw, `<!doctype html><html lang="en"><head><title>widget errors</title></head><body>
<div id="w"></div><script src="`+w.url+`/sdk/ukeygate.js"></script><script src="/page.js"></script></body></html>`)
			})
			mux.HandleFunc("/page.js", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "text/javascript; charset=utf-8")
				io.WriteString(rw, `window.states = [];
UKeyGate.mount(document.getElementById('w'), {lang: 'en', autoRefresh: false,
  createSession: function () { return fetch('/session', {method: 'POST'}).then(function (r) { return r.json(); }); },
  onState: function (s) { window.states.push(s); }});`)
			})
			mux.HandleFunc("/session", func(rw http.ResponseWriter, r *http.Request) {
				s, err := cl.CreateSession(r.Context(), portal.SessionRequest{Kind: portal.KindLogin, Origin: origins[0],
					TTLSeconds: widgetErrorsTTL, Display: portal.Display{Title: "t", Summary: "s"}})
				if err != nil {
					http.Error(rw, err.Error(), http.StatusBadGateway)
					return
				}
				mu.add(s.Watch.EventsURL)
				if tc.badToken {
					s.Watch.Token = strings.Repeat("A", len(s.Watch.Token))
					s.Watch.WSURL = strings.Split(s.Watch.WSURL, "?")[0]
					s.Watch.EventsURL = strings.Split(s.Watch.EventsURL, "?")[0]
				}
				rw.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(rw).Encode(s)
			})

			tb := w.newTab()
			if err := chromedp.Do(tb.ctx, chromedp.Navigate(page.URL+"/")); err != nil {
				t.Fatal(err)
			}
			tb.wait(`(function () { var r = document.querySelector('[data-ukg=root]'); return r && r.dataset.state === 'error'; })()`,
				"the error state")
			// The countdown stops when the widget gives up: long before the
			// session's end.
			if left := eval[int](tb, `+document.querySelector('[data-ukg=countdown]').dataset.remaining`); left < widgetErrorsTTL/2 {
				t.Errorf("the error state came with %d s of %d left", left, widgetErrorsTTL)
			}
			if got := eval[[]string](tb, `window.states`); slices.Contains(got, "expired") || got[len(got)-1] != "error" {
				t.Errorf("widget states %v, want an error and no expiry", got)
			}
			if tr := eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.transport`); tr != "longpoll" {
				t.Errorf("transport %q: the refused websocket should fall back to long-poll", tr)
			}
			if tb.statusText() == "" || eval[bool](tb, `document.querySelector('[data-ukg=refresh]').hidden`) {
				t.Error("the error state shows no status text or no refresh button")
			}

			// What the page itself can read of an error answer (invalid_seq)
			// of the long-poll with the real token.
			got := eval[string](tb, `fetch(`+jsString(mu.first()+"&after=99")+`, {credentials: 'omit'})
  .then(function (r) { return r.json().then(function (b) { return r.status + ' ' + b.error.code; }); },
        function (e) { return 'unreadable: ' + e.name; })`)
			want := "unreadable: TypeError"
			if tc.wantReadErr {
				want = "400 invalid_seq"
			}
			if got != want {
				t.Errorf("the page read the long-poll's error as %q, want %q", got, want)
			}
			tb.screenshot("widget-error")
			// The browser reports the refused websocket and the answers it
			// kept from the page; nothing else may go wrong.
			tb.clean(func(p string) bool {
				return strings.Contains(p, "WebSocket") || strings.Contains(p, "CORS") ||
					strings.Contains(p, "Failed to load resource") || strings.Contains(p, "net::ERR_FAILED")
			})
		})
	}
}

// syncSessions records the real events URLs the page's backend got.
type syncSessions struct {
	mu   sync.Mutex
	urls []string
}

func (s *syncSessions) add(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls = append(s.urls, u)
}

func (s *syncSessions) first() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.urls) == 0 {
		return ""
	}
	return s.urls[0]
}
