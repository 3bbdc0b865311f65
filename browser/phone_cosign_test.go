package browser_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/qrlogin"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPhoneCosign: the phone web app holds two-party SM2 (cosign)
// credentials. It loads the phone's half (WebAssembly, under the app's
// CSP), makes a signing and an encryption credential, keeps their seeds
// wrapped by a non-extractable AES-GCM key, and confirms a sign session
// scanned with the camera (a wrong PIN first: counted by the gateway, the
// keypad says so), a decrypt session, a login at the demo portal, a seal
// session (the confirm's seal passes through cosign.js; the sealed PDF's
// SM2 signature verifies), and a PIN change after which it still signs. Signatures are ordinary SM2,
// checked with tjfoc and OpenSSL; the plaintext is the one encrypted.
func TestPhoneCosign(t *testing.T) {
	t.Parallel() // its own world and tab; the camera step holds cameraMu
	w := newWorld(t, false)
	app := w.addApp("协同签名测试门户", "https://bid.example")
	pc := &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://bid.example"}
	u := w.newUser(t, "周八")
	p := w.newPhone(t, "zh-cosign", "zh-CN,zh;q=0.9")
	ctx := func() context.Context { return w.ctx() }

	step(t, p, "two-party certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.tap("mode-cosign")
		p.wait(`document.querySelector('[data-t=mode-cosign]').getAttribute('aria-checked') === 'true' && document.querySelector('[data-t=cosign-loss]') !== null`, "the two-party choice and its warning")
		p.tap("purpose-encrypt")
		p.wait(`document.querySelector('[data-t=purpose-encrypt]').getAttribute('aria-checked') === 'true'`, "both purposes")
		p.shot("cosign-request")
		p.axe("two-party request")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cosign-chip]').length === 2`, "two two-party certificates")
		p.shot("cosign-certs")
		creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id})
		if err != nil {
			t.Fatal(err)
		}
		if len(creds) != 2 {
			t.Fatalf("the gateway holds %d credentials", len(creds))
		}
		for _, c := range creds {
			if c.Mode != "cosign" || c.State != "active" || c.Alg != "SM2" {
				t.Errorf("credential %+v", c)
			}
		}
		// What the browser stores: the wrapping key, non-extractable
		// AES-GCM; per credential only an IV and a ciphertext (32-byte
		// seed + 16-byte tag), never the seed itself.
		raw := eval[string](p.tab, `new Promise(function (resolve, reject) {
  var r = indexedDB.open('ukeygate');
  r.onerror = function () { reject(r.error); };
  r.onsuccess = function () {
    var st = r.result.transaction('kv', 'readonly').objectStore('kv'), out = {seeds: []};
    var k = st.get('cosign-wrap-key:/');
    k.onsuccess = function () {
      var key = k.result;
      out.key = key ? {type: key.type, extractable: key.extractable, alg: key.algorithm.name, length: key.algorithm.length, usages: key.usages} : null;
      var c = st.openCursor(IDBKeyRange.bound('cosign-seed:/:', 'cosign-seed:/:\uffff'));
      c.onsuccess = function () {
        var cur = c.result;
        if (!cur) { resolve(JSON.stringify(out)); return; }
        var v = cur.value;
        out.seeds.push({id: String(cur.key).slice(14), fields: Object.keys(v).sort().join(','), iv: v.iv.length, ct: v.ct.length});
        cur.continue();
      };
    };
  };
})`)
		var stored struct {
			Key *struct {
				Type, Alg   string
				Extractable bool
				Length      int
				Usages      []string
			}
			Seeds []struct {
				ID, Fields string
				IV, CT     int
			}
		}
		if err := json.Unmarshal([]byte(raw), &stored); err != nil {
			t.Fatal(err)
		}
		if k := stored.Key; k == nil || k.Type != "secret" || k.Extractable || k.Alg != "AES-GCM" || k.Length != 256 {
			t.Fatalf("wrapping key %s", raw)
		}
		ids := map[string]bool{creds[0].ID: true, creds[1].ID: true}
		if len(stored.Seeds) != 2 {
			t.Fatalf("stored seeds %s", raw)
		}
		for _, s := range stored.Seeds {
			if !ids[s.ID] || s.Fields != "credential,ct,iv,savedAt" || s.IV != 12 || s.CT != 48 {
				t.Errorf("stored seed %+v", s)
			}
		}
		// Wrapped with its credential as associated data: a record moved
		// to another credential does not open.
		if got := eval[string](p.tab, `new Promise(function (resolve) {
  var r = indexedDB.open('ukeygate');
  r.onsuccess = function () {
    var st = r.result.transaction('kv', 'readonly').objectStore('kv');
    var k = st.get('cosign-wrap-key:/'), s = st.get('cosign-seed:/:`+stored.Seeds[0].ID+`');
    st.transaction.oncomplete = function () {
      crypto.subtle.decrypt({name: 'AES-GCM', iv: s.result.iv, additionalData: new TextEncoder().encode('ukeygate/cosign-seed/v1/`+stored.Seeds[1].ID+`')}, k.result, s.result.ct)
        .then(function () { resolve('opened'); }, function () { resolve('refused'); });
    };
  };
})`); got != "refused" {
			t.Errorf("a seed opened under another credential's id: %s", got)
		}
	})

	step(t, p, "two-party certificate at an external CA: the CSR signed two-party", func(t *testing.T) {
		// An external SM2 CA made by OpenSSL: the credential stays pending
		// with a CSR the phone and the gateway signed together.
		dir := t.TempDir()
		distid := "distid:1234567812345678"
		testkit.RunOpenSSL(t, dir, "genpkey", "-algorithm", "SM2", "-out", "ca.key")
		testkit.RunOpenSSL(t, dir, "req", "-x509", "-key", "ca.key", "-sm3", "-sigopt", distid, "-out", "ca.pem",
			"-days", "30", "-subj", "/CN=Browser External SM2 CA/O=ukeygate tests",
			"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
		caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.operator().AddIssuer(ctx(), operator.IssuerRequest{ID: "ext", Name: "外部 CA", Mode: "external", ChainPEM: string(caPEM)}); err != nil {
			t.Fatal(err)
		}
		p.visit("/m/")
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		// The form is longer with two issuers: what is tapped is brought
		// to the middle of the screen, above the action bar.
		p.center("issuer-ext")
		p.tap("issuer-ext")
		p.center("mode-cosign")
		p.tap("mode-cosign")
		p.wait(`document.querySelector('[data-t=issuer-ext]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=mode-cosign]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true' &&
  document.querySelector('[data-t=purpose-encrypt]').getAttribute('aria-checked') === 'false'`, "a two-party signing certificate at the external CA")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelectorAll('[data-t=cosign-chip]').length === 3 && document.querySelector('[data-t=cert][data-state=pending]') !== null`, "the pending two-party certificate")
		p.shot("cosign-pending")
		pending, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id, IssuerID: "ext"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 || pending[0].Mode != "cosign" || pending[0].State != "pending" || pending[0].CSRPEM == "" {
			t.Fatalf("external credentials %+v", pending)
		}
		if err := os.WriteFile(filepath.Join(dir, "user.csr"), []byte(pending[0].CSRPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := testkit.RunOpenSSL(t, dir, "req", "-in", "user.csr", "-verify", "-noout", "-vfyopt", distid); !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl req -verify: %s", out)
		}
	})

	// signSession makes a raw SM2 sign session of the app.
	doc := []byte("投标文件 第 7 标段：总价 ¥2,345,678.00")
	signSession := func(t *testing.T) *portal.Session {
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSign, Issuer: "sm2", Alg: "SM2", Format: portal.FormatRaw,
			Display: portal.Display{Title: "投标文件签名", Summary: "第 7 标段"}, Documents: []portal.Document{{Name: "bid-7.txt", Data: doc}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	checkSigned := func(t *testing.T, s *portal.Session) {
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Sign()
		if err != nil || len(res.Documents) != 1 {
			t.Fatalf("sign result %+v %v", res, err)
		}
		checkSM2Signature(t, res.CertificatePEM, doc, res.Documents[0].Signature)
	}

	step(t, p, "sign, scanned by the camera, a wrong PIN first", func(t *testing.T) {
		s := signSession(t)
		png, err := qrlogin.PNG(s.QR.Payload, 256)
		if err != nil {
			t.Fatal(err)
		}
		img, err := decodeImage(png)
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
		if got := eval[string](p.tab, `document.body.dataset.session`); got != s.ID {
			t.Fatalf("the camera read session %s, want %s", got, s.ID)
		}
		if got := p.txt("credential"); !strings.Contains(got, "协同") {
			t.Errorf("the credential line %q does not say two-party", got)
		}
		eval[bool](p.tab, `(function () { document.querySelector('[data-t=credential]').scrollIntoView({block: 'center'}); return true; })()`)
		p.shot("cosign-session")
		p.confirmWith(s.Code, wrongPIN)
		if got := p.pinMessage(); !strings.Contains(got, "PIN") || !strings.Contains(got, "4") {
			t.Errorf("wrong PIN message %q (want the tries left)", got)
		}
		p.shot("cosign-wrong-pin")
		if got, err := pc.GetSession(ctx(), s.ID); err != nil || got.State != portal.StateScanned {
			t.Fatalf("after a wrong PIN the session is %+v %v", got, err)
		}
		p.enterPIN(pinA)
		p.waitView("done")
		p.shot("cosign-done")
		checkSigned(t, s)
	})

	step(t, p, "decrypt", func(t *testing.T) {
		creds, err := w.operator().Credentials(ctx(), operator.CredentialFilter{UserID: u.id})
		if err != nil {
			t.Fatal(err)
		}
		var encPEM string
		for _, c := range creds {
			if c.Purpose == "encrypt" {
				encPEM = c.CertificatePEM
			}
		}
		plain := []byte("开标：第 7 标段报价 ¥2,345,678.00")
		ct, err := tjsm2.Encrypt(tjfocKey(t, encPEM), plain, nil, tjsm2.C1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindDecrypt, Issuer: "sm2", Alg: "SM2", Ciphertext: ct, CiphertextFormat: "c1c3c2",
			Display: portal.Display{Title: "开标", Summary: "第 7 标段"}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.confirmWith(s.Code, pinA)
		p.waitView("done")
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Decrypt()
		if err != nil || !bytes.Equal(res.Plaintext, plain) {
			t.Fatalf("decrypt result %+v %v", res, err)
		}
	})

	step(t, p, "login at the demo portal", func(t *testing.T) {
		d := w.desktop(t, "/demo/")
		p.openSession(d.qrFromScreenshot(), d, "login")
		p.confirmWith(d.code(), pinA)
		p.waitView("done")
		loggedIn(t, d, "周八")
	})

	step(t, p, "seal a PDF with the two-party key", func(t *testing.T) {
		sl, err := w.operator().AddSeal(ctx(), operator.SealRequest{Owner: u.id, Name: "周八 个人章", Kind: "personal",
			ImagePNG: sealPNG(t, true), WidthMM: 20, HeightMM: 20, Issuer: "sm2"})
		if err != nil {
			t.Fatal(err)
		}
		pdf := seal.TextPDF([][]string{{"Bid 7", "", "Bidder: [SEAL]"}})
		s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal, Issuer: "sm2", Alg: "SM2",
			Documents: []portal.Document{{Name: "bid-7.pdf", PDF: pdf, Placements: []portal.Placement{{Keyword: "[SEAL]"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		p.visit(s.QR.Payload)
		p.waitView("session")
		if got := eval[string](p.tab, `document.querySelector('[data-t=seal]').dataset.seal`); got != sl.ID {
			t.Fatalf("the phone shows seal %q, want %s", got, sl.ID)
		}
		p.center(`[data-t=code-choice][data-code="` + s.Code + `"]`)
		p.confirmWith(s.Code, pinA)
		p.waitView("done")
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Seal()
		if err != nil || len(res.Documents) != 1 {
			t.Fatalf("seal result %+v %v", res, err)
		}
		sigs, err := seal.Verify(res.Documents[0].PDF)
		if err != nil || len(sigs) != 1 || !sigs[0].Valid || sigs[0].Seal == nil || sigs[0].Seal.ID != sl.ID {
			t.Fatalf("sealed PDF: %v %+v", err, sigs)
		}
	})

	step(t, p, "PIN change re-shares, then signs with the new PIN", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("home")
		p.tap("tile-pin")
		p.waitView("change-pin")
		p.enterPIN(pinA)
		p.waitSheet()
		p.enterPIN(pinA2)
		p.waitSheet()
		p.enterPIN(pinA2)
		p.waitView("pin-changed")
		s := signSession(t)
		p.visit(s.QR.Payload)
		p.waitView("session")
		p.confirmWith(s.Code, pinA2)
		p.waitView("done")
		checkSigned(t, s)
	})

	step(t, p, "lost phone", func(t *testing.T) {
		p.visit("/m/")
		p.waitView("home")
		p.tap("tab-me")
		p.waitView("me")
		p.tap("lost")
		p.waitView("lost")
		if got := p.txt("lost-cosign"); !strings.Contains(got, "协同证书") || !strings.Contains(got, "吊销") {
			t.Errorf("the lost-phone screen says %q about two-party certificates", got)
		}
		p.shot("cosign-lost")
	})
	p.clean(phoneProblems)
	p.onlyGateway()
}

// center scrolls the element of data-t name to the middle of the screen
// once it exists.
func (p *handset) center(name string) {
	p.t.Helper()
	p.wait(`(function () { var e = document.querySelector(`+jsString(sel(name))+`); if (!e) { return false; }
  e.scrollIntoView({block: 'center'}); return true; })()`, "element "+name)
}

// tjfocKey is the SM2 public key of a certificate, as tjfoc reads it.
func tjfocKey(t *testing.T, certPEM string) *tjsm2.PublicKey {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatal("no certificate PEM")
	}
	c, err := tjx509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("tjfoc reads a %T key", c.PublicKey)
	}
	return &tjsm2.PublicKey{Curve: k.Curve, X: k.X, Y: k.Y}
}

// checkSM2Signature verifies a raw SM2 signature (SM3 with Z, default
// user id, DER) by the leaf of certPEM with tjfoc and, when it is
// installed, OpenSSL; a changed message must fail.
func checkSM2Signature(t *testing.T, certPEM string, msg, sig []byte) {
	t.Helper()
	pub := tjfocKey(t, certPEM)
	if !pub.Verify(msg, sig) {
		t.Fatal("tjfoc does not verify the signature")
	}
	if pub.Verify(append(bytes.Clone(msg), '!'), sig) {
		t.Fatal("tjfoc verifies the signature over another message")
	}
	if !testkit.HaveOpenSSL(t) {
		return
	}
	dir := t.TempDir()
	leaf, _ := pem.Decode([]byte(certPEM))
	for name, b := range map[string][]byte{"cert.pem": pem.EncodeToMemory(leaf), "msg": msg, "sig": sig} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	testkit.RunOpenSSL(t, dir, "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem")
	out := testkit.RunOpenSSL(t, dir, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig",
		"-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl: %s", out)
	}
}
