package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestDelegationSupersededAcrossNodes: on a real etcd with two nodes, a
// portal on A seals a bid to the organisation's encryption certificate;
// the organisation renews it with a new key on B; the staff member,
// whose delegation was approved before the renewal, opens the bid on B
// while the portal watches on A, confirming with the current credential:
// the gateway follows supersedes to the old one and the result names the
// organisation and the staff member. Revoked on A, the delegation opens
// nothing on B.
func TestDelegationSupersededAcrossNodes(t *testing.T) {
	t.Parallel()
	endpoint := servertest.StartEtcd(t)
	a := servertest.Start(t, servertest.WithEtcd(strings.TrimPrefix(endpoint, "http://"), "/dlgsup/"))
	b := servertest.Start(t, a.Peer(), func(c *config.Config) { c.PublicURL = a.Config.PublicURL })
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()

	iss := seed.Generated("sm2", "SM2", "delegation renewal SM2 Root")
	iss.Profile.RenewalKey = "either"
	dw := newDelegationWorld(ctx, t, a, b, iss, "招标平台 renewal", seed.Encrypt("sm2", "SM2"), "decrypt")
	app, org, staff, old, d, opA := dw.app, dw.org, dw.staff, dw.cred, dw.d, dw.opA
	const staffPIN = delegateStaffPIN

	pcA := &portal.Client{BaseURL: a.URL, AppKey: app.APIKey, Origin: testOrigin}
	plain := []byte("投标文件 · sealed before the renewal")
	env, err := pcA.Encrypt(ctx, org.ID, "sm2", plain)
	if err != nil {
		t.Fatal(err)
	}
	succ, err := org.Phone.RenewCredential(ctx, old.ID, testPIN, true)
	if err != nil || succ.Supersedes != old.ID {
		t.Fatalf("renew on B: %+v %v", succ, err)
	}
	newSession := func() *portal.Session {
		s, err := pcA.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindDecrypt, Origin: testOrigin,
			Ciphertext: env, CiphertextFormat: "cms", Display: portal.Display{Title: "开标"}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newSession()
	events, err := pcA.Watch(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := staff.Phone.Scan(ctx, s.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Credentials) == 0 || sc.Credentials[0].ID != old.ID || sc.Credentials[0].OnBehalfOf != org.ID ||
		sc.Credentials[0].Delegation != d.ID {
		t.Fatalf("the scan on B does not offer the superseded credential first: %+v", sc.Credentials)
	}
	if state, err := staff.Phone.Confirm(ctx, s.ID, succ.ID, staffPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm on B: %q %v", state, err)
	}
	var last portal.Event
	for ev := range events {
		last = ev
	}
	res, err := last.Decrypt()
	if err != nil || !bytes.Equal(res.Plaintext, plain) || res.OnBehalfOf != org.ID || res.Delegate != staff.ID {
		t.Fatalf("the result pushed to A: %+v %v", res, err)
	}
	entries, err := opA.AllAudit(ctx, operator.AuditFilter{SessionID: s.ID})
	if err != nil || len(entries) != 1 || entries[0].CredentialID != old.ID || entries[0].OnBehalfOf != org.ID {
		t.Fatalf("audit on A: %+v %v", entries, err)
	}

	// Revoked on A, refused on B.
	s2 := newSession()
	if _, err := staff.Phone.Scan(ctx, s2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := opA.RevokeDelegation(ctx, org.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{old.ID, succ.ID} {
		if _, err := staff.Phone.Confirm(ctx, s2.ID, cred, staffPIN, s2.Code); !protocol.IsCode(err, protocol.CodeDelegationRevoked) {
			t.Fatalf("confirm with %s on B after the revocation on A: %v", cred, err)
		}
	}
	if v, err := pcA.GetSession(ctx, s2.ID); err != nil || v.State != portal.StateScanned {
		t.Fatalf("the refused session: %+v %v", v, err)
	}
}
