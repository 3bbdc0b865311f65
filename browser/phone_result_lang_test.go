package browser_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneResultLanguage: a user who landed on a result or error screen
// in the wrong language switches it there, on a 320 px phone: the
// switch is on the screen, the words change, and the screen keeps its
// state — the lost answer's "Try again" sends the same request after
// the switch (the PIN asked once, as without a switch), a refusal keeps
// its error, a list already fetched is not fetched again.
func TestPhoneResultLanguage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	u := w.newUser(t, "沈十四")
	p := w.newNarrowPhone(t, "narrow-result-lang", "zh-CN,zh;q=0.9")
	step(t, p, "enroll without certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
	})

	// switchTo taps the screen's language switch and waits for the page
	// in lang (zh-CN or en) on the same screen.
	switchTo := func(t *testing.T, lang, view string) {
		t.Helper()
		p.tap("lang")
		p.wait(`document.documentElement.lang === `+jsString(lang), "the page in "+lang)
		p.waitView(view)
		if wide := eval[bool](p.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Errorf("%s in %s is wider than the 320 px phone", view, lang)
		}
	}
	heading := func() string { return p.text("main h1") }
	buttons := func() string {
		return eval[string](p.tab, `Array.from(document.querySelectorAll('.actions button')).map(function (b) { return b.dataset.t + '=' + b.textContent; }).join(' ')`)
	}

	step(t, p, "no answer from the gateway, switched to English and tried again", func(t *testing.T) {
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		stop := p.loseAnswers(t, "*/v1/me/credentials")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("request-unsure")
		stop()
		if h := heading(); h != "没有收到网关的答复" {
			t.Errorf("the heading is %q", h)
		}
		if b := buttons(); b != "done=首页 retry=重试" {
			t.Errorf("the buttons are %q", b)
		}
		p.shot("request-lost")
		switchTo(t, "en", "request-unsure")
		if h := heading(); h != "No answer from the gateway" {
			t.Errorf("in English the heading is %q", h)
		}
		if m := p.message(); !strings.Contains(m, "may or may not have reached") || !strings.Contains(m, "Nothing is lost") {
			t.Errorf("in English the screen says %q", m)
		}
		if b := buttons(); b != "done=Home retry=Try again" {
			t.Errorf("in English the buttons are %q", b)
		}
		p.shot("request-lost-en")
		p.axe("the lost answer in English at 320 px")
		// The screen kept what it was for: try again sends the same
		// request, the gateway answers the credential it made.
		p.tap("retry")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=active][data-purpose=sign]') !== null`, "the signing certificate")
	})

	step(t, p, "a list switched without fetching it again", func(t *testing.T) {
		// Still English from the screen before.
		chip := func() string { return p.text(`[data-t=cert][data-state=active] .chip.ok`) }
		if c := chip(); c != "Valid" {
			t.Errorf("the state chip says %q", c)
		}
		asked := p.countRequests("/v1/me/credentials")
		switchTo(t, "zh-CN", "certs")
		if c := chip(); c != "有效" {
			t.Errorf("in Chinese the state chip says %q", c)
		}
		if h := heading(); h != "我的证书" {
			t.Errorf("in Chinese the heading is %q", h)
		}
		if n := p.countRequests("/v1/me/credentials"); n != asked {
			t.Errorf("the switch asked the gateway again (%d requests, were %d)", n, asked)
		}
		p.shot("certs-switched")
	})

	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	step(t, p, "a rejection and a used QR code, switched", func(t *testing.T) {
		s, err := pc.CreateSession(w.ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display: portal.Display{Title: "签署投标文件"}, Documents: []portal.Document{{Name: "bid.txt", Data: []byte("投标总价 1,000,000 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.tap("reject")
		p.waitView("rejected")
		if h := heading(); h != "已拒绝" {
			t.Errorf("the heading is %q", h)
		}
		switchTo(t, "en", "rejected")
		if h := heading(); h != "Rejected" {
			t.Errorf("in English the heading is %q", h)
		}
		if b := buttons(); b != "done=Done" {
			t.Errorf("in English the buttons are %q", b)
		}
		p.shot("rejected-en")

		// The same QR code again: refused; the refusal keeps its error
		// through the switch.
		p.visit(s.QR.Payload)
		p.wait(`document.body.dataset.view === 'refused' && !!document.body.dataset.error`, "the refusal")
		code := eval[string](p.tab, `document.body.dataset.error`)
		en := heading()
		msg := p.message()
		p.shot("refused-en")
		switchTo(t, "zh-CN", "refused")
		if got := eval[string](p.tab, `document.body.dataset.error`); got != code {
			t.Errorf("the switch changed the error from %q to %q", code, got)
		}
		if h := heading(); h == en || !strings.ContainsAny(h, "二维码请求已结束") {
			t.Errorf("in Chinese the heading is %q (in English %q)", h, en)
		}
		if m := p.message(); m == msg || !strings.ContainsRune(m, '。') {
			t.Errorf("in Chinese the refusal says %q (in English %q)", m, msg)
		}
		if b := buttons(); b != "done=首页" {
			t.Errorf("in Chinese the buttons are %q", b)
		}
		p.shot("refused")
		p.axe("the refusal in Chinese at 320 px")
		p.tap("done")
		p.waitView("home")
	})

	// The camera's screen: switched, the camera films on.
	step(t, p, "the camera switched", func(t *testing.T) {
		p.tap("tab-scan")
		p.wait(`document.body.dataset.view === 'scan' && document.body.dataset.camera === 'on'`, "the camera")
		zh := p.txt("camera-hint")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en' && document.body.dataset.view === 'scan'`, "the English camera screen")
		p.wait(`document.body.dataset.camera === 'on' && document.querySelector('video').srcObject !== null && !document.querySelector('video').paused &&
  document.querySelector('[data-t=camera-message]').hidden`, "the camera filming again")
		if en := p.txt("camera-hint"); en == zh || !strings.Contains(en, "QR code") {
			t.Errorf("in English the hint says %q (in Chinese %q)", en, zh)
		}
		p.shot("camera-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN' && document.body.dataset.camera === 'on'`, "the Chinese camera screen")
		p.tap("close")
		p.waitView("home")
	})

	// A form half typed, switched: what was typed stays, and the form is
	// sent from its own button (not under the tab bar).
	step(t, p, "a typed correction switched, then sent", func(t *testing.T) {
		p.tap("tab-me")
		p.waitView("me")
		p.center("correction")
		p.tap("correction")
		p.waitView("correction")
		if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID("f-phone"), "13800138000")); err != nil {
			t.Fatal(err)
		}
		switchTo(t, "en", "correction")
		if got := eval[string](p.tab, `document.getElementById('f-phone').value`); got != "13800138000" {
			t.Errorf("after the switch the phone field holds %q", got)
		}
		if b := buttons(); b != "corr-submit=Send the correction" {
			t.Errorf("in English the buttons are %q", b)
		}
		p.shot("correction-typed-en")
		p.tap("corr-submit")
		p.waitView("correction-sent")
		switchTo(t, "zh-CN", "correction-sent")
		if b := buttons(); b != "done=完成" {
			t.Errorf("in Chinese the buttons are %q", b)
		}
	})
	p.clean(func(s string) bool { return phoneProblems(s) || strings.Contains(s, "ERR_CONNECTION_RESET") })

	// A phone not yet enrolled: the activation code half typed stays
	// through a switch, and the enrollment goes on from there.
	q := w.newNarrowPhone(t, "narrow-result-lang-new", "en-US,en;q=0.9")
	v := w.newUser(t, "韦十六")
	step(t, q, "an activation code typed, switched", func(t *testing.T) {
		q.visit("/m/")
		q.waitView("welcome")
		q.tap("activate")
		q.waitView("enroll-code")
		if err := chromedp.Do(q.ctx, chromedp.SendKeys(chromedp.ID("code"), v.code)); err != nil {
			t.Fatal(err)
		}
		typed := eval[string](q.tab, `document.getElementById('code').value`)
		q.tap("lang")
		q.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese app")
		q.waitView("enroll-code")
		if got := eval[string](q.tab, `document.getElementById('code').value`); got != typed || got == "" {
			t.Errorf("after the switch the code field holds %q, typed %q", got, typed)
		}
		if b := eval[string](q.tab, `document.querySelector('.actions [data-t=next]').textContent`); b != "下一步" {
			t.Errorf("in Chinese the button says %q", b)
		}
		q.shot("enroll-code-switched")
		q.enrollOnScreens("", pinA, false, false)
		q.waitView("home")
	})
	q.clean(phoneProblems)
}
