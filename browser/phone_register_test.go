package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// TestPhoneRegistration: self-registration and renewal in the phone web
// app, against one gateway.
//
//   - a person registers (a checksum hint while typing, the policy and its
//     consent, submit enabled only once ticked), the status survives a
//     reload, the operator approves through the RA API, the status says
//     so, and the phone enrolls with the activation code and gets its
//     certificates like any operator-created user;
//   - an organisation registers with a licence picture made here (a file
//     that is not an image is refused before upload, the PNG previewed),
//     the server's credit-code checksum error is shown beside the field,
//     the operator finds the very picture in the queue and rejects it with
//     a reason, which the phone shows;
//   - a certificate of an issuer with a 20-day profile raises the expiry
//     banner; the issuer lets the user choose the key at renewal (same by
//     default, a new one chosen); a wrong PIN is refused in the keypad;
//     renewal (after the operator's profile went to two years) makes a new
//     certificate for a new key, the old one superseded, and the banner
//     goes.
//
// Every new screen is photographed and axe-core checks them.
func TestPhoneRegistration(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	short := seed.Generated("short", "SM2", "browser test short-lived SM2 Root")
	short.Name = "短期 CA"
	short.Profile.ValidityDays = 20
	short.Profile.RenewalKey = "either" // the user chooses the key at renewal
	if _, err := w.operator().AddIssuer(w.ctx(), short); err != nil {
		t.Fatal(err)
	}
	t.Run("person, approved, enrolled", func(t *testing.T) { t.Parallel(); storyRegisterPerson(t, w) })
	t.Run("organisation, licence, rejected", func(t *testing.T) { t.Parallel(); storyRegisterOrganisation(t, w) })
	t.Run("expiry banner and renewal", func(t *testing.T) { t.Parallel(); storyRenewal(t, w) })
}

const (
	goodIDNumber   = "11010519491231002X" // GB 11643's own example
	badIDNumber    = "110105194912310021" // the same with a wrong check character
	goodCreditCode = "91350100M000100Y43"
	badCreditCode  = "91350100M000100Y44"
)

// typeInto replaces the value of the input of id by typing text.
func (p *handset) typeInto(id, text string) {
	p.t.Helper()
	eval[bool](p.tab, `(function () { var e = document.getElementById(`+jsString(id)+`); e.value = '';
  e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.ID(id), text)); err != nil {
		p.t.Fatalf("typing into %s: %v", id, err)
	}
}

// fieldNote is the text beside a form field and where it came from
// (client or server).
func (p *handset) fieldNote(field string) (text, source string) {
	p.t.Helper()
	var v []string
	v = eval[[]string](p.tab, `(function () { var e = document.querySelector('[data-t="err-`+field+`"]');
  return e ? [e.textContent, e.dataset.source || ''] : ['', '']; })()`)
	return v[0], v[1]
}

// regState is the registration state the status screen shows.
func (p *handset) regState() string {
	return eval[string](p.tab, `(function () { var e = document.querySelector('[data-t=reg-state]'); return e ? e.dataset.state : ''; })()`)
}

// storedRegistration is the registration id the app keeps ("" for none).
func (p *handset) storedRegistration() string {
	return eval[string](p.tab, `new Promise(function (resolve, reject) {
  var r = indexedDB.open('ukeygate');
  r.onerror = function () { reject(r.error); };
  r.onsuccess = function () {
    var g = r.result.transaction('kv', 'readonly').objectStore('kv').get('registration:/');
    g.onsuccess = function () { resolve(g.result ? g.result.id : ''); };
  };
})`)
}

func (w *world) registration(id string) protocol.Registration {
	w.t.Helper()
	var g protocol.Registration
	if _, err := w.operator().Do(w.ctx(), "GET", "/v1/admin/registrations/"+id, nil, &g); err != nil {
		w.t.Fatal(err)
	}
	return g
}

func storyRegisterPerson(t *testing.T, w *world) {
	p := w.newPhone(t, "zh-register-person", "zh-CN,zh;q=0.9")
	var regID string
	step(t, p, "register as a person", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		p.center("reg-start")
		p.shot("welcome-register")
		p.tap("reg-start")
		p.waitView("register")
		p.shot("register-kind")
		p.axe("register kind")
		p.tap("reg-kind-person")
		p.waitView("register-person")
		if !eval[bool](p.tab, `document.querySelector('[data-t=reg-submit]').disabled && !document.getElementById('reg-consent').checked`) {
			t.Error("the consent is ticked or submit enabled before the user ticks it")
		}
		if v := eval[string](p.tab, `document.querySelector('[data-t=reg-policy]').dataset.version`); v != "2026-01" {
			t.Errorf("policy version %q", v)
		}
		p.typeInto("f-name", "陈小红")
		p.typeInto("f-id-number", badIDNumber)
		if txt, src := p.fieldNote("id_number"); src != "client" || !strings.Contains(txt, "校验位") {
			t.Errorf("the ID number's hint: %q from %q", txt, src)
		}
		p.shot("register-person-id-hint")
		p.typeInto("f-id-number", goodIDNumber)
		if txt, _ := p.fieldNote("id_number"); txt != "格式正确" {
			t.Errorf("the good ID number's hint %q", txt)
		}
		p.typeInto("f-phone", "13812345678")
		p.center("reg-consent")
		p.shot("register-person-policy")
		p.axe("register person")
		p.tap("reg-consent")
		p.wait(`!document.querySelector('[data-t=reg-submit]').disabled`, "submit enabled by the consent")
		p.tap("reg-submit")
		p.waitView("reg-status")
		if st := p.regState(); st != "pending_review" {
			t.Fatalf("state %q", st)
		}
		regID = p.txt("reg-id")
		p.shot("register-pending")
		p.axe("registration pending")
		g := w.registration(regID)
		if g.Name != "陈小红" || g.IDNumber != goodIDNumber || g.Phone != "13812345678" || g.Consent == nil ||
			g.Consent.PolicyVersion != "2026-01" || g.Consent.AcceptedAt.IsZero() {
			t.Fatalf("the registration the operator sees: %+v", g)
		}
		// The status survives a reload.
		p.visit("/m/")
		p.waitView("reg-status")
		if got := p.txt("reg-id"); got != regID {
			t.Fatalf("after a reload the app shows %q", got)
		}
	})

	var approval protocol.RegistrationApproval
	step(t, p, "the operator approves; the phone enrolls with the code", func(t *testing.T) {
		if _, err := w.operator().Do(w.ctx(), "POST", "/v1/admin/registrations/"+regID+"/approve",
			map[string]string{"reason": "核对身份证原件"}, &approval); err != nil {
			t.Fatal(err)
		}
		p.tap("reg-refresh")
		p.waitView("reg-status")
		if st := p.regState(); st != "approved" {
			t.Fatalf("state %q after the approval", st)
		}
		if strings.Contains(p.text("main"), "核对身份证原件") || strings.Contains(p.text("main"), approval.ActivationCode) {
			t.Error("the status shows the operator's note or the activation code")
		}
		p.shot("register-approved")
		p.axe("registration approved")
		p.tap("reg-enroll")
		p.enrollOnScreens(approval.ActivationCode, pinA, true, false)
		p.waitView("home")
		if got := p.txt("user-name"); !strings.Contains(got, "陈小红") {
			t.Errorf("home greets %q", got)
		}
		if id := p.storedRegistration(); id != "" {
			t.Errorf("the app still keeps registration %s after enrolling", id)
		}
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cert][data-state=active]').length === 2`, "the two certificates")
		u, err := w.operator().User(w.ctx(), approval.User.ID)
		if err != nil || u.User == nil || u.User.Registration != regID || len(u.Devices) != 1 || len(u.Credentials) != 2 {
			t.Fatalf("the user: %+v %v", u, err)
		}
		p.onlyGateway()
		p.clean(phoneProblems)
	})
}

// licencePNG draws a small business-licence-like picture.
func licencePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 480, 320))
	for y := range 320 {
		for x := range 480 {
			c := color.RGBA{250, 246, 236, 255}
			if x < 12 || x >= 468 || y < 12 || y >= 308 {
				c = color.RGBA{176, 32, 32, 255} // the red frame
			} else if y > 60 && y < 260 && y%28 < 4 && x > 48 && x < 432 {
				c = color.RGBA{60, 60, 60, 255} // lines of text
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func storyRegisterOrganisation(t *testing.T, w *world) {
	p := w.newPhone(t, "zh-register-org", "zh-CN,zh;q=0.9")
	dir := t.TempDir()
	lic := licencePNG(t)
	licFile, notImage := filepath.Join(dir, "营业执照.png"), filepath.Join(dir, "licence.png")
	if err := os.WriteFile(licFile, lic, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notImage, []byte("this is not a picture, whatever its name says"), 0o644); err != nil {
		t.Fatal(err)
	}
	var regID string
	step(t, p, "register an organisation with its licence", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("welcome")
		p.tap("reg-start")
		p.waitView("register")
		p.tap("reg-kind-organization")
		p.waitView("register-organization")
		p.typeInto("f-name", "福建某某科技有限公司")
		p.typeInto("f-credit-code", badCreditCode)
		if txt, src := p.fieldNote("credit_code"); src != "client" || !strings.Contains(txt, "校验位") {
			t.Errorf("the credit code's hint: %q from %q", txt, src)
		}
		p.typeInto("f-legal-rep", "王五")
		p.typeInto("f-phone", "0591-12345678")
		// Not an image: refused on the phone, nothing sent.
		if err := chromedp.Do(p.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#f-licence-png`), []string{notImage})); err != nil {
			t.Fatal(err)
		}
		p.wait(`document.querySelector('[data-t="err-licence_png"]').textContent !== ''`, "the picture refused")
		if txt, src := p.fieldNote("licence_png"); src != "client" || !strings.Contains(txt, "PNG 或 JPEG") {
			t.Errorf("a text file as licence: %q from %q", txt, src)
		}
		if err := chromedp.Do(p.ctx, chromedp.SetUploadFiles(chromedp.CSS(`#f-licence-png`), []string{licFile})); err != nil {
			t.Fatal(err)
		}
		p.wait(`(function () { var i = document.querySelector('[data-t=reg-licence-img]'); return i && i.complete && i.naturalWidth === 480; })()`, "the licence preview")
		if txt, _ := p.fieldNote("licence_png"); txt != "" {
			t.Errorf("the good picture still shows %q", txt)
		}
		p.center("reg-licence-preview")
		p.shot("register-org-licence")
		p.center("reg-consent")
		p.tap("reg-consent")
		p.tap("reg-submit")
		p.wait(`document.querySelector('[data-t="err-credit_code"]').dataset.source === 'server' && !document.body.dataset.busy`, "the server's answer beside the credit code")
		if txt, _ := p.fieldNote("credit_code"); !strings.Contains(txt, "统一社会信用代码不正确") {
			t.Errorf("the server's credit-code error %q", txt)
		}
		if eval[string](p.tab, `document.body.dataset.error`) != protocol.CodeInvalidCreditCode {
			t.Errorf("error %q", eval[string](p.tab, `document.body.dataset.error`))
		}
		p.center("reg-credit-code")
		p.shot("register-org-server-error")
		p.axe("register organisation with an error")
		p.typeInto("f-credit-code", goodCreditCode)
		p.tap("reg-submit")
		p.waitView("reg-status")
		if st := p.regState(); st != "pending_review" {
			t.Fatalf("state %q", st)
		}
		regID = p.txt("reg-id")
		g := w.registration(regID)
		if g.Kind != "organization" || g.CreditCode != goodCreditCode || g.LegalRep != "王五" || g.LicenceType != "image/png" || !bytes.Equal(g.Licence, lic) {
			t.Fatalf("the registration the operator sees: %+v (licence %d bytes)", g.ID, len(g.Licence))
		}
	})
	step(t, p, "the operator rejects it with a reason", func(t *testing.T) {
		const reason = "营业执照照片不清晰，请重新拍摄后提交"
		if _, err := w.operator().Do(w.ctx(), "POST", "/v1/admin/registrations/"+regID+"/reject", map[string]string{"reason": reason}, nil); err != nil {
			t.Fatal(err)
		}
		p.visit("/m/")
		p.waitView("reg-status")
		if st := p.regState(); st != "rejected" {
			t.Fatalf("state %q after the rejection", st)
		}
		if got := p.txt("reg-reason"); got != reason {
			t.Errorf("reason %q", got)
		}
		p.shot("register-rejected")
		p.axe("registration rejected")
		// Corrected and sent again: the form comes back filled in.
		p.tap("reg-again")
		p.waitView("register-organization")
		if v := eval[string](p.tab, `document.getElementById('f-credit-code').value`); v != goodCreditCode {
			t.Errorf("the form comes back with credit code %q", v)
		}
		if eval[bool](p.tab, `document.getElementById('reg-consent').checked`) {
			t.Error("the consent comes back ticked")
		}
		p.onlyGateway()
		p.clean(phoneProblems)
	})
}

// extendProfile stands in for the operator lengthening an issuer's
// certificate validity (the API has no profile update): the issuer record
// is rewritten in the running gateway's store.
func (w *world) extendProfile(issuer string, days int) {
	w.t.Helper()
	st := w.ts.Server.Store()
	ctx := w.ctx()
	kv, err := st.Get(ctx, "issuers/"+issuer)
	if err != nil {
		w.t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		w.t.Fatal(err)
	}
	prof, ok := rec["profile"].(map[string]any)
	if !ok || prof["validity_days"] == nil {
		w.t.Fatalf("issuer record without a profile: %v", rec["profile"])
	}
	prof["validity_days"] = days
	b, err := json.Marshal(rec)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := st.Txn(ctx, storage.Put(kv.Key, b, 0)); err != nil {
		w.t.Fatal(err)
	}
	// The gateway uses it from now on (waited for, not assumed: a cache
	// may lag the store's watch).
	waitFor(w.t, func() bool {
		iss, err := w.operator().Issuers(w.ctx())
		if err != nil {
			return false
		}
		for _, i := range iss {
			if i.ID == issuer && i.Profile.ValidityDays == days {
				return true
			}
		}
		return false
	}, "the issuer's new profile")
}

func storyRenewal(t *testing.T, w *world) {
	u := w.newUser(t, "赵敏")
	p := w.newPhone(t, "zh-renew", "zh-CN,zh;q=0.9")
	var oldID string
	step(t, p, "a 20-day certificate raises the banner", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.tap("issuer-short")
		p.wait(`document.querySelector('[data-t=issuer-short]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "the short-lived issuer chosen")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=expiry-banner]') !== null`, "the expiry banner")
		banner := p.txt("expiry-banner")
		if !strings.Contains(banner, "1 张证书即将到期") || !regexp.MustCompile(`还剩 (19|20) 天`).MatchString(banner) {
			t.Errorf("banner %q", banner)
		}
		oldID = eval[string](p.tab, `document.querySelector('[data-t=renew]').dataset.cred`)
		p.shot("certs-expiring")
		p.axe("certificates with the expiry banner")
		p.tap("tab-home")
		p.waitView("home")
		p.wait(`document.querySelector('[data-t=cert-count]').textContent.indexOf('即将到期') >= 0`, "the home tile's reminder")
	})
	step(t, p, "renew with the PIN: the banner goes", func(t *testing.T) {
		w.extendProfile("short", 730)
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("renew")
		p.waitView("renew")
		if eval[string](p.tab, `document.querySelector('[data-t=renew-same]').getAttribute('aria-checked')`) != "true" {
			t.Error("the same key is not the default")
		}
		p.tap("renew-new")
		p.wait(`document.querySelector('[data-t=renew-new]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=renew-same]').getAttribute('aria-checked') === 'false'`, "a new key chosen")
		p.shot("renew")
		p.axe("renew")
		p.tap("renew-go")
		p.enterPIN(wrongPIN)
		if msg := p.pinMessage(); !strings.Contains(msg, "PIN 错误") {
			t.Errorf("wrong PIN message %q", msg)
		}
		p.shot("renew-wrong-pin")
		p.enterPIN(pinA)
		p.waitView("renewed")
		if msg := p.message(); !strings.Contains(msg, "新的密钥") {
			t.Errorf("renewed message %q", msg)
		}
		p.shot("renewed")
		p.tap("done")
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=superseded]') !== null`, "the old certificate superseded")
		if p.has("expiry-banner") {
			t.Errorf("the banner stays: %q", p.txt("expiry-banner"))
		}
		p.shot("certs-renewed")
		creds, err := w.operator().Credentials(w.ctx(), operator.CredentialFilter{UserID: u.id})
		if err != nil {
			t.Fatal(err)
		}
		var old, renewed *operator.Credential
		for _, c := range creds {
			switch {
			case c.ID == oldID:
				old = c
			case c.State == "active" && c.Issuer == "short":
				renewed = c
			}
		}
		if old == nil || renewed == nil || old.State != "superseded" || renewed.Supersedes != oldID || renewed.NotAfter.Sub(old.NotAfter) < 600*24*3600e9 {
			t.Fatalf("after renewal: old %+v new %+v", old, renewed)
		}
		if pubKey(t, old.CertificatePEM) == pubKey(t, renewed.CertificatePEM) {
			t.Error("a renewal with a new key kept the key")
		}
		p.onlyGateway()
		p.clean(phoneProblems)
	})
}

// waitFor polls cond (failure guard waitTimeout).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s", what)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // polling interval, not a synchronisation
		}
	}
}

// pubKey is the SubjectPublicKeyInfo of a PEM certificate.
func pubKey(t *testing.T, certPEM string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatalf("no certificate in %q", certPEM)
	}
	c, err := smx509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return string(c.RawSubjectPublicKeyInfo)
}
