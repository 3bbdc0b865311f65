package browser_test

import (
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneLongSummary: a portal's summary as long as the gateway allows
// (2,000 bytes, several paragraphs) on a 320 px phone. The confirm screen
// shows its first lines and "展开全部 / Show all": the matching codes and
// the buttons stay near, and what the gateway says (the app's registered
// name, the checked origin, the kind of operation) is on the first
// screen whatever the portal wrote. Unfolded, the whole text is there,
// and "收起 / Show less" folds it again. A short summary has no control.
func TestPhoneLongSummary(t *testing.T) {
	t.Parallel()
	p, sign := narrowSigner(t, "冯十一", "narrow-summary")
	newSign := func(t *testing.T, summary string) *portal.Session { return sign(t, "签署投标文件", summary) }
	box := func(name string) (top, height float64) { return pageBox(p, name) }
	// A long summary: paragraphs of a tender notice, up to the limit.
	para := "本项目为某市政道路改造工程第二标段施工招标，投标人须具备市政公用工程施工总承包二级及以上资质。"
	var b strings.Builder
	for b.Len()+len(para) <= 2000 {
		b.WriteString(para)
	}
	summary := b.String()

	step(t, p, "a long summary is folded", func(t *testing.T) {
		s := newSign(t, summary)
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.wait(`(function () { var m = document.querySelector('[data-t=display-more]'); return !!m && !m.hidden; })()`, "the show-all control")
		if got := p.txt("display-more"); got != "展开全部" {
			t.Errorf("the control says %q", got)
		}
		if got := eval[string](p.tab, `document.querySelector('[data-t=display-more]').getAttribute('aria-expanded')`); got != "false" {
			t.Errorf("aria-expanded %q while folded", got)
		}
		if got := p.txt("display-summary"); got != summary {
			t.Errorf("the summary's text is %d bytes, want all %d", len(got), len(summary))
		}
		// The gateway's own words are on the first screen.
		for _, name := range []string{"kind", "app-name", "origin"} {
			if top, h := box(name); h == 0 || top+h > 640 {
				t.Errorf("%s is not on the first screen (top %.0f, height %.0f)", name, top, h)
			}
		}
		_, folded := box("display-summary")
		codes, _ := box("code-choice")
		if folded > 120 {
			t.Errorf("the folded summary is %.0f px high", folded)
		}
		p.shot("long-summary-top")
		p.center("display")
		p.shot("long-summary-folded")
		p.axe("the folded summary at 320 px")

		p.tap("display-more")
		p.wait(`document.querySelector('[data-t=display-more]').getAttribute('aria-expanded') === 'true'`, "the unfolded summary")
		if got := p.txt("display-more"); got != "收起" {
			t.Errorf("unfolded, the control says %q", got)
		}
		_, open := box("display-summary")
		codesOpen, _ := box("code-choice")
		if open < 4*folded || codesOpen != codes {
			t.Errorf("unfolded the summary is %.0f px (folded %.0f), the codes (above it) moved from %.0f to %.0f", open, folded, codes, codesOpen)
		}
		if !eval[bool](p.tab, `(function () { var e = document.querySelector('[data-t=display-summary]'); return e.scrollHeight <= e.clientHeight + 1; })()`) {
			t.Error("unfolded, the summary still hides lines")
		}
		p.center("display-more")
		p.shot("long-summary-unfolded")
		p.tap("display-more")
		p.wait(`document.querySelector('[data-t=display-more]').getAttribute('aria-expanded') === 'false'`, "the summary folded again")
		if _, h := box("display-summary"); h != folded {
			t.Errorf("folded again the summary is %.0f px, was %.0f", h, folded)
		}

		// In English the control follows the language.
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en'`, "the English session screen")
		p.wait(`(function () { var m = document.querySelector('[data-t=display-more]'); return !!m && !m.hidden; })()`, "the show-all control in English")
		if got := p.txt("display-more"); got != "Show all" {
			t.Errorf("in English the control says %q", got)
		}
		p.center("display")
		p.shot("long-summary-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese session screen")
		p.tap("reject")
		p.waitView("rejected")
	})

	step(t, p, "a short summary has no control", func(t *testing.T) {
		s := newSign(t, "第 2 标段")
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.wait(`document.querySelector('[data-t=display-summary]') !== null`, "the summary")
		// The control is decided once laid out: give it that turn.
		eval[bool](p.tab, `new Promise(function (r) { setTimeout(function () { r(true); }, 0); })`)
		if eval[bool](p.tab, `(function () { var m = document.querySelector('[data-t=display-more]'); return !!m && !m.hidden; })()`) {
			t.Error("a short summary offers to show all")
		}
		p.tap("reject")
		p.waitView("rejected")
	})
	p.clean(phoneProblems)
}

// TestPhoneLongTitle: a portal's display title as long as the gateway
// allows (200 bytes), in Chinese and in English, on a 320 px phone. The
// confirm screen shows its first two lines under the heading that marks
// the portal's own words, with an ellipsis and "展开全部 / Show all": the
// app's registered name, the checked origin and the kind of operation
// stay on the first screen, above the action bar, and so do the matching
// codes, above the portal's words: where they are under a one-line
// title. Unfolded, the whole title is there; a short title has no
// control.
func TestPhoneLongTitle(t *testing.T) {
	t.Parallel()
	p, sign := narrowSigner(t, "卫十二", "narrow-title")
	newSign := func(t *testing.T, title string) *portal.Session { return sign(t, title, "第 2 标段") }
	// upTo repeats words up to n bytes.
	upTo := func(words string, n int) string {
		var b strings.Builder
		for _, r := range strings.Repeat(words, n) {
			if b.Len()+len(string(r)) > n {
				break
			}
			b.WriteRune(r)
		}
		return strings.TrimSpace(b.String())
	}
	box := func(name string) (top, height float64) { return pageBox(p, name) }
	lineHeight := func() float64 {
		return eval[float64](p.tab, `parseFloat(getComputedStyle(document.querySelector('[data-t=display-title]')).lineHeight)`)
	}
	// codesAt is where the matching codes start under a one-line title,
	// by language.
	codesAt := map[string]float64{}
	// foldedTitle checks the folded screen and unfolds the title.
	foldedTitle := func(t *testing.T, lang, title, more, less, shot string) {
		t.Helper()
		p.wait(`(function () { var m = document.querySelector('[data-t=display-more]'); return !!m && !m.hidden; })()`, "the show-all control")
		if got := p.txt("display-more"); got != more {
			t.Errorf("the control says %q, want %q", got, more)
		}
		if got := p.txt("display-title"); got != title {
			t.Errorf("the title's text is %q, want all of %q", got, title)
		}
		lh := lineHeight()
		_, folded := box("display-title")
		if lh == 0 || folded > 2*lh+1 {
			t.Errorf("the folded title is %.0f px high, lines of %.0f px", folded, lh)
		}
		// The portal's words, under their heading, in their card.
		if !eval[bool](p.tab, `!!document.querySelector('[data-t=display] [data-t=display-title]') &&
  document.querySelector('[data-t=display-label]').getBoundingClientRect().bottom <= document.querySelector('[data-t=display-title]').getBoundingClientRect().top`) {
			t.Error("the title is not under the heading of the website's own words")
		}
		// The gateway's own words on the first screen, above the action
		// bar; the codes (above the portal's words) where they are under
		// a one-line title, however long the title.
		bar := eval[float64](p.tab, `document.querySelector('.actions').getBoundingClientRect().top`)
		for _, name := range []string{"kind", "app-name", "origin"} {
			if top, h := box(name); h == 0 || top+h > bar {
				t.Errorf("%s is not on the first screen (top %.0f, height %.0f, the action bar at %.0f)", name, top, h, bar)
			}
		}
		codes, _ := box("code-choice")
		_, control := box("display-more")
		if base, ok := codesAt[lang]; !ok || codes != base || control == 0 {
			t.Errorf("the codes start at %.0f px, under a one-line title at %.0f (%v)", codes, base, ok)
		}
		p.shot(shot)
		p.axe("the folded title at 320 px")
		p.tap("display-more")
		p.wait(`document.querySelector('[data-t=display-more]').getAttribute('aria-expanded') === 'true'`, "the unfolded title")
		if got := p.txt("display-more"); got != less {
			t.Errorf("unfolded, the control says %q, want %q", got, less)
		}
		_, open := box("display-title")
		codesOpen, _ := box("code-choice")
		if open < folded+lh-1 || codesOpen != codes {
			t.Errorf("unfolded the title is %.0f px (folded %.0f), the codes (above it) moved from %.0f to %.0f", open, folded, codes, codesOpen)
		}
		if !eval[bool](p.tab, `(function () { var e = document.querySelector('[data-t=display-title]'); return e.scrollHeight <= e.clientHeight + 1; })()`) {
			t.Error("unfolded, the title still hides lines")
		}
		p.center("display")
		p.shot(shot + "-unfolded")
		p.tap("display-more")
		p.wait(`document.querySelector('[data-t=display-more]').getAttribute('aria-expanded') === 'false'`, "the title folded again")
		if _, h := box("display-title"); h != folded {
			t.Errorf("folded again the title is %.0f px, was %.0f", h, folded)
		}
	}

	step(t, p, "a short title has no control", func(t *testing.T) {
		s := newSign(t, "签署投标文件")
		p.visit(s.QR.Payload)
		p.waitView("session")
		for _, lang := range []string{"zh-CN", "en"} {
			if lang == "en" {
				p.tap("lang")
			}
			p.wait(`document.documentElement.lang === `+jsString(lang)+` && document.querySelector('[data-t=display-title]') !== null`, "the title")
			// The control is decided once laid out: give it that turn.
			eval[bool](p.tab, `new Promise(function (r) { setTimeout(function () { r(true); }, 0); })`)
			if eval[bool](p.tab, `(function () { var m = document.querySelector('[data-t=display-more]'); return !!m && !m.hidden; })()`) {
				t.Error("a short title offers to show all")
			}
			if _, h := box("display-title"); h > 1.5*lineHeight() {
				t.Fatalf("the short title is %.0f px high", h)
			}
			codesAt[lang], _ = box("code-choice")
		}
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese session screen")
		p.tap("reject")
		p.waitView("rejected")
	})

	step(t, p, "a long Chinese title is folded to two lines", func(t *testing.T) {
		title := upTo("关于某市政道路改造工程第二标段施工招标投标文件（商务标、技术标及资格审查材料）的电子签署确认，", 200)
		if len(title) < 195 {
			t.Fatalf("the title is %d bytes", len(title))
		}
		s := newSign(t, title)
		p.visit(s.QR.Payload)
		p.waitView("session")
		foldedTitle(t, "zh-CN", title, "展开全部", "收起", "long-title")
		p.tap("reject")
		p.waitView("rejected")
	})

	step(t, p, "a long English title is folded to two lines", func(t *testing.T) {
		title := upTo("Electronic signature of the tender documents for lot 2 of the municipal road reconstruction works: the commercial bid, the technical bid and the qualification review materials, as filed on 5 December 2026", 200)
		if len(title) < 190 {
			t.Fatalf("the title is %d bytes", len(title))
		}
		s := newSign(t, title)
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en'`, "the English session screen")
		foldedTitle(t, "en", title, "Show all", "Show less", "long-title-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese session screen")
		p.tap("reject")
		p.waitView("rejected")
	})

	p.clean(phoneProblems)
}

// narrowSigner is a new world with a user enrolled (with certificates) on a
// 320 px phone whose screenshots are named after shots, and sign, which
// has the portal 招标平台 (https://bid.example) ask that user to sign
// docs (a short text when none are given) under title and summary.
func narrowSigner(t *testing.T, name, shots string) (*handset, func(t *testing.T, title, summary string, docs ...portal.Document) *portal.Session) {
	w := newWorld(t, false)
	u := w.newUser(t, name)
	p := w.newNarrowPhone(t, shots, "zh-CN,zh;q=0.9")
	step(t, p, "enroll with certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})
	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	return p, func(t *testing.T, title, summary string, docs ...portal.Document) *portal.Session {
		t.Helper()
		if len(docs) == 0 {
			docs = []portal.Document{{Name: "bid.txt", Data: []byte("投标总价 1,000,000 元")}}
		}
		s, err := pc.CreateSession(w.ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display:   portal.Display{Title: title, Summary: summary},
			Documents: docs})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// pageBox is the top and height of p's element data-t=name in CSS pixels
// (page coordinates).
func pageBox(p *handset, name string) (top, height float64) {
	r := eval[[]float64](p.tab, `(function () { var r = document.querySelector(`+jsString(sel(name))+`).getBoundingClientRect(); return [r.top + window.scrollY, r.height]; })()`)
	return r[0], r[1]
}
