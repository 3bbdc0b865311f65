package browser_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/portal"
)

// docBlock returns the first fenced block of language lang in file (a
// repository path) that contains marker.
func docBlock(t *testing.T, file, lang, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../" + file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```"+lang+"\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if strings.Contains(m[1], marker) {
			return m[1]
		}
	}
	t.Fatalf("%s: no %s block with %q", file, lang, marker)
	return ""
}

// TestWidgetDocSnippets: the widget embedding of the README and of
// docs/integration.md, copied from the documents as they stand (the HTML
// with the gateway's address put in, and login.js), runs on a portal of
// another origin whose backend is the guide's: POST /login/session creates
// the session with portal.Client and hands the page the creation answer,
// POST /login/finish reads the result from the gateway and verifies it.
// The phone scans the QR code from the screen and confirms the code the
// page shows: the backend's finish logs the user in.
func TestWidgetDocSnippets(t *testing.T) {
	for _, doc := range []string{"README.md", "docs/integration.md"} {
		t.Run(doc, func(t *testing.T) {
			t.Parallel()
			html := docBlock(t, doc, "html", "/sdk/ukeygate.js")
			js := docBlock(t, doc, "js", "UKeyGate.mount(")
			w := newWorld(t, false)
			mux := http.NewServeMux()
			site := httptest.NewServer(mux)
			t.Cleanup(site.Close)
			const appName = "阳光采购平台"
			app := w.addApp(appName, site.URL)
			gw := &portal.Client{BaseURL: w.url, AppKey: app.APIKey}
			finished := make(chan string, 1)

			mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(rw, `<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>登录</title></head><body>`+
					strings.ReplaceAll(html, "https://ukey.example.com", w.url)+`</body></html>`)
			})
			mux.HandleFunc("GET /favicon.ico", func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusNoContent) })
			mux.HandleFunc("GET /js/login.js", func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "text/javascript; charset=utf-8")
				io.WriteString(rw, js)
			})
			var created atomic.Value // the session this one browser asked for
			created.Store("")
			mux.HandleFunc("POST /login/session", func(rw http.ResponseWriter, r *http.Request) {
				host, _, _ := net.SplitHostPort(r.RemoteAddr)
				s, err := gw.CreateSession(r.Context(), portal.SessionRequest{
					Kind:    portal.KindLogin,
					Display: portal.Display{Title: "登录 " + appName, Summary: "扫码登录"},
					Desktop: &portal.Desktop{IP: host, UserAgent: r.UserAgent()},
				})
				if err != nil {
					http.Error(rw, err.Error(), http.StatusBadGateway)
					return
				}
				created.Store(s.ID)
				rw.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(rw).Encode(s)
			})
			mux.HandleFunc("POST /login/finish", func(rw http.ResponseWriter, r *http.Request) {
				var body struct {
					Session string `json:"session"`
				}
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Session != created.Load() {
					http.Error(rw, "not this browser's session", http.StatusNotFound)
					finished <- "finish for another session: " + body.Session
					return
				}
				s, err := gw.GetSession(r.Context(), body.Session)
				if err != nil {
					finished <- err.Error()
					return
				}
				res, err := s.Login()
				if err != nil {
					finished <- err.Error()
					return
				}
				v, err := portal.VerifyLogin(res, portal.LoginExpect{Session: body.Session, App: app.ID, Origin: site.URL})
				if err != nil {
					finished <- err.Error()
					return
				}
				vr, err := gw.Verify(r.Context(), portal.VerifyRequest{Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM})
				if err != nil || !vr.Valid || vr.LoginSession == nil || !*vr.LoginSession {
					finished <- "the gateway does not vouch for the login"
					return
				}
				rw.WriteHeader(http.StatusNoContent)
				finished <- "logged in " + v.User + " " + v.Certificate.Subject.CommonName
			})

			tb := w.newTab()
			if err := chromedp.Do(tb.ctx, chromedp.Navigate(site.URL+"/")); err != nil {
				t.Fatal(err)
			}
			tb.waitState("waiting")
			code := tb.code()
			res := w.scanFor(tb.qrFromScreenshot(), appName, site.URL)
			if res.Session.Desktop.UserAgent == "" || strings.HasPrefix(res.Session.Desktop.UserAgent, "Go-http-client") {
				t.Errorf("the phone sees the desktop's user agent %q, not the browser's", res.Session.Desktop.UserAgent)
			}
			tb.waitState("scanned")
			w.confirm(res, "SM2", code)
			select {
			case got := <-finished:
				if want := "logged in " + w.user + " " + userName; got != want {
					t.Fatalf("the backend's finish: %q, want %q", got, want)
				}
			case <-time.After(waitTimeout): // a failure guard, not a timing assertion
				t.Fatalf("the page never called /login/finish; page: %s", tb.state())
			}
			tb.clean(func(string) bool { return false })
		})
	}
}
