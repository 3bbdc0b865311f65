package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestClusterAcrossNodes runs two gateway nodes on one real etcd, as two
// nodes behind a load balancer would run: the same public_url, master key
// and admin token, nothing shared but the store. The portal creates the
// session and watches its websocket on node A; the phone enrolls, scans
// and confirms on node B; the result reaches the watcher on A through
// etcd's watch. A second session, watched by nobody, expires on time
// (the expirer of either node fires it) and both nodes say so.
func TestClusterAcrossNodes(t *testing.T) {
	t.Parallel() // waits for an expiry; its own etcd and nodes
	endpoint := servertest.StartEtcd(t)
	a := servertest.Start(t, servertest.WithEtcd(strings.TrimPrefix(endpoint, "http://"), "/cluster/"))
	b := servertest.Start(t, a.Peer(), func(c *config.Config) { c.PublicURL = a.Config.PublicURL })
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()

	// The operator works on A; everything is visible on B.
	app := seed.Make(t, a.URL, a.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "cluster SM2 Root")},
		Apps:    []operator.AppRequest{{Name: "招标平台 cluster", Origins: []string{testOrigin}}},
	}).Apps[0]

	// The phone talks to node B only (the operator too, for this user).
	user := seed.Make(t, b.URL, b.AdminToken, seed.Spec{PIN: testPIN, NewPhone: newPhone(b),
		Users: []seed.User{{Name: "李四", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}}}}).Users[0]
	userID, ph, cred := user.ID, user.Phone, user.Credentials["sm2/sign"]

	pcA := &portal.Client{BaseURL: a.URL, AppKey: app.APIKey, Origin: testOrigin}
	s, err := pcA.CreateSession(ctx, portal.SessionRequest{
		Kind: portal.KindLogin, Origin: testOrigin,
		Display: portal.Display{Title: "登录", Summary: "cluster login"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Watch.WSURL, strings.Replace(a.URL, "http", "ws", 1)) {
		t.Fatalf("watch URL %s is not on node A (%s)", s.Watch.WSURL, a.URL)
	}
	events, err := pcA.Watch(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ph.Scan(ctx, s.QR.Payload); err != nil {
		t.Fatalf("scan on node B: %v", err)
	}
	if state, err := ph.Confirm(ctx, s.ID, cred.ID, testPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm on node B: %q, %v", state, err)
	}
	var got []portal.Event
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != 3 || got[0].State != "waiting" || got[1].State != "scanned" || got[2].State != portal.StateCompleted {
		t.Fatalf("the watcher on A got %+v, want waiting, scanned, completed", got)
	}
	login, err := got[2].Login()
	if err != nil {
		t.Fatal(err)
	}
	v, err := portal.VerifyLogin(login, portal.LoginExpect{Session: s.ID, App: app.ID, Origin: testOrigin})
	if err != nil {
		t.Fatalf("the login pushed to A does not verify: %v", err)
	}
	if login.User != userID || v.Certificate.Subject.CommonName != "李四" {
		t.Fatalf("login of %s (%s), want %s", login.User, v.Certificate.Subject.CommonName, userID)
	}

	// Expiry with nobody watching, seen from both nodes.
	short, err := pcA.CreateSession(ctx, portal.SessionRequest{
		Kind: portal.KindLogin, Origin: testOrigin, TTLSeconds: 1,
		Display: portal.Display{Title: "登录", Summary: "expires"},
	})
	if err != nil {
		t.Fatal(err)
	}
	pcB := &portal.Client{BaseURL: b.URL, AppKey: app.APIKey, Origin: testOrigin}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sa, errA := pcA.GetSession(ctx, short.ID)
		sb, errB := pcB.GetSession(ctx, short.ID)
		if errA != nil || errB != nil {
			t.Fatalf("reading the session: A %v, B %v", errA, errB)
		}
		if sa.State == "expired" && sb.State == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not expired after 30 s: A %s, B %s", sa.State, sb.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := ph.Scan(ctx, short.QR.Payload); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("scanning an expired session on B: %v, want session_expired", err)
	}
}
