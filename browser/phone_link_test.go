package browser_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestPhoneActivationLinkInPlace: an activation link opened while the app
// is already open in the tab only changes the address's hash, which
// loads nothing: the app follows the change as it follows a link opened
// afresh. On the code screen the new link's code fills the field (over a
// code typed or another link's), and leaves the address; on an
// activated phone the link says the phone is already activated.
func TestPhoneActivationLinkInPlace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	u := w.newUser(t, "诸葛十九")
	v := w.newUser(t, "司马二十")
	p := w.newNarrowPhone(t, "narrow-link-in-place", "zh-CN,zh;q=0.9")

	// openInPlace opens link in the tab as the phone's browser opens a
	// link to the page it shows: a navigation within the document.
	openInPlace := func(t *testing.T, link string) {
		t.Helper()
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`window.sameDocument = true`)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(p.ctx, page.Navigate, page.NavigateParams{URL: link}); err != nil {
			t.Fatal(err)
		}
	}
	stillSame := func(t *testing.T) {
		t.Helper()
		if !eval[bool](p.tab, `window.sameDocument === true`) {
			t.Fatal("the page was loaded again: the hash change did not stay in the document")
		}
		if h := eval[string](p.tab, `location.hash`); h != "" {
			t.Errorf("the activation code stays in the address: %q", h)
		}
	}
	codeIs := func(code string) string {
		return `document.body.dataset.view === 'enroll-code' && document.getElementById('code').value.replace(/-/g, '') === ` + jsString(strings.ReplaceAll(code, "-", ""))
	}

	step(t, p, "links opened on the code screen", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		p.tap("activate")
		p.waitView("enroll-code")
		if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID("code"), "ABCDE")); err != nil {
			t.Fatal(err)
		}
		openInPlace(t, u.link)
		p.wait(codeIs(u.code), "the link's code in the field")
		stillSame(t)
		p.shot("code-from-link")
		// Another link, opened in place over the first.
		openInPlace(t, v.link)
		p.wait(codeIs(v.code), "the second link's code in the field")
		stillSame(t)
	})

	step(t, p, "a link opened on the welcome screen", func(t *testing.T) {
		p.tap("back")
		p.waitView("welcome")
		openInPlace(t, u.link)
		p.wait(codeIs(u.code), "the link's code in the field")
		stillSame(t)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.checkDevice(u, "诸葛十九")
	})

	step(t, p, "a link opened on an activated phone", func(t *testing.T) {
		openInPlace(t, v.link)
		p.waitView("already-enrolled")
		stillSame(t)
		if m := p.message(); !strings.Contains(m, "诸葛十九") {
			t.Errorf("the phone says %q", m)
		}
		p.shot("already-enrolled")
	})
	p.clean(phoneProblems)
}
