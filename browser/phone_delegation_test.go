package browser_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestPhoneDelegation: a staff member's phone web app, with a delegation
// of an organisation's certificate. The operator grants it; the staff
// member accepts it on the certificates screen with their own PIN; the
// organisation (the reference phone client) approves it; a sign session
// then offers the organisation's certificate labelled "代表 <organisation>"
// beside the staff member's own, and confirming it with the staff
// member's own PIN gives the portal a signature by the organisation's key
// whose result names both.
func TestPhoneDelegation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	const orgName = "某某建设有限公司"

	// The organisation, enrolled with the reference phone client, with an
	// SM2 signing certificate.
	orgUser, err := w.operator().AddUser(ctx(), operator.UserRequest{Name: orgName, Kind: protocol.UserKindOrganization, CreditCode: "91350100M000100Y43"})
	if err != nil {
		t.Fatal(err)
	}
	orgPhone := &phone.Client{BaseURL: w.url, State: &phone.State{}}
	if _, err := orgPhone.Enroll(ctx(), orgUser.ActivationCode, "单位手机", testPIN); err != nil {
		t.Fatal(err)
	}
	orgCred, err := orgPhone.RequestCredential(ctx(), "sm2", "SM2", "sign", testPIN)
	if err != nil {
		t.Fatal(err)
	}

	u := w.newUser(t, "李四")
	p := w.newPhone(t, "zh-delegation", "zh-CN,zh;q=0.9")
	step(t, p, "the staff member enrolls and gets a signing certificate of their own", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		// One issuer: the form has it chosen already.
		p.wait(`document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "a signing certificate")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=active]') !== null`, "the staff member's certificate")
	})

	app := w.addApp("招标平台", "https://bid.example")
	var dlg *operator.Delegation
	step(t, p, "the operator grants; the staff member accepts with their own PIN", func(t *testing.T) {
		dlg, err = w.operator().AddDelegation(ctx(), orgUser.ID, operator.DelegationRequest{User: u.id, Credential: orgCred.ID,
			Kinds: []string{"sign", "seal"}, Apps: []string{app.ID}, NotAfter: time.Now().Add(90 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		p.tap("tab-home")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=delegation][data-state=pending_acceptance]') !== null`, "the delegation to accept")
		if got := p.txt("delegation"); !strings.Contains(got, orgName) || !strings.Contains(got, "待接受") {
			t.Errorf("delegation card %q", got)
		}
		p.center("delegation-accept")
		p.shot("delegation-to-accept")
		p.tap("delegation-accept")
		// The organisation's PIN is not the staff member's.
		p.enterPIN(testPIN)
		if msg := p.pinMessage(); !strings.Contains(msg, "PIN") {
			t.Errorf("wrong PIN message %q", msg)
		}
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=delegation][data-state=pending_approval]') !== null`, "the delegation awaiting approval")
		p.axe("certs with a delegation")
	})

	step(t, p, "the organisation approves; a sign session offers its certificate, labelled", func(t *testing.T) {
		if d, err := orgPhone.ApproveDelegation(ctx(), dlg.ID, testPIN); err != nil || d.State != protocol.DelegationActive {
			t.Fatalf("approve: %+v %v", d, err)
		}
		p.tap("tab-home")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=delegation][data-state=active]') !== null`, "the delegation in force")
		p.shot("delegation-active")
	})

	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	data := []byte("投标函：某某建设有限公司 投标总价 1,000,000 元")
	step(t, p, "the staff member signs for the organisation with their own PIN", func(t *testing.T) {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Format: "raw",
			Display:   portal.Display{Title: "投标文件签名", Summary: "代表单位签署投标函"},
			Documents: []portal.Document{{Name: "投标函.txt", Data: data}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		org := `[data-t=cred-choice][data-cred="` + orgCred.ID + `"]`
		p.wait(`document.querySelectorAll('[data-t=cred-choice]').length === 2 && document.querySelector(`+jsString(org)+`) !== null`, "two certificates to choose from")
		if got := p.text(org + " [data-t=on-behalf]"); got != "代表 "+orgName {
			t.Errorf("the organisation's certificate is labelled %q", got)
		}
		if n := eval[int](p.tab, `document.querySelectorAll('[data-t=on-behalf]').length`); n != 1 {
			t.Errorf("%d certificates labelled for an organisation, want 1", n)
		}
		code := `[data-t=code-choice][data-code="` + s.Code + `"]`
		p.center(code)
		p.tap(code)
		p.center(org)
		p.tap(org)
		p.shot("session-for-organisation")
		p.axe("session with a delegated certificate")
		p.tap("confirm")
		p.waitSheet()
		if got := p.text(`[data-t=pin-sheet]`); !strings.Contains(got, "请输入您本人的 PIN（代表 "+orgName+"）") {
			t.Errorf("the keypad says %q", got)
		}
		p.shot("pin-own-for-organisation")
		p.enterPIN(pinA)
		p.waitView("done")
		done, err := pc.Wait(ctx(), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := done.Sign()
		if err != nil {
			t.Fatal(err)
		}
		if res.OnBehalfOf != orgUser.ID || res.Delegate != u.id {
			t.Fatalf("result on_behalf_of %q delegate %q", res.OnBehalfOf, res.Delegate)
		}
		certs, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
		if err != nil || certs[0].Subject.Organization[0] != orgName || certs[0].Subject.SerialNumber != "91350100M000100Y43" {
			t.Fatalf("signer certificate %v %v", certs, err)
		}
		if err := gmcrypto.Verify(certs[0].PublicKey, data, res.Documents[0].Signature, nil); err != nil {
			t.Fatalf("the signature does not verify under the organisation's certificate: %v", err)
		}
	})
	step(t, p, "the history says the signature was for the organisation", func(t *testing.T) {
		p.tap("done")
		p.waitView("home")
		p.tap("tab-history")
		p.waitView("history")
		p.wait(`document.querySelector('[data-t=history-entry][data-action=sign][data-outcome=ok]') !== null`, "the signature in the history")
		if got := p.text(`[data-t=history-entry][data-action=sign][data-outcome=ok]`); !strings.Contains(got, "代表 "+orgName) {
			t.Errorf("history entry %q", got)
		}
		if !p.has(`[data-t=history-entry][data-action="delegation.accept"][data-outcome=failed]`) || !p.has(`[data-t=history-entry][data-action="delegation.accept"][data-outcome=ok]`) {
			t.Error("the history lacks the refused and the accepted acceptance")
		}
		p.shot("history-for-organisation")
	})
	step(t, p, "a delegated encryption certificate, renewed: the card says the old one's data still opens", func(t *testing.T) {
		orgEnc, err := orgPhone.RequestCredential(ctx(), "sm2", "SM2", "encrypt", testPIN)
		if err != nil {
			t.Fatal(err)
		}
		d, err := w.operator().AddDelegation(ctx(), orgUser.ID, operator.DelegationRequest{User: u.id, Credential: orgEnc.ID,
			Kinds: []string{"decrypt"}, NotAfter: time.Now().Add(90 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		p.tap("tab-home")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		card := `[data-t=delegation][data-delegation="` + d.ID + `"]`
		p.wait(`document.querySelector(`+jsString(card+` [data-t=delegation-accept]`)+`) !== null`, "the decryption delegation to accept")
		if p.has(card + " [data-t=delegation-superseded]") {
			t.Error("a renewed-certificate line before any renewal")
		}
		p.center(card + " [data-t=delegation-accept]")
		p.tap(card + " [data-t=delegation-accept]")
		p.enterPIN(pinA)
		p.waitView("certs")
		if _, err := orgPhone.ApproveDelegation(ctx(), d.ID, testPIN); err != nil {
			t.Fatal(err)
		}
		// A bid sealed to the organisation's certificate before its renewal.
		bid := []byte("投标文件：某某建设有限公司 第 3 标段")
		env, err := pc.Encrypt(ctx(), orgUser.ID, "sm2", bid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := orgPhone.RenewCredential(ctx(), orgEnc.ID, testPIN, false); err != nil {
			t.Fatal(err)
		}
		p.tap("tab-home")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.wait(`document.querySelector(`+jsString(card+` [data-t=delegation-superseded]`)+`) !== null`, "the renewed-certificate line")
		if got := p.text(card + " [data-t=delegation-superseded]"); got != "也能解密加密给已续期旧证书的数据" {
			t.Errorf("the card says %q", got)
		}
		p.center(card)
		p.shot("delegation-renewed")
		p.axe("certs with a renewed delegated certificate")

		// The staff member opens the bid on the phone: the organisation's
		// old certificate is offered for the organisation, labelled
		// renewed and sealed-to, and chosen.
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindDecrypt, Ciphertext: env, CiphertextFormat: "cms",
			Display: portal.Display{Title: "开标", Summary: "某某建设有限公司的投标文件"}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		oldSel := `[data-t=cred-choice][data-cred="` + orgEnc.ID + `"]`
		p.wait(`document.querySelector(`+jsString(oldSel)+`) !== null`, "the organisation's renewed certificate offered")
		for sel, want := range map[string]string{"on-behalf": "代表 " + orgName, "renewed": "已续期", "sealed-to": "数据加密给此证书"} {
			if got := p.text(oldSel + " [data-t=" + sel + "]"); got != want {
				t.Errorf("the organisation's old certificate's %s chip says %q, want %q", sel, got, want)
			}
		}
		if got := eval[string](p.tab, `document.querySelector(`+jsString(oldSel)+`).getAttribute('aria-checked')`); got != "true" {
			t.Errorf("the certificate the bid is sealed to is not chosen (aria-checked %q)", got)
		}
		code := `[data-t=code-choice][data-code="` + s.Code + `"]`
		p.center(code)
		p.tap(code)
		p.center(oldSel)
		p.shot("session-organisation-renewed")
		p.axe("session with the organisation's renewed certificate")
		p.tap("confirm")
		p.waitSheet()
		p.enterPIN(pinA)
		p.waitView("done")
		done, err := pc.Wait(ctx(), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := done.Decrypt()
		if err != nil || !bytes.Equal(res.Plaintext, bid) || res.OnBehalfOf != orgUser.ID || res.Delegate != u.id {
			t.Fatalf("decrypt result %+v %v", res, err)
		}
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}
