package browser_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneSecondTab: the QR code opened in a second tab of the phone
// that scanned it (the phone's browser opened the link twice, or the
// first tab is buried): the second tab shows the same session, with the
// same three matching codes, and confirms it; another phone is still told
// the code was scanned by another phone.
func TestPhoneSecondTab(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	app := w.addApp("招标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	u := w.newUser(t, "钱七")
	p := w.newPhone(t, "zh-first-tab", "zh-CN,zh;q=0.9")
	step(t, p, "enroll with certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})
	o := w.newUser(t, "孙九")
	other := w.newPhone(t, "zh-other-phone", "zh-CN,zh;q=0.9")
	step(t, other, "another phone enrolls", func(t *testing.T) {
		other.visit(o.link)
		other.enrollOnScreens("", pinA, true, false)
		other.waitView("home")
	})

	choices := func(h *handset) string {
		return eval[string](h.tab, `Array.from(document.querySelectorAll('[data-t=code-choice]')).map(function (e) { return e.dataset.code; }).join(',')`)
	}
	step(t, p, "the same QR code in a second tab", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display:   portal.Display{Title: "签署投标文件", Summary: "第 3 标段"},
			Documents: []portal.Document{{Name: "bid-3.txt", Data: []byte("投标总价 3,000 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		first := choices(p)
		if !strings.Contains(first, s.Code) || strings.Count(first, ",") != 2 {
			t.Fatalf("the first tab offers %q for code %s", first, s.Code)
		}
		q := p.sameBrowser(t, "zh-second-tab", "zh-CN,zh;q=0.9")
		q.visit(s.QR.Payload)
		q.wait(`['session', 'refused'].includes(document.body.dataset.view) && !document.body.dataset.busy`, "the second tab's answer")
		if v := eval[string](q.tab, `document.body.dataset.view + ' ' + (document.body.dataset.error || '')`); v != "session " {
			t.Fatalf("the second tab shows %q", v)
		}
		if got := choices(q); got != first {
			t.Errorf("the second tab offers %q, the first %q", got, first)
		}
		q.shot("second-tab")

		// Another phone is refused.
		other.visit(s.QR.Payload)
		other.waitView("refused")
		if e := eval[string](other.tab, `document.body.dataset.error`); e != "already_scanned" {
			t.Errorf("another phone: data-error %q", e)
		}
		if got := other.message(); !strings.Contains(got, "另一部手机") {
			t.Errorf("another phone is told %q", got)
		}
		other.shot("scanned-by-another-phone")

		q.confirmWith(s.Code, pinA)
		q.waitView("done")
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
		q.clean(phoneProblems)
		q.onlyGateway()
	})
	p.clean(phoneProblems)
	other.clean(phoneProblems)
}
