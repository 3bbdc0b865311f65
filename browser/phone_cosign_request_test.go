package browser_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneCosignRequestAnswerLost: a phone user requests a two-party
// (cosign) signing certificate; the gateway makes it but its answer is
// lost on the way back. The phone kept the new half aside before sending:
// the next scan finds the credential the gateway made (by the random
// proof commitment the phone sent) and keeps the half for it, and the
// certificate signs. Then an encryption certificate's answer is lost and
// the user simply asks again: the kept half makes the same request
// again, the gateway answers the credential it made (200), nothing twice.
// A third one's answer is lost just before a PIN change in the same page:
// the change settles it first and re-shares it with the others.
func TestPhoneCosignRequestAnswerLost(t *testing.T) {
	const pinNewRequest = "864213"
	t.Parallel()
	w := newWorld(t, false)
	app := w.addApp("协同签名测试门户", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	u := w.newUser(t, "郑十")
	p := w.newPhone(t, "zh-cosign-request", "zh-CN,zh;q=0.9")
	ctx := func() context.Context { return w.ctx() }
	count := func(prefix string) int {
		return eval[int](p.tab, `new Promise(function (resolve, reject) {
  var r = indexedDB.open('ukeygate');
  r.onerror = function () { reject(r.error); };
  r.onsuccess = function () {
    var c = r.result.transaction('kv', 'readonly').objectStore('kv').count(IDBKeyRange.bound('`+prefix+`', '`+prefix+`\uffff'));
    c.onsuccess = function () { resolve(c.result); };
  };
})`)
	}
	seeds := func() int { return count("cosign-seed:/:") }
	kept := func() int { return count("cosign-new:/:") }
	// requestCosign requests a two-party certificate for purpose from
	// home; with lose, the answer to the request is lost.
	pin := pinA
	requestCosign := func(t *testing.T, purpose string, lose bool) {
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		// What is tapped is brought to the middle of the screen, above
		// the action bar (a 320 px phone below).
		p.center("mode-cosign")
		p.tap("mode-cosign")
		p.wait(`document.querySelector('[data-t=mode-cosign]').getAttribute('aria-checked') === 'true'`, "the two-party choice")
		if purpose == "encrypt" {
			p.center("purpose-sign")
			p.tap("purpose-sign")
			p.center("purpose-encrypt")
			p.tap("purpose-encrypt")
			p.wait(`document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'false' &&
  document.querySelector('[data-t=purpose-encrypt]').getAttribute('aria-checked') === 'true'`, "encryption alone")
		}
		if lose {
			stop := p.loseAnswers(t, "*/v1/me/credentials")
			defer stop()
		}
		p.tap("request")
		p.enterPIN(pin)
		if lose {
			p.waitView("request-unsure")
		}
	}
	cosignCreds := func(purpose string) []*operator.Credential {
		creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id})
		if err != nil {
			t.Fatal(err)
		}
		var out []*operator.Credential
		for _, c := range creds {
			if c.Mode == "cosign" && c.Purpose == purpose {
				out = append(out, c)
			}
		}
		return out
	}

	step(t, p, "the request's answer is lost", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		requestCosign(t, "sign", true)
		// Not the network refusal: the request may have gone, nothing
		// is lost, and it can be tried again from here.
		if m := p.message(); !strings.Contains(m, "可能已经送达") || !strings.Contains(m, "什么都没有丢失") || !strings.Contains(m, "重试") {
			t.Errorf("the screen says %q", m)
		}
		if got := p.txt("retry"); got != "重试" {
			t.Errorf("the button says %q", got)
		}
		p.shot("cosign-request-lost")
		p.axe("cosign-request-lost")
		if c := cosignCreds("sign"); len(c) != 1 || c[0].State != "active" {
			t.Fatalf("the gateway holds %+v, want the one credential it made", c)
		}
		if n, k := seeds(), kept(); n != 0 || k != 1 {
			t.Errorf("%d seeds and %d kept aside, want 0 and 1", n, k) // the signature below tells what it costs
		}
	})

	step(t, p, "the next scan settles it and the certificate signs", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: portal.FormatRaw,
			Display: portal.Display{Title: "投标文件签名", Summary: "第 10 标段"}, Documents: []portal.Document{{Name: "bid-10.txt", Data: []byte("投标总价 1000 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		if n, k := seeds(), kept(); n != 1 || k != 0 {
			t.Fatalf("after the scan %d seeds and %d kept aside, want 1 and 0", n, k)
		}
		p.pickCode(s.Code)
		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("done")
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Sign()
		if err != nil || len(res.Documents) != 1 || !strings.HasPrefix(res.CertificatePEM, cosignCreds("sign")[0].CertificatePEM) {
			t.Fatalf("sign result %+v %v", res, err)
		}
		checkSM2Signature(t, res.CertificatePEM, []byte("投标总价 1000 元"), res.Documents[0].Signature)
	})

	step(t, p, "asked again after a lost answer: the same credential", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("home")
		requestCosign(t, "encrypt", true)
		if n, k := seeds(), kept(); n != 1 || k != 1 {
			t.Fatalf("%d seeds and %d kept aside, want 1 and 1", n, k)
		}
		// Home, and the same request again (no restart in between: the
		// kept half makes the request again).
		p.tap("done")
		p.waitView("home")
		requestCosign(t, "encrypt", false)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cosign-chip]').length === 2`, "two two-party certificates")
		if c := cosignCreds("encrypt"); len(c) != 1 || c[0].State != "active" {
			t.Fatalf("the gateway holds %+v, want one encryption credential", c)
		}
		if n, k := seeds(), kept(); n != 2 || k != 0 {
			t.Fatalf("%d seeds and %d kept aside, want 2 and 0", n, k)
		}
	})
	step(t, p, "a PIN change right after a lost answer re-shares that credential too", func(t *testing.T) {
		// The encryption slot freed, a new one whose answer is lost, and
		// the PIN changed in the same page: the kept half is settled
		// first, so the change carries its re-share (the gateway refuses
		// a change that leaves one of the user's cosign credentials out).
		if _, err := w.operator().RevokeCredential(ctx(), cosignCreds("encrypt")[0].ID, "superseded"); err != nil {
			t.Fatal(err)
		}
		p.visit("/m/")
		p.waitView("home")
		requestCosign(t, "encrypt", true)
		if n, k := seeds(), kept(); n != 2 || k != 1 {
			t.Fatalf("%d seeds and %d kept aside, want 2 and 1", n, k)
		}
		p.tap("done")
		p.waitView("home")
		p.tap("tile-pin")
		p.waitView("change-pin")
		p.enterPIN(pinA)
		p.waitSheet()
		p.enterPIN(pinNewRequest)
		p.waitSheet()
		p.enterPIN(pinNewRequest)
		p.waitView("pin-changed")
		pin = pinNewRequest
		if n, k := seeds(), kept(); n != 3 || k != 0 {
			t.Fatalf("after the change %d seeds and %d kept aside, want 3 and 0", n, k)
		}
	})

	step(t, p, "the certificate signs with the new PIN", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: portal.FormatRaw,
			Display: portal.Display{Title: "投标文件签名", Summary: "第 11 标段"}, Documents: []portal.Document{{Name: "bid-11.txt", Data: []byte("投标总价 1100 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.pickCode(s.Code)
		p.tap("confirm")
		p.enterPIN(pinNewRequest)
		p.waitView("done")
		if ev, err := pc.Wait(ctx(), s); err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
	})
	// On a 320 px phone: an answer lost, in Chinese; home; the same
	// request's answer lost again, in English; then tried again from that
	// screen, the answers coming through.
	step(t, p, "a lost answer tried again from its screen, on a narrow phone", func(t *testing.T) {
		for _, c := range cosignCreds("encrypt") {
			if c.State == "active" {
				if _, err := w.operator().RevokeCredential(ctx(), c.ID, "superseded"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(320, 640,
			chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
			t.Fatal(err)
		}
		p.visit("/m/")
		p.waitView("home")
		before := seeds()
		requestCosign(t, "encrypt", true)
		if m := p.message(); !strings.Contains(m, "可能已经送达") || !strings.Contains(m, "什么都没有丢失") {
			t.Errorf("the screen says %q", m)
		}
		if wide := eval[bool](p.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the screen is wider than the 320 px phone")
		}
		p.shot("cosign-request-lost-320")
		p.tap("done")
		p.waitView("home")
		p.tap("tab-me")
		p.waitView("me")
		p.switchLang("lang", "en")
		p.wait(`document.documentElement.lang === 'en'`, "the English app")
		requestCosign(t, "encrypt", true)
		if m := p.message(); !strings.Contains(m, "may or may not have reached") || !strings.Contains(m, "Nothing is lost") || !strings.Contains(m, "Try again") {
			t.Errorf("the screen says %q", m)
		}
		if wide := eval[bool](p.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the screen is wider than the 320 px phone")
		}
		p.shot("cosign-request-lost-en")
		p.axe("cosign-request-lost-en")
		if n, k := seeds(), kept(); n != before || k != 1 {
			t.Fatalf("%d seeds and %d kept aside, want %d and 1", n, k, before)
		}
		// The answers come through again: the same request, the
		// credential the gateway made, the usual way on.
		p.tap("retry")
		p.enterPIN(pin)
		p.waitView("certs")
		p.shot("cosign-request-retried-en")
		active := 0
		for _, c := range cosignCreds("encrypt") {
			if c.State == "active" {
				active++
				p.wait(`document.querySelector('[data-t=cert][data-cred=`+jsString(c.ID)+`][data-state=active]') !== null`, "the new certificate listed")
			}
		}
		if active != 1 {
			t.Errorf("%d active encryption credentials, want the one made", active)
		}
		if n, k := seeds(), kept(); n != before+1 || k != 0 {
			t.Fatalf("%d seeds and %d kept aside, want %d and 0", n, k, before+1)
		}
	})
	// A usual (not two-party) request's lost answer: the same screen,
	// without the share; tried again, the gateway's credential_exists
	// for the one it made counts as made.
	step(t, p, "a usual request's lost answer tried again", func(t *testing.T) {
		for _, c := range cosignCreds("sign") {
			if c.State == "active" {
				if _, err := w.operator().RevokeCredential(ctx(), c.ID, "superseded"); err != nil {
					t.Fatal(err)
				}
			}
		}
		p.visit("/m/")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.center("mode-usual")
		p.wait(`document.querySelector('[data-t=mode-usual]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "a usual signing certificate")
		stop := p.loseAnswers(t, "*/v1/me/credentials")
		p.tap("request")
		p.enterPIN(pin)
		p.waitView("request-unsure")
		stop()
		if m := p.message(); !strings.Contains(m, "may or may not have reached") || strings.Contains(m, "share") {
			t.Errorf("the screen says %q", m)
		}
		p.tap("retry")
		p.enterPIN(pin)
		p.waitView("certs")
		creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id, State: "active"})
		if err != nil {
			t.Fatal(err)
		}
		var usual []*operator.Credential
		for _, c := range creds {
			if c.Mode != "cosign" && c.Purpose == "sign" {
				usual = append(usual, c)
			}
		}
		if len(usual) != 1 {
			t.Fatalf("active usual signing credentials %+v, want the one made", usual)
		}
		p.wait(`document.querySelector('[data-t=cert][data-cred=`+jsString(usual[0].ID)+`][data-state=active]') !== null`, "the certificate listed")
	})
	p.clean(func(s string) bool { return phoneProblems(s) || strings.Contains(s, "ERR_CONNECTION_RESET") })
	p.onlyGateway()
}
