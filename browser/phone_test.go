package browser_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// TestPhoneApp drives the gateway's phone web app (/m/, /q/…) in Chromium
// as phones would, against one gateway whose demo portal (in desktop
// browser contexts) asks for logins, signatures and decryptions. Four
// phone stories run side by side:
//
//   - zh: enrollment by link, first certificates, a full login, a sign, a
//     decrypt, a reject, a wrong matching code, history, certificates,
//     this device, the language switch, the same-device link, PIN change;
//   - en: enrollment by typed code, a certificate requested later, expiry
//     while the phone looks, wrong PINs up to the lockout;
//   - zh: the QR URL opened in a browser that is not enrolled, enrollment
//     from there, and the session it came for;
//   - zh: the camera (a fake capture device filming the gateway's own QR
//     codes): an enrollment QR code, then a login QR code.
//
// Every screen is photographed; axe-core checks the main ones.
func TestPhoneApp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	// A second SM2 issuer: the app offers a choice of issuer, and of
	// credential when two fit a session.
	gov := seed.Generated("gov", "SM2", govRoot)
	gov.Name = "政务 CA"
	if _, err := w.operator().AddIssuer(w.ctx(), gov); err != nil {
		t.Fatal(err)
	}
	t.Run("zh, enrolled by link", func(t *testing.T) { t.Parallel(); storyLink(t, w) })
	t.Run("en, enrolled by code", func(t *testing.T) { t.Parallel(); storyCode(t, w) })
	t.Run("zh, QR URL before enrollment", func(t *testing.T) { t.Parallel(); storyNotEnrolled(t, w) })
	t.Run("zh, camera", func(t *testing.T) { t.Parallel(); storyCamera(t, w) })
}

// pinA and pinB are the phones' PINs; wrongPIN fits the policy but is no
// one's PIN.
const govRoot = "browser test government SM2 Root"

const (
	pinA     = "260817"
	pinA2    = "731902"
	wrongPIN = "864213"
)

type user struct {
	id, code, link string
}

// newUser has the operator create a user; the answer carries the
// activation code and its enrollment link.
func (w *world) newUser(t *testing.T, name string) user {
	t.Helper()
	u, err := w.operator().AddUser(w.ctx(), operator.UserRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if u.EnrollmentURL != w.url+"/m/#activate="+u.ActivationCode {
		t.Fatalf("enrollment_url %q", u.EnrollmentURL)
	}
	return user{id: u.ID, code: u.ActivationCode, link: u.EnrollmentURL}
}

func (w *world) operator() *operator.Client {
	return &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
}

// step runs one step of a story as a subtest; a failed step ends the
// story.
func step(t *testing.T, p *handset, name string, f func(t *testing.T)) {
	t.Helper()
	ok := t.Run(name, func(t *testing.T) {
		p.use(t)
		f(t)
	})
	p.use(t)
	if !ok {
		t.FailNow()
	}
}

// desktop opens the demo portal at path in a desktop browser context of
// its own and waits for the widget's QR code.
func (w *world) desktop(t *testing.T, path string) *tab {
	t.Helper()
	d := w.newTabIn(browserCtx, deskTimeout, chromedp.WithNewBrowserContext())
	d.t = t
	d.open(path)
	d.waitState("waiting")
	return d
}

// enrollOnScreens walks the enrollment screens from the code screen: the
// code (typed unless already filled in), the device name, the PIN twice;
// then requests both certificates (or not).
// noForgotPIN fails the test if the open keypad offers "Forgot your
// PIN?": a prompt for a PIN being chosen has nothing to forget.
func (p *handset) noForgotPIN(prompt string) {
	p.t.Helper()
	if p.has("pin-forgot") {
		p.t.Errorf("the keypad for %s offers \"Forgot your PIN?\"", prompt)
	}
}

func (p *handset) enrollOnScreens(code, pin string, certs bool, shots bool) {
	p.t.Helper()
	p.waitView("enroll-code")
	if code != "" {
		if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID("code"), code)); err != nil {
			p.t.Fatal(err)
		}
	}
	if shots {
		p.shot("enroll-code")
	}
	p.tap("next")
	p.waitView("enroll-name")
	if got := eval[string](p.tab, `document.getElementById('device-name').value`); got == "" {
		p.t.Error("no device name suggested")
	}
	if shots {
		p.shot("enroll-name")
	}
	p.tap("next")
	p.waitView("enroll-pin")
	p.waitSheet()
	p.noForgotPIN("a new PIN")
	p.enterPIN(pin)
	p.waitView("enroll-pin2")
	p.waitSheet()
	p.noForgotPIN("a new PIN again")
	p.enterPIN(pin)
	p.waitView("enrolled")
	p.wait(`document.querySelector('[data-t=request]') !== null`, "the certificate offer")
	if shots {
		p.shot("enrolled")
	}
	if !certs {
		p.tap("later")
		return
	}
	// Both purposes are offered and ticked.
	for _, purpose := range []string{"sign", "encrypt"} {
		if c := eval[string](p.tab, `document.querySelector('[data-t=purpose-`+purpose+`]').getAttribute('aria-checked')`); c != "true" {
			p.t.Errorf("purpose %s offered unticked (%q)", purpose, c)
		}
	}
	p.tap("request")
	p.enterPIN(pin)
}

// checkDevice: the app keeps a non-extractable ECDSA P-256 private key,
// and the gateway knows the device as P-256.
func (p *handset) checkDevice(u user, name string) {
	p.t.Helper()
	d := p.storedDevice()
	if d.Type != "private" || d.Extractable || d.Alg != "ECDSA" || d.Curve != "P-256" || d.UserName != name || d.DeviceID == "" {
		p.t.Fatalf("stored device %+v", d)
	}
	got, err := p.w.operator().User(p.w.ctx(), u.id)
	if err != nil {
		p.t.Fatal(err)
	}
	found := false
	for _, dv := range got.Devices {
		found = found || (dv.ID == d.DeviceID && dv.KeyAlg == "P-256")
	}
	if !found {
		p.t.Fatalf("the gateway lists devices %v, not %s as P-256", got.Devices, d.DeviceID)
	}
}

// openSession opens the QR payload URL on the phone (as the phone's camera
// app would) and checks what the session screen shows.
func (p *handset) openSession(payload string, desk *tab, kind string) {
	p.t.Helper()
	p.visit(payload)
	p.waitView("session")
	if got := p.txt("app-name"); got != "Demo procurement portal" {
		p.t.Errorf("app name %q", got)
	}
	if got := p.txt("origin"); got != p.w.url {
		p.t.Errorf("origin %q, want %q", got, p.w.url)
	}
	if got := p.txt("desktop"); !strings.Contains(got, "127.0.0.1") || !strings.Contains(got, "Linux") {
		p.t.Errorf("desktop %q", got)
	}
	if got := eval[string](p.tab, `document.body.dataset.session`); got != desk.session() {
		p.t.Errorf("the phone shows session %s, the desktop %s", got, desk.session())
	}
	choices := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=code-choice]'), function (b) { return b.dataset.code; })`)
	if len(choices) != 3 || !slices.Contains(choices, desk.code()) {
		p.t.Errorf("code choices %v, the desktop shows %s", choices, desk.code())
	}
	if !eval[bool](p.tab, `document.querySelector('[data-t=confirm]').disabled`) {
		p.t.Error("confirm is enabled before a code is picked")
	}
	if kind != "" && eval[string](p.tab, `document.querySelector('[data-t=kind]').textContent`) == "" {
		p.t.Error("no operation shown")
	}
	desk.waitState("scanned")
}

// lookAtSession opens the QR payload URL on the phone and photographs the
// session screen with its confirm button; it reports false when the
// session had ended before that was done (the screen is then not the
// session's).
func (p *handset) lookAtSession(payload string) bool {
	p.t.Helper()
	p.visit(payload)
	const view = `document.body.dataset.view`
	p.wait(`['session', 'expired', 'refused'].includes(`+view+`) && !document.body.dataset.busy`, "the session or its end")
	if eval[string](p.tab, view) != "session" {
		return false
	}
	if got := p.txt("confirm"); got != "Confirm" && eval[string](p.tab, view) == "session" {
		p.t.Errorf("confirm button %q", got)
	}
	p.shot("session")
	// The session cannot come back once ended: if it is still shown
	// now, the photograph shows it.
	return eval[string](p.tab, view) == "session"
}

// loggedIn waits for the desktop's welcome after a QR login: the widget
// reported completed and the portal's backend verified the login of name.
func loggedIn(t *testing.T, d *tab, name string) {
	t.Helper()
	d.t = t
	d.wait(`document.getElementById('demo').dataset.loggedIn === '1'`, "the welcome")
	if st := d.states(); len(st) == 0 || st[len(st)-1] != "completed" {
		t.Errorf("widget states %v", st)
	}
	if got := d.text("[data-demo=name]"); got != name {
		t.Errorf("the desktop welcomes %q, want %q", got, name)
	}
}

// confirmWith picks code and confirms with pin.
func (p *handset) confirmWith(code, pin string) {
	p.t.Helper()
	p.tap(`[data-t=code-choice][data-code="` + code + `"]`)
	p.tap("confirm")
	p.enterPIN(pin)
}

// phoneProblems are the page problems that are expected: the browser logs
// every refused API call (a wrong PIN is a 403).
func phoneProblems(p string) bool {
	return strings.Contains(p, "Failed to load resource: the server responded with a status of 4")
}

func storyLink(t *testing.T, w *world) {
	u := w.newUser(t, "李四")
	p := w.newPhone(t, "zh", "zh-CN,zh;q=0.9")

	step(t, p, "enroll by link", func(t *testing.T) {
		p.visit(u.link)
		p.waitView("enroll-code")
		if got := eval[string](p.tab, `document.getElementById('code').value`); got != u.code {
			t.Fatalf("the link filled in %q, want %q", got, u.code)
		}
		if h := eval[string](p.tab, `location.hash`); h != "" {
			t.Errorf("the code stays in the address bar: %q", h)
		}
		if got := eval[string](p.tab, `document.documentElement.lang`); got != "zh-CN" {
			t.Errorf("html lang %q", got)
		}
		p.axe("enroll-code")
		p.shot("enroll-code")
		p.tap("next")
		p.waitView("enroll-name")
		p.shot("enroll-name")
		p.tap("next")
		p.waitView("enroll-pin")
		// The policy as the user types: a run is refused before it is sent.
		p.waitSheet()
		for _, d := range "123456" {
			p.tap(`[data-t=pin-sheet] [data-key="` + string(d) + `"]`)
		}
		if !eval[bool](p.tab, `document.querySelector('[data-t=pin-ok]').disabled`) ||
			eval[string](p.tab, `document.querySelector('[data-rule=run]').dataset.met`) != "false" ||
			eval[string](p.tab, `document.querySelector('[data-rule=len]').dataset.met`) != "true" {
			t.Error("the keypad accepts 123456 or does not say why not")
		}
		p.shot("pin-policy")
		p.axe("PIN keypad")
		for range 6 {
			p.tap(`[data-t=pin-sheet] [data-key=del]`)
		}
		// A different second PIN: back to the first.
		p.enterPIN(pinA)
		p.waitView("enroll-pin2")
		p.enterPIN(pinA2)
		p.waitView("enroll-pin")
		if got := p.pinMessage(); !strings.Contains(got, "不一致") {
			t.Errorf("mismatch message %q", got)
		}
		p.enterPIN(pinA)
		p.waitView("enroll-pin2")
		p.enterPIN(pinA)
		p.waitView("enrolled")
		p.wait(`document.querySelector('[data-t=request]') !== null`, "the certificate offer")
		p.checkDevice(u, "李四")
		p.shot("enrolled")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("home")
		p.wait(`/2/.test(document.querySelector('[data-t=cert-count]').textContent)`, "two certificates on the home screen")
		p.shot("home")
		p.axe("home")
	})

	var desk *tab
	step(t, p, "full login", func(t *testing.T) {
		desk = w.desktop(t, "/demo/")
		payload := desk.qrFromScreenshot()
		p.openSession(payload, desk, "login")
		p.shot("session-login")
		p.axe("session")
		p.confirmWith(desk.code(), pinA)
		p.waitView("done")
		p.shot("done-login")
		loggedIn(t, desk, "李四")
		desk.clean(nil)
	})

	step(t, p, "sign", func(t *testing.T) {
		desk.t = t
		desk.open("/demo/sign")
		desk.click("[data-demo=start]")
		desk.waitState("waiting")
		p.openSession(desk.qrFromImageBytes(), desk, "sign")
		if got := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=document] .doc-name'), function (e) { return e.textContent; })`); !slices.Equal(got, []string{"bid-2026-017.txt"}) {
			t.Errorf("documents shown %v", got)
		}
		p.shot("session-sign")
		p.confirmWith(desk.code(), pinA)
		p.waitView("done")
		desk.wait(`!document.querySelector('[data-demo=sign-result]').hidden`, "the signature")
		if s := desk.text("[data-demo=signer-subject]"); !strings.Contains(s, "CN=李四") {
			t.Errorf("signer %q", s)
		}
	})

	step(t, p, "hand over the encryption certificate", func(t *testing.T) {
		desk.t = t
		desk.open("/demo/open")
		desk.click("[data-demo=submit]")
		desk.waitState("waiting")
		p.openSession(desk.qrFromImageBytes(), desk, "certificate")
		// A choice list of the user's certificates, none chosen yet (two
		// fit); no PIN will be asked.
		choices := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=cert-choice]'), function (b) { return b.dataset.purpose + ':' + b.getAttribute('aria-checked'); })`)
		slices.Sort(choices)
		if !slices.Equal(choices, []string{"encrypt:false", "sign:false"}) {
			t.Errorf("certificate choices %v", choices)
		}
		if !p.has("no-pin-note") {
			t.Error("no word that no PIN is asked")
		}
		p.tap(`[data-t=code-choice][data-code="` + desk.code() + `"]`)
		if !eval[bool](p.tab, `document.querySelector('[data-t=confirm]').disabled`) {
			t.Error("confirm is enabled before a certificate is chosen")
		}
		p.tap(`[data-t=cert-choice][data-purpose=encrypt]`)
		p.shot("session-certificate")
		p.axe("session-certificate")
		p.tap("confirm")
		p.waitView("done")
		if eval[bool](p.tab, `document.querySelector('[data-t=pin-sheet]') !== null`) {
			t.Error("a PIN sheet for a certificate session")
		}
		p.shot("done-certificate")
		desk.wait(`!document.querySelector('[data-demo=bid]').hidden && !document.querySelector('[data-demo=start]').disabled`, "the sealed bid")
		if got := desk.text("[data-demo=bid-cert]"); !strings.Contains(got, "李四") {
			t.Errorf("the bid is sealed to %q", got)
		}
	})

	step(t, p, "decrypt", func(t *testing.T) {
		desk.t = t
		desk.click("[data-demo=start]")
		desk.waitState("waiting")
		p.openSession(desk.qrFromImageBytes(), desk, "decrypt")
		if !p.has("ciphertext") {
			t.Error("no ciphertext shown")
		}
		p.shot("session-decrypt")
		p.confirmWith(desk.code(), pinA)
		p.waitView("done")
		desk.wait(`!document.querySelector('[data-demo=open-result]').hidden`, "the opened bid")
		want, err := os.ReadFile(filepath.Join(samples, "sealed-bid-042.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if got := desk.text("[data-demo=plaintext]"); got != string(want) {
			t.Errorf("plaintext %q", got)
		}
		desk.clean(nil)
	})

	step(t, p, "reject", func(t *testing.T) {
		d := w.desktop(t, "/demo/")
		p.openSession(d.qrFromScreenshot(), d, "login")
		p.tap("reject")
		p.waitView("rejected")
		p.shot("rejected")
		d.waitState("rejected")
	})

	step(t, p, "wrong code", func(t *testing.T) {
		d := w.desktop(t, "/demo/")
		p.openSession(d.qrFromScreenshot(), d, "login")
		wrong := eval[string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=code-choice]'), function (b) { return b.dataset.code; })
  .filter(function (c) { return c !== `+jsString(d.code())+`; })[0]`)
		p.confirmWith(wrong, pinA)
		p.waitView("refused")
		if got := p.message(); !strings.Contains(got, "匹配码不正确") {
			t.Errorf("wrong code sentence %q", got)
		}
		p.shot("wrong-code")
		d.waitState("failed")
	})

	step(t, p, "history", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("home")
		p.tap("tab-history")
		p.waitView("history")
		p.wait(`document.querySelectorAll('[data-t=history-entry]').length > 0`, "history entries")
		got := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=history-entry]'), function (e) { return e.dataset.action + ':' + e.dataset.outcome; })`)
		for _, want := range []string{"login:ok", "sign:ok", "decrypt:ok", "login:failed", "credential.create:ok", "device.enroll:ok"} {
			if !slices.Contains(got, want) {
				t.Errorf("history %v lacks %s", got, want)
			}
		}
		if got[0] != "login:failed" {
			t.Errorf("history %v does not start with the newest (the wrong code)", got)
		}
		p.shot("history")
		p.axe("history")
	})

	step(t, p, "certificates", func(t *testing.T) {
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cert]').length === 2`, "two certificates")
		got := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=cert]'), function (e) { return e.dataset.alg + ' ' + e.dataset.purpose + ' ' + e.dataset.state; })`)
		slices.Sort(got)
		if !slices.Equal(got, []string{"SM2 encrypt active", "SM2 sign active"}) {
			t.Errorf("certificates %v", got)
		}
		p.shot("certs")
		p.axe("certificates")
	})

	step(t, p, "this device and languages", func(t *testing.T) {
		p.tap("tab-me")
		p.waitView("me")
		dev := p.storedDevice()
		if got := p.txt("device-id"); got != dev.DeviceID {
			t.Errorf("device id shown %q, stored %q", got, dev.DeviceID)
		}
		p.shot("me")
		p.axe("me")
		p.tap("lost")
		p.waitView("lost")
		if got := p.txt("device-id"); got != dev.DeviceID {
			t.Errorf("lost phone page shows %q", got)
		}
		p.shot("lost")
		p.tap("back")
		p.waitView("me")
		zh := p.txt("change-pin")
		p.switchLang("lang", "en")
		p.wait(`document.documentElement.lang === 'en'`, "English")
		if en := p.txt("change-pin"); en == zh || !strings.Contains(en, "Change PIN") {
			t.Errorf("after switching to English: %q (was %q)", en, zh)
		}
		p.shot("me-en")
		p.switchLang("lang", "zh-CN")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "Chinese again")
	})

	step(t, p, "installable, and no API answer cached", func(t *testing.T) {
		if m := eval[string](p.tab, `fetch(document.querySelector('link[rel=manifest]').href).then(function (r) { return r.json(); })
  .then(function (m) { return m.display + ' ' + m.start_url + ' ' + m.icons.length; })`); m != "standalone ./ 3" {
			t.Errorf("manifest: %s", m)
		}
		scope := eval[string](p.tab, `navigator.serviceWorker.ready.then(function (r) { return r.scope; })`)
		if scope != w.url+"/m/" {
			t.Fatalf("service worker scope %q", scope)
		}
		p.wait(`navigator.serviceWorker.controller !== null`, "the service worker to control the page")
		// The app works through the service worker (API calls included).
		p.visit("/m/")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		cached := eval[[]string](p.tab, `caches.keys().then(function (keys) {
  return Promise.all(keys.map(function (k) { return caches.open(k).then(function (c) { return c.keys(); }); }));
}).then(function (lists) { var out = []; lists.forEach(function (l) { l.forEach(function (r) { out.push(r.url); }); }); return out; })`)
		if !slices.Contains(cached, w.url+"/m/app.js") {
			t.Errorf("the shell is not cached: %v", cached)
		}
		for _, u := range cached {
			if !strings.HasPrefix(u, w.url+"/m/") {
				t.Errorf("the service worker cached %s", u)
			}
		}
	})

	step(t, p, "same-device link", func(t *testing.T) {
		// The portal page itself on this phone: a link, not a QR code.
		portal := p.sameBrowser(t, "zh-portal", "zh-CN,zh;q=0.9")
		portal.open("/demo/")
		portal.wait(`(function () { var r = document.querySelector('[data-ukg=root]'), a = document.querySelector('[data-ukg=open]');
  return r && r.dataset.state === 'waiting' && a && !a.hidden && a.getAttribute('href'); })()`, "the open-on-this-phone link")
		if m := eval[string](portal.tab, `document.querySelector('[data-ukg=root]').dataset.mode`); m != "link" {
			t.Errorf("widget mode %q on a phone", m)
		}
		if eval[bool](portal.tab, `(function () { var q = document.querySelector('[data-ukg=qr]'); return !!q && q.isConnected && q.getBoundingClientRect().width > 0; })()`) {
			t.Error("the widget shows a QR code on the phone")
		}
		if got := portal.text("[data-ukg=open]"); !strings.Contains(got, "在本机打开") {
			t.Errorf("link text %q", got)
		}
		href := eval[string](portal.tab, `document.querySelector('[data-ukg=open]').href`)
		if !strings.HasPrefix(href, w.url+"/q/") {
			t.Fatalf("the link goes to %q", href)
		}
		portal.shot("portal-on-phone")
		code := portal.code()
		// The link opens a new tab of the same browser: the app, with
		// this phone's key, on that session.
		app := p.sameBrowser(t, "zh-same-device", "zh-CN,zh;q=0.9")
		app.visit(href)
		app.waitView("session")
		app.shot("session-same-device")
		app.confirmWith(code, pinA)
		app.waitView("done")
		loggedIn(t, portal.tab, "李四")
		portal.clean(nil)
		app.clean(phoneProblems)
		app.onlyGateway()
	})

	step(t, p, "change PIN", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("home")
		p.tap("tile-pin")
		p.waitView("change-pin")
		p.enterPIN(wrongPIN)
		p.waitSheet()
		p.enterPIN(pinA2)
		p.waitSheet()
		p.enterPIN(pinA2)
		// The old PIN was wrong: the app asks for it again and says so.
		if got := p.pinMessage(); !strings.Contains(got, "PIN 错误") {
			t.Errorf("wrong old PIN message %q", got)
		}
		// The old PIN's keypad offers the way to a new one, in Chinese.
		p.tap("pin-forgot")
		p.wait(`!document.querySelector('[data-t=pin-help]').hidden`, "the PIN recovery help")
		if got := p.txt("pin-help"); !strings.Contains(got, "新的激活码") {
			t.Errorf("PIN recovery help %q", got)
		}
		p.shot("forgot-pin")
		p.enterPIN(pinA)
		p.waitSheet()
		p.noForgotPIN("the new PIN")
		p.enterPIN(pinA2)
		p.waitSheet()
		p.noForgotPIN("the new PIN again")
		p.enterPIN(pinA2)
		p.waitView("pin-changed")
		p.shot("pin-changed")
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}

func storyCode(t *testing.T, w *world) {
	u := w.newUser(t, "Wang Wu")
	p := w.newPhone(t, "en", "en-US,en;q=0.9")

	step(t, p, "enroll by code", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		if got := eval[string](p.tab, `document.documentElement.lang`); got != "en" {
			t.Errorf("html lang %q for an English browser", got)
		}
		if got := p.txt("activate"); got != "Activate" || eval[string](p.tab, `document.querySelector("[data-t=activate]").getAttribute("aria-label")`) != "Activate this phone" {
			t.Errorf("activate button %q", got)
		}
		p.shot("welcome")
		p.axe("welcome")
		p.tap("activate")
		p.waitView("enroll-code")
		// A code too short is refused on the page.
		if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID("code"), "ABC12")); err != nil {
			t.Fatal(err)
		}
		p.tap("next")
		p.wait(`document.querySelector('[data-t=error]').textContent !== ''`, "the code error")
		if got := p.txt("error"); !strings.Contains(got, "20 letters") {
			t.Errorf("short code message %q", got)
		}
		p.shot("enroll-code-error")
		eval[bool](p.tab, `(document.getElementById('code').value = '') === ''`)
		// Typed loosely: lower case, no dashes.
		p.enrollOnScreens(strings.ToLower(strings.ReplaceAll(u.code, "-", "")), pinA, false, false)
		p.waitView("home")
		p.checkDevice(u, "Wang Wu")
	})

	step(t, p, "request a certificate", func(t *testing.T) {
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=request-new]') !== null`, "the empty list")
		p.shot("certs-empty")
		p.tap("request-new")
		p.waitView("request-cert")
		p.wait(`document.querySelector('[data-t=request]') !== null`, "the form")
		p.shot("request-cert")
		p.tap("issuer-gov")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cert]').length === 1`, "the new certificate")
		if got := eval[string](p.tab, `document.querySelector('[data-t=cert]').dataset.purpose`); got != "sign" {
			t.Errorf("requested a %s certificate", got)
		}
		// A second one, from the other issuer.
		p.tap("request-new")
		p.waitView("request-cert")
		p.tap("issuer-sm2")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cert]').length === 2`, "the second certificate")
		p.shot("certs")
	})

	step(t, p, "login with the chosen certificate", func(t *testing.T) {
		d := w.desktop(t, "/demo/?lang=en")
		p.openSession(d.qrFromScreenshot(), d, "login")
		if n := eval[int](p.tab, `document.querySelectorAll('[data-t=cred-choice]').length`); n != 2 {
			t.Fatalf("%d certificates offered, want 2", n)
		}
		p.tap(`[data-t=cred-choice][data-issuer=sm2]`)
		if got := eval[string](p.tab, `document.querySelector('[data-t=cred-choice][data-issuer=sm2]').getAttribute('aria-checked')`); got != "true" {
			t.Errorf("the chosen certificate shows aria-checked=%q", got)
		}
		p.shot("session-two-certs")
		p.confirmWith(d.code(), pinA)
		p.waitView("done")
		loggedIn(t, d, "Wang Wu")
		if got := d.text("[data-demo=issuer]"); !strings.Contains(got, sm2Root) {
			t.Errorf("logged in with a certificate of %q, want %q", got, sm2Root)
		}
	})

	step(t, p, "expiry while looking", func(t *testing.T) {
		// The phone must show the session and then watch it run out. A
		// short lifetime first (the wait is the lifetime); when the
		// machine was too slow to show the session and photograph it
		// before it ended, again with a longer one.
		var d *tab
		var payload string
		for _, ttl := range []int{15, 30, 60, 120} {
			d = w.desktop(t, fmt.Sprintf("/demo/?lang=en&ttl=%d&autorefresh=0", ttl))
			payload = d.qrFromScreenshot()
			if p.lookAtSession(payload) {
				break
			}
			t.Logf("a %d s session ended before the phone showed it: again with a longer one", ttl)
			d = nil
		}
		if d == nil {
			t.Fatal("no session lived long enough for the phone to show it")
		}
		p.waitLong(`document.body.dataset.view === 'expired'`, "the phone to show the expiry", 3*time.Minute)
		if got := p.message(); !strings.Contains(got, "Refresh it on the computer") {
			t.Errorf("expiry sentence %q", got)
		}
		p.shot("expired")
		d.t = t
		d.waitState("expired")
		// The same QR code again: a sentence, not JSON.
		p.visit(payload)
		p.waitView("refused")
		if got := p.message(); got == "" || strings.Contains(got, "{") {
			t.Errorf("reopened expired QR code: %q", got)
		}
		p.shot("expired-again")
	})

	step(t, p, "wrong PIN and lockout", func(t *testing.T) {
		d := w.desktop(t, "/demo/?lang=en")
		p.openSession(d.qrFromScreenshot(), d, "login")
		p.confirmWith(d.code(), wrongPIN)
		if got := p.pinMessage(); got != "Wrong PIN. 4 tries left." {
			t.Errorf("first wrong PIN: %q", got)
		}
		p.shot("wrong-pin")
		// "Forgot your PIN?" unfolds how to get a new one, in the sheet.
		if !eval[bool](p.tab, `document.querySelector('[data-t=pin-help]').hidden`) {
			t.Error("the PIN recovery help shows before it was asked for")
		}
		p.tap("pin-forgot")
		p.wait(`!document.querySelector('[data-t=pin-help]').hidden`, "the PIN recovery help")
		if got := p.txt("pin-help"); !strings.Contains(got, "new activation code") {
			t.Errorf("PIN recovery help %q", got)
		}
		if got := eval[string](p.tab, `document.querySelector('[data-t=pin-forgot]').getAttribute('aria-expanded')`); got != "true" {
			t.Errorf("aria-expanded %q after unfolding", got)
		}
		p.shot("forgot-pin")
		p.axe("PIN recovery help")
		// From the keyboard too, with digits typed: Enter on the focused
		// link folds the help and submits nothing (the keypad's Enter
		// submits only when no button has the focus).
		for _, d := range "135790" {
			p.tap(`[data-t=pin-sheet] [data-key="` + string(d) + `"]`)
		}
		eval[bool](p.tab, `(function () { var b = document.querySelector('[data-t=pin-forgot]'); b.focus(); return document.activeElement === b; })()`)
		if _, err := chromedp.Run(p.ctx, chromedp.KeyEvent("\r")); err != nil {
			t.Fatal(err)
		}
		p.wait(`document.querySelector('[data-t=pin-help]').hidden`, "the PIN recovery help folded")
		// A submission starts at once with the keypad's spinner.
		if got := eval[string](p.tab, `document.querySelector('[data-t=pin-message]').textContent + '|' +
  document.querySelector('[data-t=pin-dots]').dataset.count + '|' + !!document.querySelector('[data-t=pin-sheet] .spinner')`); got != "|6|false" {
			t.Errorf("after Enter on the link the keypad shows %q (message|digits|busy), want no message (typing cleared it), the 6 digits and no submission", got)
		}
		for range 6 {
			p.tap(`[data-t=pin-sheet] [data-key="del"]`)
		}
		for i := 0; i < 3; i++ {
			p.enterPIN(wrongPIN)
			p.pinMessage()
		}
		if got := p.txt("pin-message"); got != "Wrong PIN. One more wrong try locks it." {
			t.Errorf("fourth wrong PIN: %q", got)
		}
		p.enterPIN(wrongPIN)
		p.waitView("refused")
		if got := eval[string](p.tab, `document.body.dataset.error`); got != "pin_locked" {
			t.Errorf("refusal %q", got)
		}
		if got := p.message(); !strings.HasPrefix(got, "Your PIN is locked until ") {
			t.Errorf("lockout sentence %q", got)
		}
		if got := p.txt("pin-recovery"); !strings.Contains(got, "No longer know your PIN?") || !strings.Contains(got, "new activation code") {
			t.Errorf("the lockout screen does not say how to get a new PIN: %q", got)
		}
		p.shot("locked")
		p.axe("PIN locked")
		d.clean(nil)
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}

func storyNotEnrolled(t *testing.T, w *world) {
	u := w.newUser(t, "赵六")
	p := w.newPhone(t, "zh-new", "zh-CN,zh;q=0.9")
	var d *tab
	var payload string
	step(t, p, "QR URL in a browser that is not enrolled", func(t *testing.T) {
		d = w.desktop(t, "/demo/")
		payload = d.qrFromScreenshot()
		p.visit(payload)
		p.waitView("not-enrolled")
		if got := p.message(); !strings.Contains(got, "激活码") {
			t.Errorf("not-enrolled sentence %q", got)
		}
		p.shot("not-enrolled")
		p.axe("not enrolled")
		if s := d.widgetState(); s != "waiting" {
			t.Errorf("the desktop shows %q before any device scanned", s)
		}
	})
	step(t, p, "enroll, then the session it came for", func(t *testing.T) {
		p.tap("activate")
		p.enrollOnScreens(u.code, pinA, true, false)
		p.waitView("session")
		d.t = t
		d.waitState("scanned")
		p.confirmWith(d.code(), pinA)
		p.waitView("done")
		loggedIn(t, d, "赵六")
	})
	step(t, p, "a used QR code", func(t *testing.T) {
		p.visit(payload)
		p.waitView("refused")
		if got := p.message(); !strings.Contains(got, "二维码") {
			t.Errorf("used QR code sentence %q", got)
		}
		p.shot("used-qr")
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}

func storyCamera(t *testing.T, w *world) {
	u := w.newUser(t, "孙七")
	p := w.newPhone(t, "zh-camera", "zh-CN,zh;q=0.9")
	// film points the camera at a QR code image (PNG) and has the phone
	// scan it from the screen scan (reached by tapping from).
	film := func(png []byte, from string, then string) {
		t := p.t
		t.Helper()
		img, err := decodeImage(png)
		if err != nil {
			t.Fatal(err)
		}
		cameraMu.Lock()
		defer cameraMu.Unlock()
		if err := writeQRY4M(cameraFile, img); err != nil {
			t.Fatal(err)
		}
		p.tap(from)
		p.wait(`document.body.dataset.view === 'scan' || document.body.dataset.scanned`, "the camera")
		p.wait(`document.body.dataset.view === `+jsString(then), "the camera to read the QR code")
	}
	step(t, p, "camera screen", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		cameraMu.Lock()
		if err := writeBlankY4M(cameraFile); err != nil {
			cameraMu.Unlock()
			t.Fatal(err)
		}
		p.tap("scan-activation")
		p.wait(`document.body.dataset.camera === 'on'`, "the camera to start")
		cameraMu.Unlock()
		p.shot("camera")
		p.tap("close")
		p.waitView("welcome")
	})
	step(t, p, "enrollment QR code", func(t *testing.T) {
		png, err := qrlogin.PNG(u.link, 256)
		if err != nil {
			t.Fatal(err)
		}
		film(png, "scan-activation", "enroll-code")
		if got := eval[string](p.tab, `document.getElementById('code').value`); got != u.code {
			t.Fatalf("the scanned link filled in %q", got)
		}
		t.Logf("decoder: %s", eval[string](p.tab, `document.body.dataset.decoder || ''`))
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})
	step(t, p, "login QR code", func(t *testing.T) {
		d := w.desktop(t, "/demo/")
		src := eval[string](d, `document.querySelector('[data-ukg=qr]').src`)
		film(d.fetchBytes(src), "scan", "session")
		if got := eval[string](p.tab, `document.body.dataset.session`); got != d.session() {
			t.Fatalf("the camera read session %s, the desktop shows %s", got, d.session())
		}
		d.waitState("scanned")
		p.confirmWith(d.code(), pinA)
		p.waitView("done")
		loggedIn(t, d, "孙七")
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}
