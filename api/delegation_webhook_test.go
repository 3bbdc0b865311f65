package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// dlgSink keeps the completed events of verified webhook deliveries.
type dlgSink struct {
	mu     sync.Mutex
	secret string
	done   map[string]json.RawMessage // session -> result
}

func (s *dlgSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, err := portal.VerifyWebhook(s.secret, r)
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ev.State == protocol.StateCompleted {
		s.done[ev.Session] = ev.Result
	}
	w.WriteHeader(http.StatusOK)
}

func (s *dlgSink) result(t *testing.T, session string) json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(sxWaitGuard)
	for {
		s.mu.Lock()
		r, ok := s.done[session]
		s.mu.Unlock()
		if ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed delivery of %s", session)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// TestDelegatedDecryptAndLogin: a staff member decrypts a bid sealed to
// the organisation's encryption certificate and logs in with the
// organisation's signing certificate, each through its own delegation;
// the results, and the webhook deliveries the portal receives, name the
// organisation (on_behalf_of; a login's user is the organisation) and
// the staff member (delegate).
func TestDelegatedDecryptAndLogin(t *testing.T) {
	t.Parallel()
	sink := &dlgSink{done: map[string]json.RawMessage{}}
	rs := httptest.NewServer(sink)
	t.Cleanup(rs.Close)
	ts := servertest.Start(t, func(c *config.Config) {
		c.Webhook.AllowPrivate = true
		c.Webhook.RetryMin, c.Webhook.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	})
	w := seed.Make(t, ts.URL, ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "dlg webhook SM2 Root")},
		Apps:    []operator.AppRequest{{Name: "招标平台", Origins: []string{sxOrigin}, Webhook: &protocol.WebhookRequest{URL: rs.URL + "/hook"}}},
		Users: []seed.User{
			{Name: "alice"},
			{Name: dlgOrgName, CreditCode: dlgCreditCode, Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}},
		},
		PIN: sxPIN,
	})
	sink.mu.Lock()
	sink.secret = w.Apps[0].Webhook.Secret
	sink.mu.Unlock()
	ctx := context.Background()
	staff, org := w.Users[0], w.Users[1]
	if err := staff.Phone.ChangePIN(ctx, sxPIN, dlgStaffPIN); err != nil {
		t.Fatal(err)
	}
	grant := func(cred string, kind string) {
		d, err := w.Op.AddDelegation(ctx, org.ID, operator.DelegationRequest{User: staff.ID, Credential: cred, Kinds: []string{kind}, NotAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := staff.Phone.AcceptDelegation(ctx, d.ID, dlgStaffPIN); err != nil {
			t.Fatal(err)
		}
		if _, err := org.Phone.ApproveDelegation(ctx, d.ID, sxPIN); err != nil {
			t.Fatal(err)
		}
	}
	enc, sig := org.Credentials["sm2/encrypt"], org.Credentials["sm2/sign"]
	grant(enc.ID, "decrypt")
	grant(sig.ID, "login")
	pc := &portal.Client{BaseURL: ts.URL, AppKey: w.Apps[0].APIKey, Origin: sxOrigin}

	run := func(req portal.SessionRequest, cred string) (json.RawMessage, json.RawMessage) {
		t.Helper()
		s, err := pc.CreateSession(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := staff.Phone.Scan(ctx, s.QR.Payload); err != nil {
			t.Fatal(err)
		}
		if _, err := staff.Phone.Confirm(ctx, s.ID, cred, dlgStaffPIN, s.Code); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		v, err := pc.GetSession(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Result, sink.result(t, s.ID)
	}

	plain := []byte("报价：壹佰万元整")
	ct, err := gmcrypto.Encrypt(certOf(t, enc).PublicKey, plain, gmcrypto.FormatASN1)
	if err != nil {
		t.Fatal(err)
	}
	res, hook := run(portal.SessionRequest{Kind: portal.KindDecrypt, Ciphertext: ct, CiphertextFormat: "asn1", Display: portal.Display{Title: "开标"}}, enc.ID)
	for _, raw := range []json.RawMessage{res, hook} {
		var d protocol.DecryptResult
		if json.Unmarshal(raw, &d) != nil || !bytes.Equal(d.Plaintext, plain) || d.OnBehalfOf != org.ID || d.Delegate != staff.ID {
			t.Fatalf("decrypt result %s", raw)
		}
	}

	res, hook = run(portal.SessionRequest{Kind: portal.KindLogin, Display: portal.Display{Title: "登录"}}, sig.ID)
	for _, raw := range []json.RawMessage{res, hook} {
		var l protocol.LoginResult
		if json.Unmarshal(raw, &l) != nil || l.User != org.ID || l.OnBehalfOf != org.ID || l.Delegate != staff.ID || l.Credential != sig.ID {
			t.Fatalf("login result %s", raw)
		}
		if err := gmcrypto.Verify(certOf(t, sig).PublicKey, l.Challenge, l.Signature, nil); err != nil {
			t.Fatalf("login signature: %v", err)
		}
	}
}
