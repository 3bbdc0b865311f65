package browser_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestPhoneConfirmScreen: the confirm screen as a phone user meets it on
// a narrow (320 px) phone, against a portal that writes what it may to
// mislead, and the flows around the confirm that could lose or double a
// user's answer.
//
//   - A portal's title that reads like the app's own words ("✓ 已验证 ·
//     国家级官方平台"), a summary and a document name as long as the
//     gateway allows and without a break: the registered name and the
//     checked origin stand above, the portal's words are in a card of
//     their own under "网站自述（网关未核实）", nothing is wider than the
//     screen (also at 130 % text), axe finds nothing. A title with a
//     right-to-left override is refused at creation (invalid_request on
//     display.title).
//   - A double tap on 拒绝 sends one reject, and the phone says 已拒绝.
//   - A reload of the page on the session screen shows the same session
//     again (the gateway answers a scan once), and the confirm works;
//     once done, a reload is told the QR code was used.
//   - The session running out while the keypad is open with digits
//     typed: the keypad goes (the digits with it), the expiry is said,
//     the tab keeps nothing of the session.
//   - A confirm whose answer is lost on the way back (the gateway did
//     it): the phone says it cannot tell whether it went through and
//     where to look, not "try again"; the portal has its result.
func TestPhoneConfirmScreen(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	u := w.newUser(t, "孙八")
	p := w.newNarrowPhone(t, "narrow", "zh-CN,zh;q=0.9")
	step(t, p, "enroll with certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})

	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	newSign := func(t *testing.T, title, summary, name string) *portal.Session {
		t.Helper()
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display:   portal.Display{Title: title, Summary: summary},
			Documents: []portal.Document{{Name: name, Data: []byte("投标总价 1,000,000 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// noOverflow fails the test if anything on the page reaches past the
	// screen's right edge.
	noOverflow := func(t *testing.T, what string) {
		t.Helper()
		if wide := eval[string](p.tab, `(function () {
  var w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) { out.push('page ' + document.documentElement.scrollWidth + ' > ' + w); }
  document.querySelectorAll('#app *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5) { out.push((e.dataset.t || e.className || e.tagName) + ' ends at ' + Math.round(r.right)); }
  });
  return out.slice(0, 5).join('; ');
})()`); wide != "" {
			t.Errorf("%s: wider than the %d px screen: %s", what, 320, wide)
		}
	}

	step(t, p, "a misleading bidi title is refused at creation", func(t *testing.T) {
		_, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display:   portal.Display{Title: "\u202e台平方官 证验已", Summary: "s"},
			Documents: []portal.Document{{Name: "a.txt", Data: []byte("a")}}})
		var ae *protocol.APIError
		if !errors.As(err, &ae) || ae.Code != "invalid_request" || ae.Field != "display.title" {
			t.Fatalf("creation with a right-to-left override: %v", err)
		}
	})

	longName := strings.Repeat("投标文件", 20) + strings.Repeat("x", 250-len(strings.Repeat("投标文件", 20))) + ".pdf"
	title := "✓ 已验证 · 国家级官方平台"
	summary := "金额：¥1,000,000.00 " + strings.Repeat("A", 400)
	step(t, p, "the portal's words, marked, on a narrow screen; a double tap on reject", func(t *testing.T) {
		s := newSign(t, title, summary, longName)
		p.visit(s.QR.Payload)
		p.waitView("session")
		if got := p.txt("app-name"); got != "招标平台" {
			t.Errorf("app name %q", got)
		}
		if got := p.txt("origin"); got != "https://bid.example" {
			t.Errorf("origin %q", got)
		}
		if got := p.txt("display-label"); got != "网站自述（网关未核实）" {
			t.Errorf("the portal's words are labelled %q", got)
		}
		if got := p.txt("display-note"); got != "以下文字由网站填写，网关无法核实。" {
			t.Errorf("the portal's card says %q", got)
		}
		if got := p.txt("display-title"); got != title {
			t.Errorf("display title %q, want %q", got, title)
		}
		if got := p.txt("display-summary"); got != summary {
			t.Errorf("display summary %q", got)
		}
		if got := eval[string](p.tab, `document.querySelector('[data-t=display]').getAttribute('aria-labelledby')`); got != "display-label" {
			t.Errorf("the portal's card is labelled by %q", got)
		}
		// The label comes before the card, and the card after the app's
		// name and origin.
		if !eval[bool](p.tab, `(function () {
  var n = document.querySelector('[data-t=app-name]'), l = document.querySelector('[data-t=display-label]'), c = document.querySelector('[data-t=display]');
  return !!(n.compareDocumentPosition(l) & Node.DOCUMENT_POSITION_FOLLOWING) && !!(l.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
})()`) {
			t.Error("the portal's words are not under their label, after the app's name")
		}
		if got := p.txt("[data-t=document] .doc-name"); got != longName {
			t.Errorf("document name %q", got)
		}
		noOverflow(t, "the session screen")
		p.shot("session-top")
		p.center("display")
		p.shot("session-portal-words")
		p.center("documents")
		p.shot("session-document")
		p.axe("the session screen at 320 px")
		// Larger text (130 %): still nothing wider than the screen.
		eval[bool](p.tab, `document.documentElement.style.zoom = '1.3'; true`)
		noOverflow(t, "the session screen at 130 %")
		p.center("display")
		p.shot("session-zoom-130")
		eval[bool](p.tab, `document.documentElement.style.zoom = ''; true`)
		// In English (longer words): the same.
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en' && document.querySelector('[data-t=display-label]').textContent === 'In the website’s own words (not checked)'`, "the English session screen")
		if got := p.txt("countdown"); !strings.HasSuffix(got, " left") {
			t.Errorf("after the switch to English the countdown says %q", got)
		}
		if lines := eval[float64](p.tab, `(function () { var e = document.querySelector('[data-t=countdown]'); return e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight); })()`); lines > 1.9 {
			t.Errorf("the countdown takes %.1f lines", lines)
		}
		noOverflow(t, "the English session screen")
		p.shot("session-en")
		p.axe("the English session screen at 320 px")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese session screen")

		before := p.countRequests("/reject")
		eval[bool](p.tab, `(function () { var b = document.querySelector('[data-t=reject]'); b.click(); b.click(); return true; })()`)
		p.waitView("rejected")
		if n := p.countRequests("/reject") - before; n != 1 {
			t.Errorf("a double tap on reject sent %d rejects", n)
		}
		if got := eval[string](p.tab, `document.body.dataset.view`); got != "rejected" {
			t.Errorf("after a double tap on reject the phone shows %q", got)
		}
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "rejected" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
		p.shot("rejected-after-double-tap")
	})

	step(t, p, "a reload on the session screen shows it again", func(t *testing.T) {
		s := newSign(t, "签署投标文件", "第 2 标段", "bid-2.txt")
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.pickCode(s.Code)
		eval[bool](p.tab, `window.__beforeReload = true`)
		if err := chromedp.Do(p.ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		p.wait(`!window.__beforeReload && document.body.dataset.ready === '1' && ['session', 'refused'].includes(document.body.dataset.view) && !document.body.dataset.busy`, "the app after the reload")
		if v := eval[string](p.tab, `document.body.dataset.view + ' ' + (document.body.dataset.error || '')`); v != "session " {
			t.Fatalf("after a reload the phone shows %q", v)
		}
		if got := eval[string](p.tab, `document.body.dataset.session`); got != s.ID {
			t.Errorf("after a reload the phone shows session %q, want %q", got, s.ID)
		}
		p.shot("session-reloaded")
		p.pickCode(s.Code)
		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("done")
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
		// Done: the next reload scans again, and is told the code was used.
		if err := chromedp.Do(p.ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		p.waitView("refused")
		if e := eval[string](p.tab, `document.body.dataset.error`); e != "nonce_used" && e != "already_scanned" {
			t.Errorf("a reload after the confirm: data-error %q", e)
		}
	})

	// A portal that sends no display (it is optional): the phone shows no
	// card of the website's words, and what the gateway vouches for
	// still says what is asked and by whom; the confirm works.
	for _, tc := range []struct {
		kind, body, kindText, lead string
	}{
		{"login", `{"kind":"login"}`, "登录请求", "申请用您的证书登录"},
		{"sign", `{"kind":"sign","format":"raw","documents":[{"name":"bid-3.txt","data":"5oqV5qCH5oC75Lu3"}]}`, "签名请求", "申请用您的证书签名"},
	} {
		step(t, p, "a "+tc.kind+" session without display", func(t *testing.T) {
			s := createRaw(t, ctx(), w.ts.URL, app.APIKey, tc.body)
			p.visit(s.QR.Payload)
			p.waitView("session")
			for _, name := range []string{"display", "display-label", "display-title", "display-summary"} {
				if p.has(name) {
					t.Errorf("without display the phone shows %s: %q", name, p.txt(name))
				}
			}
			for name, want := range map[string]string{"app-name": "招标平台", "kind": tc.kindText, "origin": "https://bid.example"} {
				if got := p.txt(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			if got := p.text(`[data-t=request] p.muted`); got != tc.lead {
				t.Errorf("the request's sentence %q, want %q", got, tc.lead)
			}
			if got := p.txt("desktop"); got == "" {
				t.Error("the computer is not shown")
			}
			if n := eval[float64](p.tab, `document.querySelectorAll('[data-t=code-choice]').length`); n != 3 {
				t.Errorf("%v matching codes", n)
			}
			if tc.kind == "sign" {
				if got := p.txt("[data-t=document] .doc-name"); got != "bid-3.txt" {
					t.Errorf("document %q", got)
				}
			}
			noOverflow(t, "the session screen without display")
			p.shot("session-no-display-" + tc.kind)
			p.axe("the session screen without display")
			p.pickCode(s.Code)
			p.tap("confirm")
			p.enterPIN(pinA)
			p.waitView("done")
			if ev, err := pc.Wait(ctx(), s); err != nil || ev.State != "completed" {
				t.Fatalf("the portal sees %+v, %v", ev, err)
			}
		})
	}

	step(t, p, "expiry with the keypad open", func(t *testing.T) {
		// The session must run out while the keypad is open with digits
		// typed: a short lifetime first; when the machine was too slow to
		// get there before it ended, again with a longer one.
		opened := false
		for _, ttl := range []int{15, 30, 60, 120} {
			s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw", TTLSeconds: ttl,
				Display:   portal.Display{Title: "签署投标文件", Summary: "第 4 标段"},
				Documents: []portal.Document{{Name: "bid-4.txt", Data: []byte("投标总价 4 元")}}})
			if err != nil {
				t.Fatal(err)
			}
			p.visit(s.QR.Payload)
			p.wait(`['session', 'expired', 'refused'].includes(document.body.dataset.view) && !document.body.dataset.busy`, "the session or its end")
			if eval[string](p.tab, `document.body.dataset.view`) == "session" {
				p.pickCode(s.Code)
				p.tap("confirm")
				p.waitSheet()
				for _, d := range "260" {
					p.tap(`[data-t=pin-sheet] [data-key="` + string(d) + `"]`)
				}
				if eval[string](p.tab, `document.body.dataset.view + ' ' + (document.querySelector('[data-t=pin-dots]') || {dataset: {}}).dataset.count`) == "session 3" {
					opened = true
					break
				}
			}
			t.Logf("a %d s session ended before the keypad had digits: again with a longer one", ttl)
		}
		if !opened {
			t.Fatal("no session lived long enough to type on its keypad")
		}
		p.waitLong(`document.body.dataset.view === 'expired'`, "the phone to show the expiry", 3*time.Minute)
		if p.has("[data-t=pin-sheet]") || eval[string](p.tab, `document.body.dataset.sheet || ''`) != "" {
			t.Error("the keypad stays open over the expiry")
		}
		if got := p.message(); !strings.Contains(got, "刷新二维码") {
			t.Errorf("the expiry says %q", got)
		}
		if n := eval[int](p.tab, `Object.keys(sessionStorage).filter(function (k) { return k.indexOf('scan:') === 0; }).length`); n != 0 {
			t.Errorf("%d scanned sessions kept after the expiry", n)
		}
		p.shot("expired-on-keypad")
	})

	step(t, p, "a confirm whose answer is lost", func(t *testing.T) {
		s := newSign(t, "签署投标文件", "第 3 标段", "bid-3.txt")
		p.visit(s.QR.Payload)
		p.waitView("session")
		// The gateway gets the confirm and answers; the answer never
		// reaches the page (the connection drops on the way back).
		p.loseAnswers(t, "*/v1/sessions/*/confirm")
		p.pickCode(s.Code)
		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("unsure")
		if got := p.message(); !strings.Contains(got, "无法确认网关是否收到") || !strings.Contains(got, "电脑") {
			t.Errorf("the phone says %q", got)
		}
		if p.has("[data-t=pin-sheet]") {
			t.Error("the keypad is still open")
		}
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
		p.shot("unsure")
		p.axe("the unsure screen")
		p.tap("unsure-history")
		p.waitView("history")
	})
	p.onlyGateway()
	// Expected: refused calls (4xx) and the answer dropped on purpose.
	p.tab.clean(func(s string) bool { return phoneProblems(s) || strings.Contains(s, "ERR_CONNECTION_RESET") })
}

// pickCode taps the matching code (centred first: on a small screen the
// action bar may cover it).
func (p *handset) pickCode(code string) {
	p.t.Helper()
	c := `[data-t=code-choice][data-code="` + code + `"]`
	p.center(c)
	p.tap(c)
}

// countRequests is how many requests of the page so far had a URL
// ending in suffix.
func (p *handset) countRequests(suffix string) int {
	p.reqMu.Lock()
	defer p.reqMu.Unlock()
	n := 0
	for _, u := range p.requests {
		if strings.HasSuffix(u, suffix) {
			n++
		}
	}
	return n
}

// loseAnswers makes every later request of the page matching pattern
// reach the gateway, and its answer fail on the way back (a connection
// reset), until stop is called or the test ends.
func (p *handset) loseAnswers(t *testing.T, pattern string) (stop func()) {
	t.Helper()
	paused := chromedp.Events(p.ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{
		URLPattern: pattern, RequestStage: fetch.RequestStageResponse}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
		}
	}()
	stop = func() { _, _ = chromedp.Call(p.ctx, fetch.Disable, cdp.Empty{}) }
	t.Cleanup(stop)
	return stop
}

// createRaw creates a session from a raw JSON body (what a portal that
// leaves members out sends), with the app key.
func createRaw(t *testing.T, ctx context.Context, base, appKey, body string) *portal.Session {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/sessions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+appKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s portal.Session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated || s.QR.Payload == "" {
		t.Fatalf("creating %s: %d, %v", body, resp.StatusCode, err)
	}
	return &s
}
