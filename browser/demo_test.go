package browser_test

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/demo"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/phone"
)

// samples are the demo portal's sample files (demo/samples).
var samples = filepath.Join("..", "demo", "samples")

// states are the widget states the demo page logged, in order (one
// [data-demo=events] <li data-state> per onState call).
func (tb *tab) states() []string {
	return eval[[]string](tb, `Array.prototype.map.call(document.querySelectorAll('[data-demo=events] li'), function (li) { return li.dataset.state; })`)
}

func (tb *tab) statusText() string { return tb.text("[data-ukg=status]") }

// login runs the QR login of the demo page at path and returns what the
// phone saw. It checks the scanned state and the page's welcome.
func (tb *tab) login(path string, qr func() string) *phone.ScanResult {
	tb.t.Helper()
	w := tb.w
	tb.open(path)
	tb.waitState("waiting")
	res := w.scan(qr())
	if res.Session.ID != tb.session() || res.Session.Kind != "login" {
		tb.t.Fatalf("the phone scanned %s session %s, the page shows %s", res.Session.Kind, res.Session.ID, tb.session())
	}
	tb.waitState("scanned")
	w.confirm(res, "", tb.code())
	tb.wait(`document.getElementById('demo').dataset.loggedIn === '1'`, "the welcome")
	return res
}

// TestLogin: the demo's QR login, with the QR code taken from the
// rendered page and scanned by the reference phone client, over the
// websocket and over long-poll, in Chinese and English.
func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, query, lang, transport string
	}{
		{"websocket, zh", "", "zh", "websocket"},
		{"long-poll, en", "?transport=longpoll&lang=en", "en", "longpoll"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			tb := w.newTab()
			tb.open("/demo/" + tc.query)
			tb.waitState("waiting")
			tb.checkAccessibility()
			if got := eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.lang`); got != tc.lang {
				t.Errorf("widget language %q, want %q", got, tc.lang)
			}
			waitingText := tb.statusText()
			shot := tb.screenshot("waiting")
			if i == 0 && *updateScreenshot {
				if err := os.WriteFile(filepath.Join("..", "docs", "img", "demo-login.png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			// The phone's camera: a screenshot of the rendered QR image.
			res := w.scan(tb.qrFromScreenshot())
			if res.Session.ID != tb.session() || res.Session.Kind != "login" {
				t.Fatalf("the phone scanned %s session %s, the page shows %s", res.Session.Kind, res.Session.ID, tb.session())
			}
			tb.waitState("scanned")
			if s := tb.statusText(); s == "" || s == waitingText {
				t.Errorf("status %q after the scan (was %q)", s, waitingText)
			}
			if got := eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.transport`); got != tc.transport {
				t.Errorf("transport %q, want %q", got, tc.transport)
			}
			tb.checkAccessibility()
			w.confirm(res, "", tb.code())

			tb.wait(`document.getElementById('demo').dataset.loggedIn === '1'`, "the welcome")
			if name := tb.text("[data-demo=name]"); name != userName {
				t.Errorf("welcome name %q, want %q", name, userName)
			}
			if s := tb.text("[data-demo=subject]"); !strings.Contains(s, "CN="+userName) {
				t.Errorf("certificate subject %q", s)
			}
			if s := tb.text("[data-demo=issuer]"); !strings.Contains(s, sm2Root) {
				t.Errorf("issuer %q", s)
			}
			if tb.text("[data-demo=serial]") == "" || tb.text("[data-demo=not-after]") == "" {
				t.Error("no serial or validity shown")
			}
			if got, want := tb.states(), []string{"loading", "waiting", "scanned", "completed"}; !slices.Equal(got, want) {
				t.Errorf("widget states %v, want %v", got, want)
			}
			kinds := w.proxy.Watches()
			for _, k := range kinds {
				if strings.HasPrefix(k, "ws:") != (tc.transport == "websocket") {
					t.Errorf("watch requests %v over %s", kinds, tc.transport)
					break
				}
			}
			tb.screenshot("logged-in")

			// The login is the server's: a reload still shows it.
			tb.open("/demo/" + tc.query)
			tb.wait(`!document.querySelector('[data-demo=welcome]').hidden`, "the welcome after a reload")
			if name := tb.text("[data-demo=name]"); name != userName {
				t.Errorf("welcome name after a reload %q", name)
			}
			tb.clean(nil)
		})
	}
}

// TestSignBid: "Sign bid" with an RSA credential, for a sample and for
// an uploaded file; the downloaded .p7s verifies with OpenSSL over the
// signed file, and not over another.
func TestSignBid(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	tb := w.newTab()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, w.get("/v1/issuers/rsa/ca.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	upload := filepath.Join(dir, "投标书-upload.txt")
	if err := os.WriteFile(upload, []byte("投标报价：人民币 1,234,000 元\nBid price: CNY 1,234,000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string // "" = the default sample
		content string // the signed file, on disk
		want    string // the document name the phone sees
	}{
		{"sample", "", filepath.Join(samples, "bid-2026-017.txt"), "bid-2026-017.txt"},
		{"upload", upload, upload, "投标书-upload.txt"},
	}
	tb.open("/demo/sign?lang=en")
	prev := ""
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb.t = t
			if tc.file != "" {
				if err := chromedp.Do(tb.ctx, chromedp.SetUploadFiles(chromedp.CSS("[data-demo=file]"), []string{tc.file})); err != nil {
					t.Fatal(err)
				}
			}
			tb.click("[data-demo=start]")
			tb.wait(`(function () { var r = document.querySelector('[data-ukg=root]');
  return r && r.dataset.state === 'waiting' && r.dataset.session !== `+jsString(prev)+`; })()`, "a new sign session")
			tb.waitState("waiting")
			res := w.scan(tb.qrFromImageBytes())
			prev = res.Session.ID
			if res.Session.Kind != "sign" || len(res.Session.Documents) != 1 || res.Session.Documents[0].Name != tc.want {
				t.Fatalf("the phone sees a %s session with %+v", res.Session.Kind, res.Session.Documents)
			}
			tb.waitState("scanned")
			w.confirm(res, "RSA", tb.code())
			tb.wait(`document.getElementById('demo').dataset.finished === `+jsString(res.Session.ID)+
				` && !document.querySelector('[data-demo=sign-result]').hidden`, "the signature")
			if s := tb.text("[data-demo=signer-subject]"); !strings.Contains(s, "CN="+userName) {
				t.Errorf("signer %q", s)
			}
			href := eval[string](tb, `document.querySelector('[data-demo=download]').getAttribute('href')`)
			p7s := filepath.Join(dir, tc.name+".p7s")
			if err := os.WriteFile(p7s, tb.fetchBytes(href), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := testkit.TryOpenSSL(t, "", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s,
				"-content", tc.content, "-CAfile", ca, "-purpose", "any", "-out", os.DevNull)
			if err != nil || !strings.Contains(out, "Verification successful") {
				t.Fatalf("openssl cms -verify: %v\n%s", err, out)
			}
			other := filepath.Join(dir, "other.txt")
			if err := os.WriteFile(other, []byte("another bid\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := testkit.TryOpenSSL(t, "", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s,
				"-content", other, "-CAfile", ca, "-purpose", "any", "-out", os.DevNull); err == nil {
				t.Fatalf("the signature verifies over another file:\n%s", out)
			}
			tb.screenshot("signed-" + tc.name)
		})
	}
	tb.t = t
	tb.clean(nil)
}

// TestOpenBid: log in, submit the sample bid (a certificate session: the
// phone hands over the encryption certificate, the demo seals the bid to
// it), open it with a decrypt session; the page shows the plaintext,
// which matches the file.
func TestOpenBid(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	tb := w.newTab()
	tb.login("/demo/?lang=en", tb.qrFromImageBytes)
	tb.open("/demo/open?lang=en")
	tb.click("[data-demo=submit]")
	// The bidder hands over the encryption certificate by scanning.
	tb.waitState("waiting")
	cert := w.scan(tb.qrFromImageBytes())
	if cert.Session.Kind != "certificate" {
		t.Fatalf("the submission asks the phone for a %s session", cert.Session.Kind)
	}
	tb.waitState("scanned")
	w.confirm(cert, "SM2", tb.code())
	tb.wait(`!document.querySelector('[data-demo=bid]').hidden && !document.querySelector('[data-demo=start]').disabled`, "the sealed bid")
	if got := tb.text("[data-demo=bid-cert]"); !strings.Contains(got, "CN=") {
		t.Errorf("sealed to %q", got)
	}
	tb.click("[data-demo=start]")
	tb.waitState("waiting")
	res := w.scan(tb.qrFromImageBytes())
	if res.Session.Kind != "decrypt" {
		t.Fatalf("the phone sees a %s session", res.Session.Kind)
	}
	tb.waitState("scanned")
	w.confirm(res, "SM2", tb.code())
	tb.wait(`!document.querySelector('[data-demo=open-result]').hidden`, "the opened bid")
	want, err := os.ReadFile(filepath.Join(samples, "sealed-bid-042.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.text("[data-demo=plaintext]"); got != string(want) {
		t.Errorf("plaintext shown:\n%s\nwant:\n%s", got, want)
	}
	if m := eval[string](tb, `document.querySelector('[data-demo=match]').dataset.match`); m != "yes" {
		t.Errorf("data-match %q", m)
	}
	tb.screenshot("opened")
	tb.clean(nil)
}

// firstSession waits for the widget's first session (the state may
// already be expired on a slow machine) and returns its id and QR payload.
func (tb *tab) firstSession() (id, payload string) {
	tb.t.Helper()
	tb.wait(`(function () { var r = document.querySelector('[data-ukg=root]'), q = document.querySelector('[data-ukg=qr]');
  return r && r.dataset.session && (r.dataset.state === 'waiting' || r.dataset.state === 'expired') && q.complete && q.naturalWidth > 0; })()`,
		"the first QR code")
	return tb.session(), tb.qrFromImageBytes()
}

// TestExpiry: with a 3 s session the page shows "expired" with a refresh
// button, then shows a new QR code (another session, another payload):
// by itself with auto-refresh, or when the button is pressed. The new one
// scans; the old one is refused.
func TestExpiry(t *testing.T) {
	t.Parallel() // its subtests wait on timers; the rest of the package runs meanwhile
	for _, tc := range []struct {
		name, query string
		button      bool
	}{
		{"auto-refresh", "?ttl=3&lang=en", false},
		{"refresh button", "?ttl=3&autorefresh=0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // waits 3 s for the expiry; its own server and tab
			w := newWorld(t, false)
			tb := w.newTab()
			tb.open("/demo/" + tc.query)
			first, payload := tb.firstSession()
			// The page logs every state with its session (data-session),
			// so the first session's expiry is seen even when auto-refresh
			// (1.5 s later) has already moved on on a loaded machine.
			tb.wait(`document.querySelector('[data-demo=events] li[data-state=expired][data-session=`+jsString(first)+`]') !== null`, "the first QR code to expire")
			if still := eval[bool](tb, `(function () { var r = document.querySelector('[data-ukg=root]');
  return r.dataset.session === `+jsString(first)+` && r.dataset.state === 'expired'; })()`); still {
				if eval[bool](tb, `document.querySelector('[data-ukg=refresh]').hidden`) {
					t.Error("no refresh button on an expired QR code")
				}
				if tb.statusText() == "" {
					t.Error("no status text")
				}
				tb.screenshot("expired")
			} else if tc.button {
				t.Fatal("without auto-refresh the page left the expired QR code by itself")
			} // else: auto-refresh was quicker than the test; the button case checks and shows the expired view
			// freshQR waits for a QR code of another session than cur that
			// is still waiting: on a loaded machine a 3 s session may end
			// before the page is seen waiting; the page then moves on (by
			// itself, or with the button) to yet another one.
			freshQR := func(cur string) {
				t.Helper()
				for attempt := 1; ; attempt++ {
					if tc.button {
						tb.click("[data-ukg=refresh]")
					}
					tb.wait(`(function () { var r = document.querySelector('[data-ukg=root]');
  return r.dataset.session !== `+jsString(cur)+` && (r.dataset.state === 'waiting' || r.dataset.state === 'expired'); })()`, "a new QR code")
					if eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.state`) == "waiting" {
						return
					}
					if attempt == 5 {
						t.Fatal("five new QR codes in a row expired before the page showed one waiting")
					}
					cur = tb.session()
				}
			}
			freshQR(first)
			next := tb.qrFromImageBytes()
			if next == payload {
				t.Fatalf("the new QR code is the old one: %s", next)
			}
			if _, err := w.phone.Scan(w.ctx(), payload); err == nil ||
				!slices.Contains([]string{"session_expired", "session_closed"}, phone.Code(err)) {
				t.Errorf("scanning the expired QR code: %v", err)
			}
			// A 3 s session may expire again before the phone scans it on a
			// loaded machine: the page then moves on to yet another one
			// (by itself, or with the button), which the phone scans.
			var res *phone.ScanResult
			for attempt := 1; ; attempt++ {
				r, err := w.phone.Scan(w.ctx(), next)
				if err == nil {
					res = r
					break
				}
				if phone.Code(err) != "session_expired" || attempt == 5 {
					t.Fatalf("phone scan (attempt %d): %v", attempt, err)
				}
				cur := tb.session()
				if tc.button {
					tb.wait(`document.querySelector('[data-ukg=root]').dataset.state === 'expired'`, "expired again")
				}
				freshQR(cur)
				next = tb.qrFromImageBytes()
			}
			if res.Session.App.Name != "Demo procurement portal" || res.Session.Origin != w.url {
				t.Fatalf("the phone sees app %q at %q", res.Session.App.Name, res.Session.Origin)
			}
			if res.Session.ID != tb.session() {
				t.Fatalf("the new QR code is for %s, the page shows %s", res.Session.ID, tb.session())
			}
			tb.waitState("scanned")
			tb.screenshot("refreshed")
			tb.clean(nil)
		})
	}
}

// TestRejected: the user rejects on the phone; the page says so and
// offers a new QR code.
func TestRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	tb := w.newTab()
	tb.open("/demo/?lang=en")
	tb.waitState("waiting")
	res := w.scan(tb.qrFromScreenshot())
	tb.waitState("scanned")
	if st, err := w.phone.Reject(w.ctx(), res.Session.ID); err != nil || st != "rejected" {
		t.Fatalf("phone reject: %q %v", st, err)
	}
	tb.waitState("rejected")
	if eval[bool](tb, `document.querySelector('[data-ukg=refresh]').hidden`) {
		t.Error("no refresh button after a rejection")
	}
	if got := eval[string](tb, `document.getElementById('demo').dataset.loggedIn`); got != "0" {
		t.Errorf("logged in after a rejection: %q", got)
	}
	if got, want := tb.states(), []string{"loading", "waiting", "scanned", "rejected"}; !slices.Equal(got, want) {
		t.Errorf("widget states %v, want %v", got, want)
	}
	tb.screenshot("rejected")
	tb.clean(nil)
}

// TestWebsocketBlocked: a proxy in front of the gateway refuses websocket
// upgrades; the widget falls back to long-poll by itself and the login
// completes.
func TestWebsocketBlocked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	w.proxy.BlockWebsockets(true)
	tb := w.newTab()
	tb.open("/demo/?lang=en")
	tb.wait(`(function () { var r = document.querySelector('[data-ukg=root]');
  return r && r.dataset.state === 'waiting' && r.dataset.transport === 'longpoll'; })()`, "the long-poll fallback")
	res := w.scan(tb.qrFromScreenshot())
	tb.waitState("scanned")
	w.confirm(res, "", tb.code())
	tb.wait(`document.getElementById('demo').dataset.loggedIn === '1'`, "the welcome")
	if name := tb.text("[data-demo=name]"); name != userName {
		t.Errorf("welcome name %q", name)
	}
	watches := w.proxy.Watches()
	if len(watches) < 2 || watches[0] != "ws:0" || !strings.HasPrefix(watches[len(watches)-1], "poll:") {
		t.Errorf("watch requests %v: want a refused websocket, then long-polls", watches)
	}
	tb.screenshot("logged-in-longpoll")
	// The browser reports the refused websocket; nothing else may go wrong.
	tb.clean(func(p string) bool { return strings.Contains(p, "WebSocket") })
}

// TestCSPRecorder shows that the recorder the other tests rely on sees a
// violation: inline script and inline style injected into the demo page
// are refused by its policy and reported.
func TestCSPRecorder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	tb := w.newTab()
	tb.open("/demo/")
	tb.waitState("waiting")
	eval[bool](tb, `(function () {
  var s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.appendChild(s);
  var d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.appendChild(d);
  return true; })()`)
	deadline := time.Now().Add(waitTimeout)
	for {
		var script, style bool
		for _, p := range tb.Problems() {
			script = script || strings.Contains(p, "csp-violation script-src-elem")
			style = style || strings.Contains(p, "csp-violation style-src-attr")
		}
		if script && style {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("violations not reported: %v", tb.Problems())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if eval[bool](tb, `window.inlineRan === true`) {
		t.Fatal("an inline script ran on the demo page")
	}
}

// TestCrossOriginPortal: a portal on another origin than the gateway (the
// demo portal's code, served by its own server with its own app) embeds
// the widget from the gateway; the QR image, the websocket and the
// long-poll (CORS) work across origins, and its CSP lets only these
// through.
func TestCrossOriginPortal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, query, transport string }{
		{"websocket", "?lang=en", "websocket"},
		{"long-poll (CORS)", "?lang=en&transport=longpoll", "longpoll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false)
			srv := httptest.NewUnstartedServer(nil)
			origin := "http://" + srv.Listener.Addr().String()
			const appName = "另一个门户 (cross-origin)"
			app := w.addApp(appName, origin)
			cfg := demo.DefaultConfig()
			cfg.GatewayURL, cfg.AppKey, cfg.AppID, cfg.Origin = w.url, app.APIKey, app.ID, origin
			cfg.Logger = slog.New(slog.DiscardHandler)
			h, err := demo.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv.Config.Handler = h
			srv.Start()
			t.Cleanup(srv.Close)
			if origin == w.url {
				t.Fatal("the portal and the gateway share an origin")
			}

			tb := w.newTab()
			tb.base = srv.URL
			tb.open("/demo/" + tc.query)
			tb.waitState("waiting")
			if src := eval[string](tb, `document.querySelector('[data-ukg=qr]').src`); !strings.HasPrefix(src, w.url+"/") {
				t.Fatalf("QR image from %s, want the gateway %s", src, w.url)
			}
			res := w.scanFor(tb.qrFromScreenshot(), appName, origin)
			if res.Session.App.ID != app.ID {
				t.Fatalf("the phone sees app %s, want %s", res.Session.App.ID, app.ID)
			}
			tb.waitState("scanned")
			if got := eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.transport`); got != tc.transport {
				t.Errorf("transport %q, want %q", got, tc.transport)
			}
			w.confirm(res, "", tb.code())
			tb.wait(`document.getElementById('demo').dataset.loggedIn === '1'`, "the welcome")
			if name := tb.text("[data-demo=name]"); name != userName {
				t.Errorf("welcome name %q", name)
			}
			tb.screenshot("cross-origin-logged-in")
			tb.clean(nil)
		})
	}
}
