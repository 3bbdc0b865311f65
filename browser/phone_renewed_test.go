package browser_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
)

// TestPhoneRenewedChooser: a user of the phone web app gets an SM2
// encryption certificate, a portal seals a file to it, and the user
// renews it in the app (the issuer makes a new key at each renewal). The
// decrypt session for the sealed file then offers both certificates; the
// old one carries the "已续期" (Renewed) chip, the new one none, and the
// old one (the one the envelope is addressed to) is chosen. Confirming
// with the PIN gives the portal the plaintext, opened with the old key.
func TestPhoneRenewedChooser(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	short := seed.Generated("short", "SM2", "browser test renewing SM2 Root")
	short.Name = "短期 CA"
	short.Profile.ValidityDays = 20
	short.Profile.RenewalKey = "new"
	if _, err := w.operator().AddIssuer(ctx(), short); err != nil {
		t.Fatal(err)
	}

	u := w.newUser(t, "钱七")
	p := w.newPhone(t, "zh-renewed", "zh-CN,zh;q=0.9")
	var oldID string
	step(t, p, "enroll and get an SM2 encryption certificate", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.tap("issuer-short")
		p.wait(`document.querySelector('[data-t=issuer-short]').getAttribute('aria-checked') === 'true'`, "the short-lived issuer chosen")
		p.tap("purpose-sign")
		p.tap("purpose-encrypt")
		p.wait(`document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'false' &&
  document.querySelector('[data-t=purpose-encrypt]').getAttribute('aria-checked') === 'true'`, "encryption only")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=active][data-purpose=encrypt]') !== null`, "the encryption certificate")
		oldID = eval[string](p.tab, `document.querySelector('[data-t=cert][data-purpose=encrypt]').dataset.cred`)
	})

	app := w.addApp("开标平台", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	plain := []byte("投标文件：第 3 标段报价 ¥1,234,567.00")
	var env []byte
	step(t, p, "a portal seals a bid to the certificate; the user renews it with a new key", func(t *testing.T) {
		var err error
		if env, err = pc.Encrypt(ctx(), u.id, "short", plain); err != nil {
			t.Fatal(err)
		}
		w.extendProfile("short", 730)
		p.tap("tab-home")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap(`[data-t=renew][data-cred="` + oldID + `"]`)
		p.waitView("renew")
		if !p.has("renew-new-key") {
			t.Error("the renewal screen does not say a new key is made")
		}
		p.tap("renew-go")
		p.enterPIN(pinA)
		p.waitView("renewed")
		p.tap("done")
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=superseded][data-cred="`+oldID+`"]') !== null`, "the old certificate superseded")
	})

	// The two certificates as the operator sees them: the envelope names
	// the old one only.
	var oldCert, newCert *smx509.Certificate
	var newID string
	creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		switch {
		case c.ID == oldID:
			oldCert = firstCert(t, c.CertificatePEM)
		case c.Supersedes == oldID && c.State == "active":
			newID, newCert = c.ID, firstCert(t, c.CertificatePEM)
		}
	}
	if oldCert == nil || newCert == nil {
		t.Fatalf("after the renewal: %+v", creds)
	}
	if !gmcrypto.CMSAddressedTo(env, oldCert) || gmcrypto.CMSAddressedTo(env, newCert) {
		t.Fatal("the envelope is not addressed to the old certificate alone")
	}

	step(t, p, "the decrypt session: the old certificate is labelled renewed and chosen", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindDecrypt, Ciphertext: env, CiphertextFormat: "cms",
			Display: portal.Display{Title: "开标", Summary: "第 3 标段"}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		oldSel := `[data-t=cred-choice][data-cred="` + oldID + `"]`
		newSel := `[data-t=cred-choice][data-cred="` + newID + `"]`
		p.wait(`document.querySelectorAll('[data-t=cred-choice]').length === 2 && document.querySelector(`+jsString(oldSel)+`) !== null &&
  document.querySelector(`+jsString(newSel)+`) !== null`, "the old and the new certificate to choose from")
		if got := p.text(oldSel + " [data-t=renewed]"); got != "已续期" {
			t.Errorf("the old certificate's chip says %q, want 已续期", got)
		}
		if n := eval[int](p.tab, `document.querySelectorAll('[data-t=renewed]').length`); n != 1 {
			t.Errorf("%d certificates labelled renewed, want 1", n)
		}
		// The envelope names the old certificate: the phone says so on it
		// (the scan's addressed flag), and on no other.
		if got := p.text(oldSel + " [data-t=sealed-to]"); got != "数据加密给此证书" {
			t.Errorf("the old certificate's sealed-to chip says %q", got)
		}
		if n := eval[int](p.tab, `document.querySelectorAll('[data-t=sealed-to]').length`); n != 1 {
			t.Errorf("%d certificates labelled sealed-to, want 1", n)
		}
		if got := eval[string](p.tab, `document.querySelector(`+jsString(oldSel)+`).getAttribute('aria-checked')`); got != "true" {
			t.Errorf("the certificate the envelope is addressed to is not chosen (aria-checked %q)", got)
		}
		// The chip sits on one line of its own above the issuer, inside
		// the option, on this narrow screen.
		if !eval[bool](p.tab, `(function () {
  var o = document.querySelector(`+jsString(oldSel)+`).getBoundingClientRect();
  var c = document.querySelector(`+jsString(oldSel+" [data-t=renewed]")+`).getBoundingClientRect();
  var r = document.querySelector(`+jsString(oldSel+" .row-title")+`).getBoundingClientRect();
  return c.left >= o.left && c.right <= o.right && c.bottom <= r.top && c.height < 30;
})()`) {
			t.Error("the renewed chip is not laid out above the issuer inside the option")
		}
		p.tap(`[data-t=code-choice][data-code="` + s.Code + `"]`)
		p.center(oldSel)
		p.shot("session-renewed")
		p.axe("session with a renewed certificate")

		// The same screen in English.
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en' && document.querySelector(`+jsString(oldSel+" [data-t=renewed]")+`) !== null`, "the session in English")
		if got := p.text(oldSel + " [data-t=renewed]"); got != "Renewed" {
			t.Errorf("in English the chip says %q", got)
		}
		if got := p.text(oldSel + " [data-t=sealed-to]"); got != "Sealed to this certificate" {
			t.Errorf("in English the sealed-to chip says %q", got)
		}
		if got := eval[string](p.tab, `document.querySelector('[data-t=code-choice][data-code="`+s.Code+`"]').getAttribute('aria-checked')`); got != "true" {
			t.Errorf("after the language switch the picked code is not shown picked (aria-checked %q)", got)
		}
		p.center(oldSel)
		p.shot("session-renewed-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the session in Chinese again")

		p.tap("confirm")
		p.enterPIN(pinA)
		p.waitView("done")
		done, err := pc.Wait(ctx(), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := done.Decrypt()
		if err != nil || !bytes.Equal(res.Plaintext, plain) {
			t.Fatalf("decrypt result %+v %v", res, err)
		}
		entries, err := w.operator().AllAudit(ctx(), operator.AuditFilter{SessionID: s.ID})
		if err != nil || len(entries) != 1 || entries[0].CredentialID != oldID {
			t.Fatalf("audit of the session: %+v %v", entries, err)
		}
	})
	p.onlyGateway()
	p.clean(phoneProblems)
}

// firstCert is the first certificate of a PEM chain.
func firstCert(t *testing.T, certPEM string) *smx509.Certificate {
	t.Helper()
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(certPEM))
	if err != nil || len(certs) == 0 {
		t.Fatalf("certificate PEM %q: %v", certPEM, err)
	}
	return certs[0]
}
