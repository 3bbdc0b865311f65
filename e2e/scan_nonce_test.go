package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// forged replaces the nonce of a QR payload (<public_url>/q/<id>.<nonce>)
// by a made-up one of the same form, or, with newID, also the id.
func forged(t *testing.T, payload string, newID bool) string {
	t.Helper()
	i := strings.LastIndex(payload, "/q/")
	id, nonce, ok := strings.Cut(payload[i+3:], ".")
	if i < 0 || !ok {
		t.Fatalf("payload %q is not <public_url>/q/<id>.<nonce>", payload)
	}
	token := func(n int) string {
		b := make([]byte, n*3/4)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	if newID {
		id = token(len(id))
	}
	return payload[:i+3] + id + "." + token(len(nonce))
}

// TestScanWrongNonceRevealsNothing: a signed-in phone that scans a real
// session id with a made-up nonce learns nothing about that session —
// not that its app is disabled, not that it is meant for another user, not
// that it has ended: the answer is the not-found of an unknown id, and the
// session stays scannable by its real QR code. Before the nonce was
// checked first, a disabled app answered 403 app_disabled.
func TestScanWrongNonceRevealsNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	_, intruder := enrollUser(t, w.ts, "李四")
	create := func(pc *portal.Client, user string) *portal.Session {
		t.Helper()
		s, err := pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: testOrigin, User: user,
			Display: portal.Display{Title: "登录", Summary: "nonce first"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refusal := func(p *phone.Client, payload string) string {
		t.Helper()
		_, err := p.Scan(ctx, payload)
		var ae *phone.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("scan of %s: %v, want a refusal", payload, err)
		}
		return ae.Code + " " + ae.Message
	}

	// A second app, disabled after its session was created.
	other := addApp(t, w.ts, "停用的平台")
	disabled := create(&portal.Client{BaseURL: w.ts.URL, AppKey: other.APIKey, Origin: testOrigin}, "")
	if _, err := admin(w.ts).DisableApp(ctx, other.ID); err != nil {
		t.Fatal(err)
	}

	forUser := create(w.pc, w.userID) // meant for 张三, not the intruder
	ended := create(w.pc, "")
	if err := w.pc.CancelSession(ctx, ended.ID); err != nil {
		t.Fatal(err)
	}

	unknown := refusal(intruder, forged(t, disabled.QR.Payload, true))
	if !strings.HasPrefix(unknown, "session_not_found ") {
		t.Fatalf("an unknown id: %s", unknown)
	}
	for name, s := range map[string]*portal.Session{"disabled app": disabled, "another user's": forUser, "cancelled": ended} {
		if got := refusal(intruder, forged(t, s.QR.Payload, false)); got != unknown {
			t.Errorf("%s session with a made-up nonce: %q, an unknown id: %q", name, got, unknown)
		}
	}
	// With the real nonce the phone is told why (the nonce was right).
	if got := refusal(w.phone, disabled.QR.Payload); !strings.HasPrefix(got, "app_disabled ") {
		t.Errorf("the real QR code of a disabled app's session: %s", got)
	}
	// The made-up scans changed nothing: the real QR code still scans.
	if _, err := w.phone.Scan(ctx, forUser.QR.Payload); err != nil {
		t.Fatalf("the real QR code after the made-up scans: %v", err)
	}
}
