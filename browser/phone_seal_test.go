package browser_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPhoneSeal: the phone web app handles a seal session. The user holds
// two seals (公章 and 法人章) bound to their certificates; the demo's "盖章"
// is scanned with the camera; the phone shows the PDF's name, its page
// count and where the seal goes, and the two seals with their images; the
// user chooses the legal representative's seal and the RSA certificate,
// confirms with the PIN, and the desktop offers the sealed PDF, which
// carries that seal and which poppler's pdfsig calls valid.
func TestPhoneSeal(t *testing.T) {
	t.Parallel() // its own world and tab; the camera step holds cameraMu
	w := newWorld(t, true)
	u := w.newUser(t, "王五")
	p := w.newPhone(t, "zh-seal", "zh-CN,zh;q=0.9")
	ctx := func() context.Context { return w.ctx() }

	var rsaCred string
	step(t, p, "enroll, then an RSA and an SM2 signing certificate", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		for _, iss := range []string{"rsa", "sm2"} {
			p.tap("tab-certs")
			p.waitView("certs")
			p.tap("request-new")
			p.waitView("request-cert")
			p.center("issuer-" + iss)
			p.tap("issuer-" + iss)
			p.wait(`document.querySelector('[data-t=issuer-`+iss+`]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-encrypt]').getAttribute('aria-checked') === 'false'`, "a signing certificate of "+iss)
			p.tap("request")
			p.enterPIN(pinA)
			p.waitView("certs")
			p.wait(`document.querySelector('[data-t=cert][data-alg=`+strings.ToUpper(iss)+`][data-state=active]') !== null`, "the certificate of "+iss)
		}
		creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id, IssuerID: "rsa"})
		if err != nil || len(creds) != 1 || creds[0].State != "active" || creds[0].Purpose != "sign" {
			t.Fatalf("RSA credentials %+v %v", creds, err)
		}
		rsaCred = creds[0].ID
	})

	app := w.addApp("合同门户", "https://contract.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://contract.example"}
	step(t, p, "no seal yet: the phone says so and cannot confirm", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal,
			Documents: []portal.Document{{Name: "a.pdf", PDF: seal.TextPDF([][]string{{"A"}}), Placements: []portal.Placement{{Page: 1, XMM: 50, YMM: 50}}}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		if got := p.txt("no-seal"); !strings.Contains(got, "没有可用于此请求的有效印章") {
			t.Errorf("no-seal notice %q", got)
		}
		code := `[data-t=code-choice][data-code="` + s.Code + `"]`
		p.center(code)
		p.tap(code)
		if !eval[bool](p.tab, `document.querySelector('[data-t=confirm]').disabled`) {
			t.Error("confirm is enabled without a seal")
		}
		p.tap("reject")
		p.waitView("rejected")
		if got, err := pc.GetSession(ctx(), s.ID); err != nil || got.State != portal.StateRejected {
			t.Fatalf("after reject the session is %+v %v", got, err)
		}
	})

	// The operator makes the user two seals.
	official, err := w.operator().AddSeal(ctx(), operator.SealRequest{Owner: u.id, Name: "示例建设有限公司 公章", Kind: "official",
		ImagePNG: sealPNG(t, false), WidthMM: 40, HeightMM: 40, Issuer: "rsa"})
	if err != nil {
		t.Fatal(err)
	}
	legal, err := w.operator().AddSeal(ctx(), operator.SealRequest{Owner: u.id, Name: "王五 法人章", Kind: "legal_rep",
		ImagePNG: sealPNG(t, true), WidthMM: 20, HeightMM: 20, Issuer: "rsa"})
	if err != nil {
		t.Fatal(err)
	}

	step(t, p, "seal session scanned by the camera: choose a seal, PIN", func(t *testing.T) {
		d := w.newTabIn(browserCtx, deskTimeout, chromedp.WithNewBrowserContext())
		d.t = t
		d.open("/demo/sign")
		d.click("[data-demo=seal-start]")
		d.waitState("waiting")
		sid := d.session()
		qr := d.fetchBytes(eval[string](d, `document.querySelector('[data-ukg=qr]').src`))
		img, err := decodeImage(qr)
		if err != nil {
			t.Fatal(err)
		}
		p.visit("/m/")
		p.waitView("home")
		func() {
			cameraMu.Lock()
			defer cameraMu.Unlock()
			if err := writeQRY4M(cameraFile, img); err != nil {
				t.Fatal(err)
			}
			p.tap("scan")
			p.wait(`document.body.dataset.view === 'session'`, "the camera to read the QR code")
		}()
		p.waitView("session")
		if got := eval[string](p.tab, `document.body.dataset.session`); got != sid {
			t.Fatalf("the camera read session %s, the desktop shows %s", got, sid)
		}
		d.waitState("scanned")

		p.shot("seal-session-top")
		// What is sealed, and where.
		if got := p.txt("kind"); got != "盖章请求" {
			t.Errorf("kind %q", got)
		}
		if got := p.txt("document"); !strings.Contains(got, "bid-2026-017.pdf") || !strings.Contains(got, "共 1 页") {
			t.Errorf("document %q", got)
		}
		places := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=placement]'), function (e) { return e.textContent; })`)
		if len(places) != 1 || places[0] != "第 1 页 · x 150 mm / y 240 mm" {
			t.Errorf("placements %q", places)
		}
		// The two seals, each with its image drawn, none chosen yet:
		// confirming waits for a seal.
		type shown struct {
			ID, Kind, Text string
			W, H           int
			Checked        string
		}
		seals := eval[[]shown](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=seal-choice]'), function (b) {
  var i = b.querySelector('img');
  return {id: b.dataset.seal, kind: b.dataset.kind, text: b.textContent, w: i.complete ? i.naturalWidth : 0, h: i.complete ? i.naturalHeight : 0, checked: b.getAttribute('aria-checked')};
})`)
		if len(seals) != 2 {
			t.Fatalf("seal choices %+v", seals)
		}
		want := map[string]string{official.ID: "示例建设有限公司 公章公章 · 40 × 40 mm", legal.ID: "王五 法人章法人章 · 20 × 20 mm"}
		for _, s := range seals {
			if want[s.ID] != s.Text || s.Checked != "false" {
				t.Errorf("seal choice %+v", s)
			}
		}
		p.wait(`Array.prototype.every.call(document.querySelectorAll('[data-t=seal-img]'), function (i) { return i.complete && i.naturalWidth === 96; })`, "the seal images")
		code := `[data-t=code-choice][data-code="` + d.code() + `"]`
		p.center(code)
		p.tap(code)
		if !eval[bool](p.tab, `document.querySelector('[data-t=confirm]').disabled`) {
			t.Error("confirm is enabled before a seal is chosen")
		}
		p.shot("seal-session")
		p.center(`[data-t=seal-choice][data-seal="` + legal.ID + `"]`)
		p.tap(`[data-t=seal-choice][data-seal="` + legal.ID + `"]`)
		p.wait(`document.querySelector('[data-t=seal-choice][data-seal="`+legal.ID+`"]').getAttribute('aria-checked') === 'true'`, "the chosen seal")
		rsa := `[data-t=cred-choice][data-cred="` + rsaCred + `"]`
		p.center(rsa)
		p.tap(rsa)
		p.wait(`document.querySelector('`+rsa+`').getAttribute('aria-checked') === 'true' && !document.querySelector('[data-t=confirm]').disabled`, "the RSA certificate chosen")
		p.shot("seal-chosen")
		p.axe("seal session")
		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("done")
		p.shot("seal-done")

		// The desktop: the sealed PDF carries the chosen seal.
		d.wait(`document.getElementById('demo').dataset.finished === `+jsString(sid)+
			` && !document.querySelector('[data-demo=seal-result]').hidden`, "the sealed PDF")
		if s := d.text("[data-demo=seal-name]"); !strings.Contains(s, legal.ID) || !strings.Contains(s, "法人章") {
			t.Errorf("seal %q", s)
		}
		pdf := d.fetchBytes(eval[string](d, `document.querySelector('[data-demo=seal-download]').getAttribute('href')`))
		sigs, err := seal.Verify(pdf)
		if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].CoversWholeDocument || sigs[0].Seal == nil || sigs[0].Seal.ID != legal.ID {
			t.Fatalf("sealed PDF: %v %+v", err, sigs)
		}
		pdfsigValid(t, pdf)
		d.clean(nil)
	})
	step(t, p, "the portal names the seal; a keyword and a 骑缝章 (en)", func(t *testing.T) {
		contract := seal.TextPDF([][]string{{"Contract 2026-88", "", "Party A: [SEAL HERE]"}})
		annex := seal.TextPDF([][]string{{"Annex, page 1"}, {"Annex, page 2"}, {"Annex, page 3"}})
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal, Issuer: "rsa", Seal: official.ID,
			Display: portal.Display{Title: "Contract 2026-88"},
			Documents: []portal.Document{
				{Name: "contract.pdf", PDF: contract, Placements: []portal.Placement{{Keyword: "[SEAL HERE]"}}},
				{Name: "annex.pdf", PDF: annex, Placements: []portal.Placement{{Page: 3, XMM: 100, YMM: 200.5}}, Straddle: &portal.Straddle{YMM: 150}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en' && document.querySelector('[data-t=kind]').textContent === 'Seal request'`, "English")
		docs := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=document]'), function (e) { return e.textContent; })`)
		if len(docs) != 2 || !strings.Contains(docs[0], "contract.pdf") || !strings.Contains(docs[0], "1 page ·") ||
			!strings.Contains(docs[0], "at the text “[SEAL HERE]”") || !strings.Contains(docs[1], "annex.pdf") || !strings.Contains(docs[1], "3 pages") ||
			!strings.Contains(docs[1], "page 3 · x 100 mm / y 200.5 mm") || !strings.Contains(docs[1], "right edges of pages 1–3, 150 mm from the top") {
			t.Errorf("documents %q", docs)
		}
		// What the gateway read: the annex's seal lands far from any
		// text, and its straddle seal is said beside the count.
		read := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=ft-doc]'), function (e) {
  var c = e.cloneNode(true);
  Array.prototype.forEach.call(c.querySelectorAll('details'), function (x) { x.remove(); });
  return c.textContent;
})`)
		if len(read) != 2 || !strings.Contains(read[0], "Contract 2026-88") || !strings.Contains(read[0], "Party A: [SEAL HERE]") ||
			read[1] != "annex.pdf3 pages · 1 seal · and a straddle sealStart of page 1Annex, page 1Seal 1: page 3 · x 100 / y 200.5 mmNo text near the seal; the nearest is about 187 mm away:Annex, page 3" {
			t.Errorf("read from the files %q", read)
		}
		if p.has("seal-choice") || eval[string](p.tab, `document.querySelector('[data-t=seal]').dataset.seal`) != official.ID {
			t.Error("the portal's seal is not the one shown")
		}
		if got := p.txt("seal"); got != "示例建设有限公司 公章Official seal · 40 × 40 mm" {
			t.Errorf("seal %q", got)
		}
		p.wait(`document.querySelector('[data-t=seal] img').complete && document.querySelector('[data-t=seal] img').naturalWidth === 96`, "the seal image")
		if got := p.txt("credential"); !strings.Contains(got, "RSA") {
			t.Errorf("credential %q", got)
		}
		// The language switch rebuilt the screen: the action bar follows,
		// and the countdown still runs.
		if got := p.txt("confirm"); got != "Confirm" {
			t.Errorf("confirm button %q after the switch to English", got)
		}
		left := eval[string](p.tab, `document.querySelector('[data-t=countdown]').dataset.remaining`)
		p.wait(`document.querySelector('[data-t=countdown]').dataset.remaining !== `+jsString(left), "the countdown to go on")
		p.center("seal")
		p.shot("seal-named-en")
		code := `[data-t=code-choice][data-code="` + s.Code + `"]`
		p.center(code)
		p.tap(code)
		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("done")
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Seal()
		if err != nil || len(res.Documents) != 2 {
			t.Fatalf("seal result %+v %v", res, err)
		}
		for _, doc := range res.Documents {
			sigs, err := seal.Verify(doc.PDF)
			if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].CoversWholeDocument || sigs[0].Seal == nil || sigs[0].Seal.ID != official.ID {
				t.Fatalf("%s: %v %+v", doc.Name, err, sigs)
			}
			pdfsigValid(t, doc.PDF)
		}
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}

// sealPNG draws a red seal on a transparent 96×96 square: a ring with a
// dot (round) or a frame with a bar (square, a person's seal).
func sealPNG(t *testing.T, square bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 96, 96))
	red := color.NRGBA{R: 220, G: 20, B: 20, A: 255}
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			d := (x-48)*(x-48) + (y-48)*(y-48)
			in := d < 46*46 && d > 39*39 || d < 12*12
			if square {
				edge := x < 8 || x >= 88 || y < 8 || y >= 88
				in = edge || (x >= 40 && x < 56 && y >= 20 && y < 76)
			}
			if in {
				img.SetNRGBA(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pdfsigValid has poppler's pdfsig (a checker we did not write) check pdf:
// a valid signature over the whole document.
func pdfsigValid(t *testing.T, pdf []byte) {
	t.Helper()
	pdfsig, err := exec.LookPath("pdfsig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdfsig is required when CI=true (apt-get install poppler-utils)")
		}
		t.Skip("pdfsig not installed")
	}
	file := filepath.Join(t.TempDir(), "sealed.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, pdfsig, file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") || !strings.Contains(string(out), "Total document signed") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
}
