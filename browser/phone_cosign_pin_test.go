package browser_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneCosignPINAnswerLost: a phone user with a two-party (cosign)
// signing certificate changes the PIN; the gateway takes the change (and
// re-shares its half of the key) but its answer is lost on the way back.
// The phone must not be left with the old half only, which no longer
// fits the gateway's: the app says it cannot tell whether the PIN
// changed, keeps the new half aside, and "核对" asks the history, says
// the PIN changed and keeps the new half; the certificate then signs
// with the new PIN. A change the gateway refuses (a wrong current PIN)
// leaves nothing aside.
func TestPhoneCosignPINAnswerLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	app := w.addApp("协同签名测试门户", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	u := w.newUser(t, "吴九")
	p := w.newPhone(t, "zh-cosign-pin", "zh-CN,zh;q=0.9")
	ctx := func() context.Context { return w.ctx() }
	pending := func() int {
		return eval[int](p.tab, `new Promise(function (resolve, reject) {
  var r = indexedDB.open('ukeygate');
  r.onerror = function () { reject(r.error); };
  r.onsuccess = function () {
    var c = r.result.transaction('kv', 'readonly').objectStore('kv').count(IDBKeyRange.bound('cosign-pending:/:', 'cosign-pending:/:\uffff'));
    c.onsuccess = function () { resolve(c.result); };
  };
})`)
	}
	changePIN := func(old, nw string) {
		p.visit("/m/")
		p.waitView("home")
		p.tap("tile-pin")
		p.waitView("change-pin")
		p.enterPIN(old)
		p.waitSheet()
		p.enterPIN(nw)
		p.waitSheet()
		p.enterPIN(nw)
	}

	step(t, p, "a two-party signing certificate", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.tap("mode-cosign")
		p.wait(`document.querySelector('[data-t=mode-cosign]').getAttribute('aria-checked') === 'true'`, "the two-party choice")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cosign-chip]').length === 1`, "a two-party certificate")
	})

	step(t, p, "a refused change keeps nothing aside", func(t *testing.T) {
		changePIN("999999", "135790")
		if got := p.pinMessage(); got == "" {
			t.Fatal("no message after a wrong current PIN")
		}
		if n := pending(); n != 0 {
			t.Errorf("%d seeds kept aside after a refused change", n)
		}
	})

	const pinNew = "864209"
	step(t, p, "the change's answer is lost", func(t *testing.T) {
		stop := p.loseAnswers(t, "*/v1/me/pin")
		changePIN(pinA, pinNew)
		p.waitView("pin-unsure")
		stop()
		if n := pending(); n != 1 {
			t.Errorf("%d seeds kept aside, want 1", n)
		}
		p.shot("pin-unsure")
		p.axe("the PIN-change unsure screen")
		p.tap("pin-check")
		p.waitView("pin-changed")
		if n := pending(); n != 0 {
			t.Errorf("%d seeds still aside after the check", n)
		}
		p.shot("pin-checked")
	})

	step(t, p, "the certificate signs with the new PIN", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: portal.FormatRaw,
			Display: portal.Display{Title: "投标文件签名", Summary: "第 9 标段"}, Documents: []portal.Document{{Name: "bid-9.txt", Data: []byte("投标总价 900 元")}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.pickCode(s.Code)
		p.tap("confirm")
		p.enterPIN(pinNew)
		p.waitView("done")
		ev, err := pc.Wait(ctx(), s)
		if err != nil || ev.State != "completed" {
			t.Fatalf("the portal sees %+v, %v", ev, err)
		}
	})
	p.clean(func(s string) bool { return phoneProblems(s) || strings.Contains(s, "ERR_CONNECTION_RESET") })
	p.onlyGateway()
}
