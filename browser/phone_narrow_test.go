package browser_test

import (
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// textLines is how many lines the text of the element sel takes on the
// screen (its text's boxes' distinct tops), and the first thing wrong
// with where it stands: a text cut off by its box, or past the screen's
// right edge.
func textLines(p *handset, sel string) (int, string) {
	r := eval[[]any](p.tab, `(function () {
  var e = document.querySelector(`+jsString(sel)+`);
  if (!e) { return [0, 'missing']; }
  var tops = {}, wrong = '';
  var w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  for (var n = w.nextNode(); n; n = w.nextNode()) {
    var rg = document.createRange();
    rg.selectNodeContents(n);
    Array.prototype.forEach.call(rg.getClientRects(), function (b) {
      if (b.width === 0) { return; }
      tops[Math.round(b.top)] = true;
      if (b.right > document.documentElement.clientWidth + 0.5 && !wrong) { wrong = 'past the screen (' + Math.round(b.right) + ')'; }
    });
  }
  if (!wrong && e.scrollWidth > e.clientWidth + 1) { wrong = 'cut off (' + e.scrollWidth + ' > ' + e.clientWidth + ')'; }
  return [Object.keys(tops).length, wrong];
})()`)
	return int(r[0].(float64)), r[1].(string)
}

// oneLine fails the test unless the text of sel stands on one line, whole.
func oneLine(t *testing.T, p *handset, sel, what string) {
	t.Helper()
	n, wrong := textLines(p, sel)
	if n != 1 || wrong != "" {
		t.Errorf("%s (%s): %d lines %s, want one whole line", what, p.text(sel), n, wrong)
	}
}

// TestPhoneNarrowOneLine: on a 320 px phone, in English and in Chinese,
// the words that must read at a glance stand on one line, whole: the
// app's name beside the language switch (the welcome's hero, the bar of
// the screens a QR code opens and of result screens), the welcome's
// action bar ("Activate" beside "Scan"), the kind of request ("Signature
// request") beside the countdown. A toast stands above the action bar,
// never on its buttons, and a tap puts it away. The Me page has one
// language switch, the top bar's.
func TestPhoneNarrowOneLine(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	u := w.newUser(t, "欧阳十八")
	p := w.newNarrowPhone(t, "narrow-one-line", "en-US,en;q=0.9")
	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	s, err := pc.CreateSession(w.ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
		Display: portal.Display{Title: "签署投标文件"}, Documents: []portal.Document{{Name: "bid.txt", Data: []byte("投标总价 1,000,000 元")}}})
	if err != nil {
		t.Fatal(err)
	}

	step(t, p, "the welcome", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		for _, lang := range []string{"en", "zh-CN"} {
			p.switchLang("lang", lang)
			p.waitView("welcome")
			oneLine(t, p, ".hero-top .brand span", "the brand in "+lang)
			oneLine(t, p, ".actions [data-t=activate]", "the activate button in "+lang)
			oneLine(t, p, ".actions [data-t=scan-activation] span", "the scan button in "+lang)
			noOverflow320(t, p, "the welcome in "+lang)
			p.shot("welcome-" + lang)
		}
	})

	step(t, p, "a QR code scanned before the activation", func(t *testing.T) {
		p.visit(s.QR.Payload)
		p.waitView("not-enrolled")
		for _, lang := range []string{"en", "zh-CN"} {
			p.switchLang("lang", lang)
			p.waitView("not-enrolled")
			oneLine(t, p, ".brandbar .brand span", "the brand in "+lang)
			oneLine(t, p, ".actions [data-t=activate]", "the activate button in "+lang)
			p.shot("not-enrolled-" + lang)
		}
		p.switchLang("lang", "en")
		p.tap("activate")
		p.enrollOnScreens(u.code, pinA, true, false)
	})

	step(t, p, "the request, a toast over it", func(t *testing.T) {
		// The certificates were requested: a toast says so over the
		// request the activation went on to.
		p.waitView("session")
		p.wait(`document.querySelector('[data-t=toast]') !== null`, "the toast")
		if over := eval[string](p.tab, `(function () {
  var t = document.querySelector('[data-t=toast]').getBoundingClientRect(), out = [];
  document.querySelectorAll('.actions button, .tabbar button').forEach(function (b) {
    var r = b.getBoundingClientRect();
    if (r.left < t.right && t.left < r.right && r.top < t.bottom && t.top < r.bottom) { out.push(b.dataset.t); }
  });
  if (t.left < 0 || t.right > innerWidth) { out.push('the screen edge'); }
  return out.join(' ');
})()`); over != "" {
			t.Errorf("the toast covers %s", over)
		}
		p.shot("session-toast-en")
		p.tap("toast")
		p.wait(`document.querySelector('[data-t=toast]') === null`, "the toast put away by a tap")
		for _, lang := range []string{"en", "zh-CN"} {
			p.switchLang("lang", lang)
			p.waitView("session")
			oneLine(t, p, "[data-t=kind]", "the kind of request in "+lang)
			oneLine(t, p, ".brandbar .brand span", "the brand of the request in "+lang)
			noOverflow320(t, p, "the request in "+lang)
			p.shot("session-" + lang)
		}
		p.switchLang("lang", "en")
		p.tap("reject")
		p.waitView("rejected")
		for _, lang := range []string{"en", "zh-CN"} {
			p.switchLang("lang", lang)
			p.waitView("rejected")
			oneLine(t, p, ".brandbar .brand span", "the brand of the result in "+lang)
			p.shot("rejected-" + lang)
		}
		p.tap("done")
		p.waitView("home")
	})

	step(t, p, "one language switch on the Me page", func(t *testing.T) {
		p.tap("tab-me")
		p.waitView("me")
		for _, lang := range []string{"en", "zh-CN"} {
			p.switchLang("lang", lang)
			p.waitView("me")
			if n := eval[int](p.tab, `document.querySelectorAll('#app button[lang], #app [data-t^=lang]').length`); n != 1 {
				t.Errorf("the Me page in %s has %d language switches", lang, n)
			}
			p.shot("me-" + lang)
		}
	})
	p.clean(phoneProblems)
}
