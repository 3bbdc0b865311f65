package browser_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/server/servertest"
)

const (
	testPIN  = "135790"
	userName = "张三"
	sm2Root  = "browser test SM2 Root"
	rsaRoot  = "browser test RSA Root"
)

// world is a gateway with the demo on, behind a reverse proxy (its
// public_url, where the browser goes), with an SM2 issuer (and an RSA one
// when asked), and one user whose phone holds an SM2 sign and an SM2
// encrypt credential (and an RSA sign one).
type world struct {
	t     *testing.T
	ts    *servertest.TS
	proxy *servertest.Proxy
	url   string // public URL
	phone *phone.Client
	user  string
}

func newWorld(t *testing.T, withRSA bool) *world {
	t.Helper()
	if noBrowser != "" {
		t.Skip(noBrowser)
	}
	ts, proxy := servertest.StartBehindProxy(t, func(c *config.Config) {
		c.Demo = true
		// Sessions that do not ask for a TTL get 5 minutes, not the 2 of
		// the default: on a loaded machine the camera's scan and a few
		// screens took longer than 2 and the session ended under the PIN
		// keypad. The tests about expiry ask for their TTL.
		c.Session.TTL = 5 * time.Minute
	})
	sm2 := seed.Generated("sm2", "SM2", sm2Root)
	sm2.Subject.Organization, sm2.Subject.Country = "ukeygate test", "CN"
	spec := seed.Spec{
		Issuers: []operator.IssuerRequest{sm2},
		Users: []seed.User{{Name: userName, DeviceName: "test phone",
			Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN: testPIN,
		// The phone talks to the public URL, as a real one would.
		NewPhone: func() *phone.Client { return &phone.Client{BaseURL: proxy.URL, State: &phone.State{}} },
	}
	if withRSA {
		rsa := seed.Generated("rsa", "RSA", rsaRoot)
		rsa.Subject.Country = "CN"
		spec.Issuers = append(spec.Issuers, rsa)
		spec.Users[0].Credentials = append(spec.Users[0].Credentials, seed.Sign("rsa", "RSA"))
	}
	u := seed.Make(t, ts.URL, ts.AdminToken, spec).Users[0]
	return &world{t: t, ts: ts, proxy: proxy, url: proxy.URL, phone: u.Phone, user: u.ID}
}

// ctx is a context for one gateway call (failure guard).
func (w *world) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	w.t.Cleanup(cancel)
	return ctx
}

// addApp registers a portal app with the operator API.
func (w *world) addApp(name string, origins ...string) *operator.App {
	w.t.Helper()
	op := &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
	app, err := op.AddApp(w.ctx(), operator.AppRequest{Name: name, Origins: origins})
	if err != nil {
		w.t.Fatal(err)
	}
	return app
}

// get fetches a public gateway URL.
func (w *world) get(path string) []byte {
	w.t.Helper()
	resp, err := http.Get(w.url + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// scan has the phone scan payload of the gateway's own demo portal.
func (w *world) scan(payload string) *phone.ScanResult {
	w.t.Helper()
	return w.scanFor(payload, "Demo procurement portal", w.url)
}

// scanFor has the phone scan payload; the phone must see the app and the
// page origin.
func (w *world) scanFor(payload, app, origin string) *phone.ScanResult {
	w.t.Helper()
	if !strings.HasPrefix(payload, w.url+"/") {
		w.t.Fatalf("QR payload %q is not under the public URL %s", payload, w.url)
	}
	res, err := w.phone.Scan(w.ctx(), payload)
	if err != nil {
		w.t.Fatalf("phone scan: %v", err)
	}
	if res.Session.App.Name != app || res.Session.Origin != origin {
		w.t.Fatalf("the phone sees app %q at %q", res.Session.App.Name, res.Session.Origin)
	}
	return res
}

// confirm has the phone confirm with the credential of alg that fits (any
// when alg is "") and the code the user read on the page.
func (w *world) confirm(res *phone.ScanResult, alg, code string) {
	w.t.Helper()
	found := false
	for _, c := range res.Session.CodeChoices {
		found = found || c == code
	}
	if !found {
		w.t.Fatalf("the page shows code %q, the phone offers %v", code, res.Session.CodeChoices)
	}
	cred := ""
	var enc []string // a certificate session: the encryption certificates
	for _, c := range res.Credentials {
		if alg == "" || c.Alg == alg {
			if c.Purpose == "encrypt" {
				enc = append(enc, c.ID)
			}
			if cred == "" {
				cred = c.ID
			}
		}
	}
	if cred == "" {
		w.t.Fatalf("no %s credential fits session %s: %+v", alg, res.Session.ID, res.Credentials)
	}
	if res.Session.Kind == "certificate" {
		if st, err := w.phone.HandOver(w.ctx(), res.Session.ID, enc, code); err != nil || st != "completed" {
			w.t.Fatalf("phone hand over: %q %v", st, err)
		}
		return
	}
	if st, err := w.phone.Confirm(w.ctx(), res.Session.ID, cred, testPIN, code); err != nil || st != "completed" {
		w.t.Fatalf("phone confirm: %q %v", st, err)
	}
}

// tab is one browser tab in a browser context of its own (own cookies),
// with a recorder of CSP violations, exceptions and console errors.
type tab struct {
	t   *testing.T
	w   *world
	ctx context.Context
	// base is where open goes: the gateway's public URL, or a portal's.
	base string

	mu       sync.Mutex
	problems []string // CSP violations, uncaught exceptions, console errors
}

// cspRecorder runs in every document before its own scripts (added over
// the DevTools protocol, so the page's CSP does not apply to it) and
// reports each CSP violation as a console error.
const cspRecorder = `document.addEventListener('securitypolicyviolation', function (e) {
  console.error('csp-violation ' + e.effectiveDirective + ' ' + (e.blockedURI || 'inline'));
});`

func (w *world) newTab() *tab {
	w.t.Helper()
	return w.newTabIn(browserCtx, tabTimeout, chromedp.WithNewBrowserContext())
}

// newTabIn opens a tab under parent (the browser, or another tab: then in
// that tab's browser context) that lives at most timeout.
func (w *world) newTabIn(parent context.Context, timeout time.Duration, opts ...chromedp.ContextOption) *tab {
	w.t.Helper()
	tctx, cancel := chromedp.NewContext(parent, opts...)
	w.t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(tctx, timeout)
	w.t.Cleanup(cancelTimeout)
	tb := &tab{t: w.t, w: w, ctx: ctx, base: w.url}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			tb.problem("exception: " + ev.ExceptionDetails.Text + " " + describe(ev.ExceptionDetails.Exception))
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, describe(a))
				}
				tb.problem("console.error: " + strings.Join(parts, " "))
			}
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e != nil && e.Level == cdplog.EntryLevelError && !strings.HasSuffix(e.URL, "/favicon.ico") {
				tb.problem("log " + string(e.Source) + ": " + e.Text + " " + e.URL)
			}
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		w.t.Fatal(err)
	}
	return tb
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	return o.Description
}

func (tb *tab) problem(s string) {
	tb.mu.Lock()
	tb.problems = append(tb.problems, s)
	tb.mu.Unlock()
}

// Problems returns what the recorder saw so far.
func (tb *tab) Problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

// clean fails the test on any CSP violation or uncaught exception, and on
// other console errors unless allowed says they are expected (e.g. the
// failed websocket of the blocked-websocket test).
func (tb *tab) clean(allowed func(string) bool) {
	tb.t.Helper()
	for _, p := range tb.Problems() {
		if strings.Contains(p, "csp-violation") || strings.Contains(p, "Content Security Policy") ||
			strings.HasPrefix(p, "exception:") || allowed == nil || !allowed(p) {
			tb.t.Errorf("page problem: %s", p)
		}
	}
}

// open navigates to path under tb.base and waits for the page's #demo.
func (tb *tab) open(path string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(tb.base+path)); err != nil {
		tb.t.Fatalf("navigate %s: %v", path, err)
	}
	tb.wait(`document.getElementById('demo') !== null && document.readyState === 'complete'`, "the page loads")
}

// eval evaluates js in the page (the DevTools protocol, not subject to
// the page's CSP) and decodes the value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// wait polls the JS condition every 100 ms until it is true. (chromedp's
// Poll compiles the predicate with new Function, which the page's CSP
// rightly refuses.)
func (tb *tab) wait(cond, what string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || tb.ctx.Err() != nil {
			tb.t.Fatalf("waiting %s for %s: %v\npage: %s\nproblems: %v", waitTimeout, what, err, tb.state(), tb.Problems())
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not a synchronisation
	}
}

// state describes the widget and page for a failure message.
func (tb *tab) state() string {
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`(function () {
  var r = document.querySelector('[data-ukg=root]'), d = document.getElementById('demo');
  var st = document.querySelector('[data-ukg=status]'), e = document.querySelector('[data-demo=error]');
  var ev = Array.prototype.map.call(document.querySelectorAll('[data-demo=events] li'), function (li) { return li.textContent; });
  return JSON.stringify({url: location.href, view: document.body && document.body.dataset.view,
    sheet: document.body && document.body.dataset.sheet, busy: document.body && document.body.dataset.busy,
    widget: r && {state: r.dataset.state, transport: r.dataset.transport, seq: r.dataset.seq, session: r.dataset.session},
    status: st && st.textContent, error: e && !e.hidden && e.textContent, demo: d && Object.assign({}, d.dataset), events: ev});
})()`))
	if err != nil {
		return err.Error()
	}
	return s
}

// widgetState is [data-ukg=root]'s data-state ("" without a widget).
func (tb *tab) widgetState() string {
	return eval[string](tb, `(function () { var r = document.querySelector('[data-ukg=root]'); return r ? r.dataset.state : ''; })()`)
}

// waitState waits for the widget to show state (and a loaded QR image
// when the state is waiting).
func (tb *tab) waitState(state string) {
	tb.t.Helper()
	cond := `(function () { var r = document.querySelector('[data-ukg=root]'); return r && r.dataset.state === '` + state + `'; })()`
	if state == "waiting" {
		cond += ` && (function () { var q = document.querySelector('[data-ukg=qr]'); return q.complete && q.naturalWidth > 0; })()`
	}
	tb.wait(cond, "widget state "+state)
}

// session is the widget's data-session.
func (tb *tab) session() string {
	return eval[string](tb, `document.querySelector('[data-ukg=root]').dataset.session || ''`)
}

// code is the matching code the page shows.
func (tb *tab) code() string {
	return eval[string](tb, `document.querySelector('[data-ukg=code]').textContent`)
}

// qrFromScreenshot decodes the QR code from a screenshot of the rendered
// <img>, as a phone camera pointed at the screen would.
func (tb *tab) qrFromScreenshot() string {
	tb.t.Helper()
	// The widget may have set the <img>'s src before the image arrived:
	// a screenshot taken then shows an empty box.
	tb.wait(`(function () { var i = document.querySelector('[data-ukg=qr]');
  return i && i.complete && i.naturalWidth > 0; })()`, "the QR image to load")
	// It is shown pixel for pixel: a rescaled QR code has modules of
	// uneven width.
	if !eval[bool](tb, `(function () { var i = document.querySelector('[data-ukg=qr]');
  return i.naturalWidth === Math.round(i.getBoundingClientRect().width * (window.devicePixelRatio || 1)); })()`) {
		tb.t.Fatalf("the QR image is rescaled: %s", eval[string](tb, `(function () { var i = document.querySelector('[data-ukg=qr]');
  return i.naturalWidth + 'px shown at ' + i.getBoundingClientRect().width + ' CSS px, ratio ' + window.devicePixelRatio; })()`))
	}
	// Like a phone camera, read frames until one decodes: a frame taken
	// during the image's 0.2 s opacity transition may not.
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		png, err := chromedp.Run(tb.ctx, chromedp.Screenshot(chromedp.CSS("[data-ukg=qr]")))
		if err != nil {
			tb.t.Fatal(err)
		}
		text, err := readQR(png)
		if err == nil {
			return text
		}
		lastErr = err
		time.Sleep(150 * time.Millisecond)
	}
	tb.t.Fatalf("no QR code in 20 element screenshots: %v", lastErr)
	return ""
}

// qrFromImageBytes decodes the QR code from the bytes of the <img> the
// page shows, fetched by the page itself.
func (tb *tab) qrFromImageBytes() string {
	tb.t.Helper()
	b64 := eval[string](tb, `fetch(document.querySelector('[data-ukg=qr]').src).then(function (r) { return r.arrayBuffer(); })
  .then(function (buf) { var s = ''; new Uint8Array(buf).forEach(function (b) { s += String.fromCharCode(b); }); return btoa(s); })`)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		tb.t.Fatal(err)
	}
	return decodeQR(tb.t, png, "image bytes")
}

func decodeQR(t *testing.T, png []byte, from string) string {
	t.Helper()
	text, err := readQR(png)
	if err != nil {
		t.Fatalf("no QR code in the %s: %v", from, err)
	}
	return text
}

// readQR decodes the QR code in a PNG (gozxing, TRY_HARDER).
func readQR(png []byte) (string, error) {
	return phone.DecodeQR(png)
}

// click clicks the element matching the CSS selector.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("click %s: %v", sel, err)
	}
}

// text is the textContent of the element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, `(function () { var e = document.querySelector(`+jsString(sel)+`); return e ? e.textContent : ''; })()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot writes a full-page PNG to the test's artifact directory
// (kept with go test -artifacts) and returns it.
func (tb *tab) screenshot(name string) []byte {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatal(err)
	}
	p := filepath.Join(tb.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", p)
	return png
}

// checkAccessibility checks the widget's hooks for assistive technology:
// the QR image has alt text, the status is a polite live region, and the
// matching code has an aria-label that reads its digits one by one.
func (tb *tab) checkAccessibility() {
	tb.t.Helper()
	var a struct {
		Alt, Role, Live, Label, Code string
	}
	raw := eval[string](tb, `JSON.stringify({
  alt: document.querySelector('[data-ukg=qr]').getAttribute('alt') || '',
  role: document.querySelector('[data-ukg=status]').getAttribute('role') || '',
  live: document.querySelector('[data-ukg=status]').getAttribute('aria-live') || '',
  label: document.querySelector('[data-ukg=code]').getAttribute('aria-label') || '',
  code: document.querySelector('[data-ukg=code]').textContent})`)
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		tb.t.Fatal(err)
	}
	if len([]rune(strings.TrimSpace(a.Alt))) < 5 {
		tb.t.Errorf("QR image alt text %q", a.Alt)
	}
	if a.Live != "polite" || a.Role != "status" {
		tb.t.Errorf("status region: role %q aria-live %q", a.Role, a.Live)
	}
	if len(a.Code) != 2 || !strings.HasSuffix(a.Label, fmt.Sprintf("%c %c", a.Code[0], a.Code[1])) {
		tb.t.Errorf("code %q has aria-label %q, want the digits spaced out", a.Code, a.Label)
	}
}

// fetchBytes has the page fetch a same-origin URL (with its cookie) and
// returns the body.
func (tb *tab) fetchBytes(url string) []byte {
	tb.t.Helper()
	b64 := eval[string](tb, `fetch(`+jsString(url)+`, {credentials: 'same-origin'}).then(function (r) {
  if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.arrayBuffer(); })
  .then(function (buf) { var s = ''; new Uint8Array(buf).forEach(function (b) { s += String.fromCharCode(b); }); return btoa(s); })`)
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		tb.t.Fatal(err)
	}
	return b
}
