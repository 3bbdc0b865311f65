package browser_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneCodesFirstScreen: the matching codes are the user's check
// that the request is the one on their own computer (anti-phishing). On
// a 320×640 phone, for a sign request of several documents with long
// names under a title as long as the gateway allows, all three codes are
// on the first screen, above the action bar, without scrolling, in
// Chinese and in English; the documents are all still listed below.
func TestPhoneCodesFirstScreen(t *testing.T) {
	t.Parallel()
	p, sign := narrowSigner(t, "韩十三", "narrow-codes")
	var title strings.Builder
	for _, r := range strings.Repeat("关于某市政道路改造工程第二标段施工招标投标文件的电子签署确认，", 10) {
		if title.Len()+len(string(r)) > 200 {
			break
		}
		title.WriteRune(r)
	}
	var docs []portal.Document
	for i, name := range []string{"商务标", "技术标", "资格审查材料", "投标保证金缴纳凭证", "法定代表人授权委托书"} {
		docs = append(docs, portal.Document{
			Name: fmt.Sprintf("某市政道路改造工程第二标段-%s-第%d册（盖章版）.pdf", name, i+1),
			Data: []byte(fmt.Sprintf("第 %d 册 %s", i+1, name)),
		})
	}
	// onFirstScreen checks the codes' boxes against the visible screen
	// (the page not scrolled) and the action bar.
	onFirstScreen := func(t *testing.T, lang string) {
		t.Helper()
		p.wait(`document.documentElement.lang === `+jsString(lang)+` && document.querySelectorAll('[data-t=code-choice]').length === 3`, "the codes")
		if y := eval[float64](p.tab, `window.scrollY`); y != 0 {
			t.Fatalf("the screen opens scrolled by %.0f px", y)
		}
		if n := eval[int](p.tab, `document.querySelectorAll('[data-t=document]').length`); n != len(docs) {
			t.Errorf("%d documents listed, want %d", n, len(docs))
		}
		bar := eval[float64](p.tab, `document.querySelector('.actions').getBoundingClientRect().top`)
		if bar <= 0 || bar > 640 {
			t.Fatalf("the action bar starts at %.0f px", bar)
		}
		boxes := eval[[][]float64](p.tab, `Array.from(document.querySelectorAll('[data-t=code-choice]')).map(function (e) {
  var r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right]; })`)
		for i, b := range boxes {
			if b[0] < 0 || b[1] > bar || b[2] < 0 || b[3] > 320 || b[1]-b[0] < 24 {
				t.Errorf("code %d at top %.0f bottom %.0f left %.0f right %.0f, not within the first screen (0–%.0f px above the action bar, 320 px wide)", i, b[0], b[1], b[2], b[3], bar)
			}
		}
		// The gateway's words stay above the codes: who asks, from
		// which computer.
		if !eval[bool](p.tab, `document.querySelector('[data-t=desktop]').getBoundingClientRect().bottom <= document.querySelector('[data-t=code-choice]').getBoundingClientRect().top`) {
			t.Error("the computer's line is not above the codes")
		}
		if wide := eval[bool](p.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the screen is wider than the 320 px phone")
		}
	}

	step(t, p, "several documents under a long title", func(t *testing.T) {
		s := sign(t, title.String(), "第 2 标段，共五册", docs...)
		p.visit(s.QR.Payload)
		p.waitView("session")
		onFirstScreen(t, "zh-CN")
		p.shot("codes-first-screen")
		p.axe("the codes on the first screen at 320 px")
		// The code the computer shows is picked on the first screen,
		// and stays picked in English.
		p.tap(`[data-t=code-choice][data-code="` + s.Code + `"]`)
		p.tap("lang")
		onFirstScreen(t, "en")
		if got := eval[string](p.tab, `document.querySelector('[data-t=code-choice][data-code="`+s.Code+`"]').getAttribute('aria-checked')`); got != "true" {
			t.Errorf("after the language switch the picked code shows aria-checked %q", got)
		}
		p.shot("codes-first-screen-en")
		p.center("document")
		p.shot("codes-documents-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese session screen")
		p.tap("reject")
		p.waitView("rejected")
	})
	p.clean(phoneProblems)
}
