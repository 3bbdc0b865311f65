package browser_test

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPhoneSignature: a phone user draws a signature with a finger in the
// phone web app (touch strokes synthesized through the DevTools input
// domain, which the page receives as pointer events). While the operator's
// policy forbids drawn signatures the app says so instead of the pad (and
// explains the gateway's refusal when the policy changed while the pad
// was open); once the
// operator allows them (seals.drawn_signatures, server restarted) the
// drawing becomes a personal seal made by the issuer: a trimmed PNG with a
// transparent background, the ink where the finger went.
func TestPhoneSignature(t *testing.T) {
	t.Parallel() // its own world (restarted) and tab
	w := newWorld(t, false)
	u := w.newUser(t, "赵六")
	p := w.newPhone(t, "sig", "zh-CN,zh;q=0.9")

	step(t, p, "enroll with a certificate", func(t *testing.T) {
		p.visit("/m/#activate=" + u.code)
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})

	// stroke draws one finger stroke through pts (CSS pixels relative to
	// the pad's top-left corner).
	strokeOn := func(t *testing.T, p *handset, pts [][2]float64) {
		t.Helper()
		r := eval[[]float64](p.tab, `(function () { var r = document.querySelector('[data-t=sign-pad]').getBoundingClientRect(); return [r.left, r.top]; })()`)
		tp := func(x, y float64) []*input.TouchPoint {
			one, rad, force := 1.0, 2.0, 0.5
			return []*input.TouchPoint{{X: r[0] + x, Y: r[1] + y, ID: &one, RadiusX: &rad, RadiusY: &rad, Force: &force}}
		}
		before := eval[int](p.tab, `+document.querySelector('[data-t=sign-pad]').dataset.strokes || 0`)
		touch := func(typ input.DispatchTouchEventType, pts []*input.TouchPoint) {
			t.Helper()
			if _, err := chromedp.Call(p.ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: pts}); err != nil {
				t.Fatal(err)
			}
		}
		touch(input.DispatchTouchEventTypeTouchStart, tp(pts[0][0], pts[0][1]))
		for _, q := range pts[1:] {
			touch(input.DispatchTouchEventTypeTouchMove, tp(q[0], q[1]))
		}
		touch(input.DispatchTouchEventTypeTouchEnd, []*input.TouchPoint{})
		p.wait(`+document.querySelector('[data-t=sign-pad]').dataset.strokes === `+strconv.Itoa(before+1), "the stroke on the pad")
	}
	stroke := func(t *testing.T, pts [][2]float64) { t.Helper(); strokeOn(t, p, pts) }
	// A signature: a looping line across the pad, then an underline.
	var loop [][2]float64
	for i := 0; i <= 60; i++ {
		a := float64(i) / 60
		loop = append(loop, [2]float64{40 + 260*a, 110 - 50*math.Sin(a*3*math.Pi) + 15*math.Cos(a*9*math.Pi)})
	}
	underline := [][2]float64{{60, 175}, {140, 172}, {220, 170}, {290, 168}}
	draw := func(t *testing.T) {
		p.tap("tab-me")
		p.waitView("me")
		p.tap("signature")
		p.waitView("signature")
		if p.has("[data-t=sign-save]:not([disabled])") {
			t.Error("save is offered before anything is drawn")
		}
		stroke(t, loop)
		stroke(t, underline)
	}

	// While the operator's policy forbids drawn signatures the phone
	// knows it from its certificates list (drawn_signatures) and says so
	// instead of the pad, before anything is drawn: to a user with a
	// signing certificate, and to one without (the policy is the reason
	// that matters), on a 320 px phone in Chinese and English.
	// forbidden checks the screen that takes the pad's place (opened
	// from Me when open).
	forbidden := func(t *testing.T, q *handset, open bool, words ...string) {
		t.Helper()
		if open {
			q.tap("tab-me")
			q.waitView("me")
			q.tap("signature")
		}
		q.waitView("signature-unavailable")
		if got := eval[string](q.tab, `document.querySelector('[data-t=sign-unavailable]').dataset.reason`); got != "disabled" {
			t.Errorf("the reason is %q, want disabled", got)
		}
		if q.has("sign-pad") || q.has("sign-save") || q.has("to-certs") {
			t.Error("the pad, or the way to the certificates, is offered while drawings are forbidden")
		}
		m := q.message()
		for _, word := range words {
			if !strings.Contains(m, word) {
				t.Errorf("the screen says %q, without %q", m, word)
			}
		}
		if wide := eval[bool](q.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the screen is wider than the phone")
		}
		if !eval[bool](q.tab, `(function () { var r = document.querySelector('[data-t=done]').getBoundingClientRect(); return r.bottom <= innerHeight && r.height > 0; })()`) {
			t.Error("the way back is not on the first screen")
		}
	}
	step(t, p, "no pad while the operator forbids it", func(t *testing.T) {
		forbidden(t, p, true, "没有开通手写签名", "证书服务机构")
		p.shot("signature-disabled")
		p.axe("signature-disabled")
		p.tap("done")
		p.waitView("me")

		v := w.newUser(t, "孙八")
		q := w.newNarrowPhone(t, "sig-disabled", "zh-CN,zh;q=0.9")
		q.use(t)
		q.visit(v.link)
		q.enrollOnScreens("", pinA, false, false)
		q.waitView("home")
		forbidden(t, q, true, "没有开通手写签名", "证书服务机构")
		q.shot("signature-disabled-320")
		// Switched on that screen: the same screen, in English.
		q.tap("lang")
		q.wait(`document.documentElement.lang === 'en'`, "the English app")
		forbidden(t, q, false, "has not turned on hand-drawn signatures", "certificate provider")
		q.shot("signature-disabled-320-en")
		q.axe("signature-disabled-en")
		q.tap("done")
		q.waitView("me")
	})

	// The operator allows drawn signatures.
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()

	// The policy changed while the pad was open: the gateway's 403 is
	// the backstop, and the phone says why.
	step(t, p, "refused when forbidden while drawing", func(t *testing.T) {
		draw(t)
		w.ts.Config.Seals.DrawnSignatures = false
		w.ts.Restart()
		p.tap("sign-save")
		p.waitView("refused")
		if e := eval[string](p.tab, `document.body.dataset.error`); e != "drawn_seal_disabled" {
			t.Fatalf("data-error %q", e)
		}
		if m := p.message(); !strings.Contains(m, "不允许使用手写签名") {
			t.Errorf("the refusal says %q", m)
		}
		p.shot("signature-refused")
		p.axe("signature-refused")
		w.ts.Config.Seals.DrawnSignatures = true
		w.ts.Restart()
	})

	// A user without an active signing certificate, on a narrow phone, is
	// told so before drawing, instead of the pad: why (none yet, revoked,
	// still waiting to be issued) and the way to the certificates page.
	// A certificate revoked while the pad is open is the gateway's 409,
	// with the same way on. Nothing is stored.
	step(t, p, "no pad without a signing certificate", func(t *testing.T) {
		v := w.newUser(t, "钱七")
		q := w.newNarrowPhone(t, "sig-nocert", "zh-CN,zh;q=0.9")
		q.use(t)
		q.visit(v.link)
		q.enrollOnScreens("", pinA, false, false)
		q.waitView("home")
		// unavailable opens 手写签名 from Me and checks the screen that
		// takes the pad's place.
		unavailable := func(reason string, words ...string) {
			t.Helper()
			q.tap("tab-me")
			q.waitView("me")
			q.tap("signature")
			q.waitView("signature-unavailable")
			if got := eval[string](q.tab, `document.querySelector('[data-t=sign-unavailable]').dataset.reason`); got != reason {
				t.Errorf("the reason is %q, want %q", got, reason)
			}
			if q.has("sign-pad") || q.has("sign-save") {
				t.Error("the pad is offered without a signing certificate")
			}
			m := q.message()
			for _, word := range words {
				if !strings.Contains(m, word) {
					t.Errorf("the screen says %q, without %q", m, word)
				}
			}
			if wide := eval[bool](q.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
				t.Error("the screen is wider than the 320 px phone")
			}
			// The way on, on the first screen above nothing.
			if !eval[bool](q.tab, `(function () { var r = document.querySelector('[data-t=to-certs]').getBoundingClientRect(); return r.bottom <= innerHeight && r.height > 0; })()`) {
				t.Error("the button to the certificates page is not on the first screen")
			}
		}
		unavailable("none", "签名证书", "还没有", "申请")
		q.shot("signature-none")
		q.axe("signature-none")
		q.tap("to-certs")
		q.waitView("certs")
		// In English, the same.
		q.tap("tab-me")
		q.waitView("me")
		q.switchLang("lang", "en")
		q.wait(`document.documentElement.lang === 'en'`, "the English app")
		unavailable("none", "signing certificate", "none yet", "Certificates page")
		q.shot("signature-none-en")

		// A signing certificate: the pad. Revoked while drawing, the
		// gateway refuses the drawing (409) and the phone says why.
		q.tap("to-certs")
		q.waitView("certs")
		q.tap("request-new")
		q.waitView("request-cert")
		q.wait(`document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "a signing certificate")
		q.tap("request")
		q.enterPIN(pinA)
		q.waitView("certs")
		q.wait(`document.querySelector('[data-t=cert][data-state=active][data-purpose=sign]') !== null`, "the signing certificate")
		q.tap("tab-me")
		q.waitView("me")
		q.tap("signature")
		q.waitView("signature")
		var narrow [][2]float64
		for _, pt := range loop {
			narrow = append(narrow, [2]float64{pt[0] * 0.8, pt[1]})
		}
		strokeOn(t, q, narrow)
		creds, err := w.operator().Credentials(w.ctx(), operator.CredentialFilter{UserID: v.id})
		if err != nil || len(creds) != 1 {
			t.Fatalf("credentials %+v %v", creds, err)
		}
		if _, err := w.operator().RevokeCredential(w.ctx(), creds[0].ID, "keyCompromise"); err != nil {
			t.Fatal(err)
		}
		q.tap("sign-save")
		q.waitView("refused")
		if e := eval[string](q.tab, `document.body.dataset.error`); e != "no_signing_credential" {
			t.Fatalf("data-error %q", e)
		}
		if m := q.message(); !strings.Contains(m, "signing certificate") || !strings.Contains(m, "Certificates page") {
			t.Errorf("the English refusal says %q", m)
		}
		if wide := eval[bool](q.tab, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); wide {
			t.Error("the English refusal is wider than the 320 px screen")
		}
		q.shot("signature-no-signing-credential-en")
		q.axe("signature-no-signing-credential")
		q.tap("done")
		q.waitView("me")
		unavailable("revoked", "signing certificate", "revoked", "Certificates page")
		q.shot("signature-revoked-en")
		q.tap("back")
		q.waitView("me")
		q.switchLang("lang", "zh-CN")
		q.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese app")
		unavailable("revoked", "签名证书", "已被吊销", "重新申请")
		q.shot("signature-revoked")
		q.tap("to-certs")
		q.waitView("certs")

		// A signing certificate requested at an external CA waits to be
		// issued: the phone says so.
		dir := t.TempDir()
		testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", "ca.key")
		testkit.RunOpenSSL(t, dir, "req", "-x509", "-key", "ca.key", "-sm3", "-sigopt", "distid:1234567812345678", "-out", "ca.pem",
			"-days", "30", "-subj", "/CN=Browser External SM2 CA/O=ukeygate tests",
			"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
		caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.operator().AddIssuer(w.ctx(), operator.IssuerRequest{ID: "ext", Name: "外部 CA", Mode: "external", ChainPEM: string(caPEM)}); err != nil {
			t.Fatal(err)
		}
		q.visit("/m/")
		q.waitView("home")
		q.tap("tab-certs")
		q.waitView("certs")
		q.tap("request-new")
		q.waitView("request-cert")
		q.center("issuer-ext")
		q.tap("issuer-ext")
		q.wait(`document.querySelector('[data-t=issuer-ext]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "a signing certificate at the external CA")
		q.tap("request")
		q.enterPIN(pinA)
		q.waitView("certs")
		q.wait(`document.querySelector('[data-t=cert][data-state=pending][data-purpose=sign]') !== null`, "the pending signing certificate")
		// The certificates page lists what can be used first: the one
		// waiting to be issued before the revoked one.
		if order := eval[string](q.tab, `Array.from(document.querySelectorAll('[data-t=cert][data-purpose=sign]')).map(function (e) { return e.dataset.state; }).join(' ')`); order != "pending revoked" {
			t.Errorf("signing certificates listed as %q, want pending then revoked", order)
		}
		q.shot("certs-pending-revoked")
		unavailable("pending", "签名证书", "等待签发")
		q.shot("signature-pending")
		q.tap("back")
		q.waitView("me")
		q.switchLang("lang", "en")
		q.wait(`document.documentElement.lang === 'en'`, "the English app")
		unavailable("pending", "signing certificate", "waiting to be issued")
		q.shot("signature-pending-en")
		if seals, err := w.operator().Seals(w.ctx(), v.id); err != nil || len(seals) != 0 {
			t.Fatalf("seals after the refusals: %d %v", len(seals), err)
		}
		q.tap("to-certs")
		q.waitView("certs")
	})

	step(t, p, "drawn, undone, saved", func(t *testing.T) {
		p.tap("done")
		draw(t)
		stroke(t, [][2]float64{{320, 30}, {330, 200}}) // a slip of the finger …
		p.tap("sign-undo")                             // … taken back
		p.wait(`document.querySelector('[data-t=sign-pad]').dataset.strokes === '2'`, "the undo")
		p.shot("signature-drawn")
		p.axe("signature")
		p.tap("sign-save")
		p.waitView("signature-saved")
		p.wait(`document.querySelector('[data-t=sign-saved]').complete && document.querySelector('[data-t=sign-saved]').naturalWidth > 0`, "the saved picture")
		p.shot("signature-saved")
	})

	step(t, p, "a personal seal from the issuer", func(t *testing.T) {
		seals, err := w.operator().Seals(w.ctx(), u.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(seals) != 1 || seals[0].Kind != "personal" || seals[0].State != "active" || seals[0].Issuer != "sm2" || !strings.Contains(seals[0].Name, "赵六") {
			t.Fatalf("seals %+v", seals)
		}
		if !strings.Contains(p.message(), seals[0].ID) {
			t.Errorf("the app says %q, not the seal id %s", p.message(), seals[0].ID)
		}
		ses, err := seal.Parse(seals[0].SESSeal)
		if err != nil || ses.Verify() != nil {
			t.Fatalf("SES_Seal: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(ses.PNG))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		// Trimmed: the ink reaches within a few pixels of every edge; the
		// background is transparent; the picture is as wide and high as
		// what was drawn (about 260×140 CSS pixels, drawn at 2×).
		x0, y0, x1, y1, ink := b.Max.X, b.Max.Y, -1, -1, 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				if a>>8 < 128 {
					continue
				}
				if r>>8 > 90 || g>>8 > 90 || bl>>8 > 120 {
					t.Fatalf("pixel %d,%d is not ink: %d %d %d", x, y, r>>8, g>>8, bl>>8)
				}
				ink++
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
		if _, _, _, a := img.At(b.Min.X, b.Min.Y).RGBA(); a != 0 {
			t.Error("the corner is not transparent")
		}
		const edge = 24
		if x0 > edge || y0 > edge || b.Max.X-1-x1 > edge || b.Max.Y-1-y1 > edge {
			t.Errorf("not trimmed: ink in %d,%d..%d,%d of %v", x0, y0, x1, y1, b)
		}
		if w, h := b.Dx(), b.Dy(); w < 2*240 || w > 2*300 || h < 2*120 || h > 2*180 || ink < 2000 {
			t.Errorf("picture %d×%d with %d ink pixels", w, h, ink)
		}
		if ratio := seals[0].HeightMM / seals[0].WidthMM; math.Abs(ratio-float64(b.Dy())/float64(b.Dx())) > 0.02 || seals[0].WidthMM != 40 {
			t.Errorf("printed %g×%g mm for %v", seals[0].WidthMM, seals[0].HeightMM, b)
		}
		p.onlyGateway()
	})

	// The cap counts active seals: drawing again replaces the drawing;
	// once the operator has revoked it and given the user 32 other seals,
	// a drawing is refused with a screen that says why and what to do.
	step(t, p, "drawn again, then refused at the cap of active seals", func(t *testing.T) {
		op := w.operator()
		p.tap("done")
		draw(t)
		p.tap("sign-save")
		p.waitView("signature-saved")
		seals, err := op.Seals(w.ctx(), u.id)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, sl := range seals {
			if sl.State == "active" {
				active++
				if _, err := op.RevokeSeal(w.ctx(), sl.ID, "superseded"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(seals) != 2 || active != 1 {
			t.Fatalf("after drawing again: %d seals, %d active", len(seals), active)
		}
		for i := range 32 {
			if _, err := op.AddSeal(w.ctx(), operator.SealRequest{Owner: u.id, Name: "合同章 " + strconv.Itoa(i+1), Kind: "contract",
				ImagePNG: sealPNG(t, false), WidthMM: 40, HeightMM: 40, Issuer: "sm2"}); err != nil {
				t.Fatalf("seal %d: %v", i+1, err)
			}
		}
		p.tap("done")
		draw(t)
		p.tap("sign-save")
		p.waitView("refused")
		if e := eval[string](p.tab, `document.body.dataset.error`); e != "seal_limit" {
			t.Fatalf("data-error %q", e)
		}
		if m := p.message(); !strings.Contains(m, "32") || !strings.Contains(m, "撤销") {
			t.Errorf("the refusal says %q", m)
		}
		p.shot("signature-seal-limit")
		p.axe("signature-seal-limit")
	})
}
