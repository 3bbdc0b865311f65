package phone_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

func TestScanConfirmReject(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	sw := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "Phone Test Root")},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{"https://bid.example.cn"}}},
		Users: []seed.User{{Name: "张三", DeviceName: "phone",
			Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}}},
		PIN: "135790",
	})
	app, c, cred := sw.Apps[0], sw.Users[0].Phone, sw.Users[0].Credentials["sm2/sign"]
	pc := &portal.Client{BaseURL: ts.URL, AppKey: app.APIKey}
	newSession := func() *portal.Session {
		t.Helper()
		s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Origin: "https://bid.example.cn",
			Documents: []portal.Document{{Name: "bid.pdf", Data: []byte("bid")}},
			Display:   portal.Display{Title: "投标", Summary: "sign the bid"},
			Desktop:   &portal.Desktop{IP: "192.0.2.7", UserAgent: "TestBrowser/1.0"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := newSession()
	res, err := c.Scan(ctx, " "+s.QR.Payload+"\n")
	if err != nil {
		t.Fatal(err)
	}
	ss := res.Session
	if ss.ID != s.ID || ss.Kind != "sign" || ss.App.ID != app.ID || ss.App.Name != "招标平台" || ss.Origin != "https://bid.example.cn" ||
		ss.Desktop.IP != "192.0.2.7" || ss.Desktop.UserAgent != "TestBrowser/1.0" || ss.Display.Title != "投标" ||
		len(ss.CodeChoices) != 3 || !slices.Contains(ss.CodeChoices, s.Code) || len(ss.Documents) != 1 ||
		ss.Documents[0].Name != "bid.pdf" || ss.Documents[0].Size == nil || *ss.Documents[0].Size != 3 ||
		time.Until(ss.ExpiresAt) <= 0 {
		t.Fatalf("scan %+v for session %+v", ss, s)
	}
	if len(res.Credentials) != 1 || res.Credentials[0].ID != cred.ID {
		t.Fatalf("fitting credentials %+v, want only %s", res.Credentials, cred.ID)
	}
	// The same phone scanning again (a second tab) is shown the same.
	if again, err := c.Scan(ctx, s.QR.Payload); err != nil || again.Session.ID != s.ID || !slices.Equal(again.Session.CodeChoices, ss.CodeChoices) {
		t.Fatalf("second scan: %+v, %v", again, err)
	}
	if _, err := c.Confirm(ctx, s.ID, cred.ID, "975310", s.Code); phone.Code(err) != "wrong_pin" {
		t.Fatalf("wrong PIN: %v", err)
	}
	state, err := c.Confirm(ctx, s.ID, cred.ID, "135790", s.Code)
	if err != nil || state != "completed" {
		t.Fatalf("confirm: %q, %v", state, err)
	}
	got, err := pc.GetSession(ctx, s.ID)
	if err != nil || got.State != portal.StateCompleted {
		t.Fatalf("session after confirm: %+v, %v", got, err)
	}
	if _, err := c.Reject(ctx, s.ID); phone.Code(err) != "session_closed" {
		t.Fatalf("reject after completion: %v", err)
	}

	s = newSession()
	if _, err := c.Reject(ctx, s.ID); phone.Code(err) != "not_scanned" {
		t.Fatalf("reject before the scan: %v", err)
	}
	if _, err := c.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if state, err := c.Reject(ctx, s.ID); err != nil || state != "rejected" {
		t.Fatalf("reject: %q, %v", state, err)
	}
	if _, err := c.Scan(ctx, s.QR.Payload); phone.Code(err) == "" {
		t.Fatal("a rejected session's QR code scanned again")
	}
}
