package browser_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestPhonePrivacy: the user's privacy rights in the phone web app. "我的
// 数据" downloads the export (the file is checked: the user's own
// records), and "注销账户" shows a clear warning, is enabled only once the
// user ticks that they understand, refuses a wrong PIN, and with the PIN
// deletes the account: the gateway no longer knows the user and the app
// forgets the device.
func TestPhonePrivacy(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	const name = "王小明"
	u := w.newUser(t, name)
	p := w.newPhone(t, "zh-privacy", "zh-CN,zh;q=0.9")
	step(t, p, "the user enrolls and gets a signing certificate", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, false, false)
		p.waitView("home")
		p.tap("tab-certs")
		p.waitView("certs")
		p.tap("request-new")
		p.waitView("request-cert")
		p.wait(`document.querySelector('[data-t=purpose-sign]').getAttribute('aria-checked') === 'true'`, "a signing certificate")
		p.tap("request")
		p.enterPIN(pinA)
		p.waitView("certs")
		p.wait(`document.querySelector('[data-t=cert][data-state=active]') !== null`, "the certificate")
	})

	dir := t.TempDir()
	step(t, p, "my data: the export is downloaded", func(t *testing.T) {
		c := chromedp.FromContext(p.ctx)
		if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: c.BrowserContextID, DownloadPath: dir,
		}); err != nil {
			t.Fatal(err)
		}
		p.tap("tab-me")
		p.waitView("me")
		p.center("delete-account")
		p.shot("me-privacy-rows")
		p.tap("my-data")
		p.waitView("my-data")
		p.shot("my-data")
		p.tap("download-data")
		p.wait(`document.querySelector('[data-t=data-summary] [data-t=data-name]') !== null`, "the export's summary")
		if got := p.txt("data-name"); got != name {
			t.Errorf("summary name %q", got)
		}
		if got := p.txt("data-count-credentials"); got != "1" {
			t.Errorf("summary credentials %q", got)
		}
		p.shot("my-data-downloaded")
		p.axe("my data")
		var file string
		deadline := time.Now().Add(time.Minute)
		for file == "" {
			m, _ := filepath.Glob(filepath.Join(dir, "ukeygate-my-data-*.json"))
			if len(m) == 1 {
				file = m[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no download in %s", dir)
			}
			time.Sleep(100 * time.Millisecond) // polling interval, not a synchronisation
		}
		var export protocol.PersonalData
		for {
			raw, err := os.ReadFile(file)
			if err == nil && json.Unmarshal(raw, &export) == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("download %s: %v", file, err)
			}
			time.Sleep(100 * time.Millisecond) // the file may still be written
		}
		if export.User == nil || export.User.ID != u.id || export.User.Name != name || len(export.Devices) != 1 ||
			len(export.Credentials) != 1 || export.Credentials[0].CertificatePEM == "" || len(export.Audit) == 0 {
			t.Fatalf("the downloaded export: %+v", export)
		}
		for _, e := range export.Audit {
			if e.UserID != u.id && e.Actor != "device:"+export.Devices[0].ID {
				t.Fatalf("the export holds another user's entry: %+v", e)
			}
		}
	})

	step(t, p, "delete my account: warning, wrong PIN, then the PIN", func(t *testing.T) {
		p.tap("tab-me")
		p.waitView("me")
		p.center("delete-account")
		p.tap("delete-account")
		p.waitView("delete-account")
		warn := p.txt("delete-warning")
		for _, want := range []string{"无法恢复", "吊销", "永远无法解密"} {
			if !strings.Contains(warn, want) {
				t.Errorf("the warning %q lacks %q", warn, want)
			}
		}
		if !eval[bool](p.tab, `document.querySelector('[data-t=delete-go]').disabled`) {
			t.Error("the delete button is enabled before the user ticks the box")
		}
		p.shot("delete-account-warning")
		p.axe("delete account")
		// The same screen in English.
		p.tap("back")
		p.waitView("me")
		p.switchLang("lang", "en")
		p.center("delete-account")
		p.tap("delete-account")
		p.waitView("delete-account")
		p.wait(`document.querySelector('[data-t=delete-warning]').textContent.indexOf('cannot be undone') >= 0`, "the English warning")
		p.shot("delete-account-warning-en")
		p.tap("back")
		p.waitView("me")
		p.switchLang("lang", "zh-CN")
		p.center("delete-account")
		p.tap("delete-account")
		p.waitView("delete-account")
		p.tap("delete-understand")
		p.wait(`!document.querySelector('[data-t=delete-go]').disabled`, "the delete button enabled")
		p.tap("delete-go")
		p.waitSheet()
		p.enterPIN(testPIN) // not this user's PIN
		if msg := p.pinMessage(); !strings.Contains(msg, "PIN") {
			t.Errorf("wrong PIN message %q", msg)
		}
		if _, err := w.operator().User(w.ctx(), u.id); err != nil {
			t.Fatalf("a wrong PIN deleted the account: %v", err)
		}
		p.shot("delete-account-pin")
		p.enterPIN(pinA)
		p.waitView("account-deleted")
		if got := p.message(); !strings.Contains(got, "已吊销 1 张证书") {
			t.Errorf("deleted message %q", got)
		}
		p.shot("account-deleted")
		if _, err := w.operator().User(w.ctx(), u.id); protocol.ErrorCode(err) != protocol.CodeUserNotFound {
			t.Fatalf("the deleted user: %v", err)
		}
		if v, err := w.operator().VerifyAudit(w.ctx()); err != nil || !v.Valid {
			t.Fatalf("audit verify: %+v %v", v, err)
		}
		if d := p.storedDevice(); d.DeviceID != "" {
			t.Errorf("the app kept the device %+v", d)
		}
		p.onlyGateway()
	})
}
