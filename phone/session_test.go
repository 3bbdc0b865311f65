package phone_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// admin sends an operator request and decodes the answer.
func admin(t *testing.T, ts *servertest.TS, method, path string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, ts.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+ts.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanConfirmReject(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin(t, ts, "POST", "/v1/admin/issuers", map[string]any{"id": "sm2", "name": "SM2 CA", "mode": "internal", "alg": "SM2",
		"generate": true, "subject": map[string]string{"common_name": "Phone Test Root"}}, nil)
	var app struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	admin(t, ts, "POST", "/v1/admin/apps", map[string]any{"name": "招标平台", "origins": []string{"https://bid.example.cn"}}, &app)
	c := &phone.Client{BaseURL: ts.URL, State: &phone.State{}}
	if _, err := c.Enroll(ctx, addUser(t, ts, "张三"), "phone", "135790"); err != nil {
		t.Fatal(err)
	}
	cred, err := c.RequestCredential(ctx, "sm2", "SM2", "sign", "135790")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestCredential(ctx, "sm2", "SM2", "encrypt", "135790"); err != nil {
		t.Fatal(err)
	}
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
	if _, err := c.Scan(ctx, s.QR.Payload); phone.Code(err) != "already_scanned" {
		t.Fatalf("second scan: %v", err)
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
