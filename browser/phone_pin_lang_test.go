package browser_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhonePINSheetLanguage: a user who faces the PIN keypad in the wrong
// language switches it there, on a 320 px phone. The keypad stays open,
// every word on it changes (title, lead, rules, OK, the message of a
// wrong PIN, "Forgot your PIN?" and its help, unfolded as it was), the
// screen under it too, and the digits typed stay: the PIN is finished
// after the switch.
func TestPhonePINSheetLanguage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	u := w.newUser(t, "秦十七")
	p := w.newNarrowPhone(t, "narrow-pin-lang", "zh-CN,zh;q=0.9")

	// typeDigits taps the keys of ds on the open keypad.
	typeDigits := func(ds string) {
		for _, d := range ds {
			p.tap(`[data-t=pin-sheet] [data-key="` + string(d) + `"]`)
		}
	}
	count := func() string { return eval[string](p.tab, `document.querySelector('[data-t=pin-dots]').dataset.count`) }
	sheetText := func(sel string) string { return p.text(`[data-t=pin-sheet] ` + sel) }
	// switchSheet taps the keypad's own switch and checks that the
	// keypad is the same one (not closed and opened again), still open,
	// with the switch focused, within the 320 px screen.
	switchSheet := func(t *testing.T, lang string) {
		t.Helper()
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector('[data-t=pin-sheet]').dataset.before = '1'; true`)); err != nil {
			t.Fatal(err)
		}
		p.switchLang("pin-lang", lang)
		if !eval[bool](p.tab, `document.body.dataset.sheet === 'pin' && document.querySelector('[data-t=pin-sheet]').dataset.before === '1'`) {
			t.Fatal("the switch closed the keypad")
		}
		if !eval[bool](p.tab, `document.activeElement === document.querySelector('[data-t=pin-lang]')`) {
			t.Error("the switch lost the focus")
		}
		noOverflow320(t, p, "the keypad in "+lang)
	}

	step(t, p, "a new PIN half typed, switched to English, finished", func(t *testing.T) {
		p.visit(u.link)
		p.waitView("enroll-code")
		p.tap("next")
		p.waitView("enroll-name")
		p.tap("next")
		p.waitView("enroll-pin")
		p.waitSheet()
		if l := sheetText("[data-t=pin-lang]"); l != "English" {
			t.Errorf("the keypad's switch says %q", l)
		}
		typeDigits(pinA[:3])
		switchSheet(t, "en")
		if h := sheetText("h2"); h != "Choose a PIN" {
			t.Errorf("in English the keypad's title is %q", h)
		}
		if l := sheetText("p.muted"); !strings.Contains(l, "every time you confirm") {
			t.Errorf("in English the keypad's lead is %q", l)
		}
		if r := sheetText("[data-t=pin-rules]"); !strings.Contains(r, "6–12 digits") {
			t.Errorf("in English the rules say %q", r)
		}
		if ok := sheetText("[data-t=pin-ok]"); ok != "OK" {
			t.Errorf("in English the OK key says %q", ok)
		}
		if l := sheetText("[data-t=pin-lang]"); l != "中文" {
			t.Errorf("in English the keypad's switch says %q", l)
		}
		if h := p.text("main h1"); h != "Choose a PIN" {
			t.Errorf("in English the screen under the keypad is %q", h)
		}
		if n := count(); n != "3" {
			t.Fatalf("after the switch the keypad shows %s digits, 3 were typed", n)
		}
		p.shot("pin-set-switched-en")
		p.axe("the new PIN's keypad in English at 320 px")
		typeDigits(pinA[3:])
		p.tap("pin-ok")
		// The PIN chosen is the six digits typed across the switch: the
		// same six again enroll the phone.
		p.waitView("enroll-pin2")
		if h := sheetText("h2"); h != "Enter the PIN again" {
			t.Errorf("the second keypad's title is %q", h)
		}
		p.enterPIN(pinA)
		p.waitView("enrolled")
		p.wait(`document.querySelector('[data-t=request]') !== null`, "the certificate offer")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("home")
	})

	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	step(t, p, "a wrong PIN's message and the PIN help switched, the PIN finished", func(t *testing.T) {
		s, err := pc.CreateSession(w.ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display: portal.Display{Title: "签署投标文件"}, Documents: []portal.Document{{Name: "bid.txt", Data: []byte("投标总价 1,000,000 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.confirmWith(s.Code, "135799")
		en := p.pinMessage()
		if !strings.Contains(en, "Wrong PIN") {
			t.Fatalf("the wrong PIN's message is %q", en)
		}
		p.tap("pin-forgot")
		p.wait(`!document.querySelector('[data-t=pin-help]').hidden`, "the PIN help")
		typeDigits(pinA[:2])
		switchSheet(t, "zh-CN")
		if h := sheetText("h2"); h != "输入 PIN" {
			t.Errorf("in Chinese the keypad's title is %q", h)
		}
		if l := sheetText("p.muted"); l != "确认签名（招标平台）" {
			t.Errorf("in Chinese the keypad's lead is %q", l)
		}
		// The message of the wrong PIN was cleared by the first digit
		// typed after it; the help stays unfolded, in Chinese.
		if m := p.txt("pin-message"); m != "" {
			t.Errorf("the keypad still says %q after digits were typed", m)
		}
		if f := p.txt("pin-forgot"); f != "忘记 PIN？" {
			t.Errorf("in Chinese the forgot link says %q", f)
		}
		if hidden := eval[bool](p.tab, `document.querySelector('[data-t=pin-help]').hidden`); hidden {
			t.Error("the switch folded the PIN help")
		}
		if help := p.txt("pin-help"); !strings.Contains(help, "PIN") || !strings.ContainsRune(help, '。') {
			t.Errorf("in Chinese the PIN help says %q", help)
		}
		if ok := sheetText("[data-t=pin-ok]"); ok != "确定" {
			t.Errorf("in Chinese the OK key says %q", ok)
		}
		if c := eval[string](p.tab, `document.querySelector('.actions [data-t=confirm]').textContent`); c != "确认" {
			t.Errorf("in Chinese the screen under the keypad confirms with %q", c)
		}
		if n := count(); n != "2" {
			t.Fatalf("after the switch the keypad shows %s digits, 2 were typed", n)
		}
		p.shot("pin-confirm-switched")

		// A wrong PIN again, now in Chinese, then switched back with the
		// message standing: the message follows the language.
		for range 4 {
			typeDigits("1")
		}
		p.tap("pin-ok")
		zh := p.pinMessage()
		if !strings.Contains(zh, "PIN 错误") {
			t.Fatalf("the second wrong PIN's message is %q", zh)
		}
		switchSheet(t, "en")
		if m := p.txt("pin-message"); !strings.Contains(m, "Wrong PIN") {
			t.Errorf("switched to English, the keypad's message is %q (was %q)", m, zh)
		}
		p.shot("pin-wrong-switched-en")
		p.enterPIN(pinA)
		p.waitView("done")
	})
	p.clean(phoneProblems)
}
