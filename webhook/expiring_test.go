package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/ca"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/session"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
	"github.com/ukeygate/ukeygate/webhook"
)

// testClock is the clock of the CA, the outbox and the receivers'
// signature checks: the test moves it to each reminder day instead of
// waiting for it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// caSource adapts the CA to the reminders (as the server's wiring does).
type caSource struct{ ca *ca.Service }

func (c caSource) ExpiringCredentials(ctx context.Context, within time.Duration) ([]webhook.ExpiringCredential, error) {
	list, err := c.ca.ExpiringCredentials(ctx, within)
	if err != nil {
		return nil, err
	}
	var out []webhook.ExpiringCredential
	for _, x := range list {
		out = append(out, webhook.ExpiringCredential{ID: x.ID, User: x.UserID, Issuer: x.IssuerID,
			Purpose: string(x.Purpose), NotAfter: x.NotAfter, Guards: x.Guards})
	}
	return out, nil
}

// remNode is one gateway: sessions with the outbox, a CA and an audit
// log, all on one etcd client of its own.
type remNode struct {
	*node
	ca  *ca.Service
	log *audit.Log
}

const remPIN = "246810"

var remMaster = bytes.Repeat([]byte{9}, 32)

func newRemNode(t *testing.T, st storage.Store, clk *testClock) *remNode {
	t.Helper()
	cfg := fastConfig()
	cfg.Now = clk.Now
	cfg.ReminderInterval = 24 * time.Hour // the test calls RemindExpiring itself
	n := newNode(t, st, cfg)
	caCfg := ca.DefaultConfig()
	caCfg.Now = clk.Now
	cs, err := ca.New(st, remMaster, caCfg)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(st, remMaster, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = log.Close() })
	n.hooks.UseReminders(caSource{cs}, log)
	return &remNode{node: n, ca: cs, log: log}
}

// user makes an enrolled user with one SM2 sign credential.
func (n *remNode) user(t *testing.T, ctx context.Context, name string) (*ca.User, *ca.Credential) {
	t.Helper()
	u, code, err := n.ca.AddUser(ctx, ca.UserRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	key, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := gmcrypto.MarshalPublicKeyPEM(key.Public())
	if _, _, err := n.ca.Enroll(ctx, code, pub, "phone", remPIN); err != nil {
		t.Fatal(err)
	}
	c, err := n.ca.CreateCredential(ctx, ca.CredentialRequest{UserID: u.ID, IssuerID: "sm2", Alg: gmcrypto.AlgSM2, Purpose: ca.PurposeSign, PIN: remPIN})
	if err != nil {
		t.Fatal(err)
	}
	return u, c
}

// serve runs a completed login session of app for user.
func (n *remNode) serve(t *testing.T, ctx context.Context, app, user string) {
	t.Helper()
	s, _, nonce, err := n.sess.Create(ctx, session.CreateParams{
		Kind: session.KindLogin, AppID: app, Origin: origin,
		Request: session.Request{Display: session.Display{Title: "登录"}},
		Desktop: session.Desktop{IP: "203.0.113.7", UserAgent: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Scan(ctx, s.ID, nonce, "dev_"+user, user); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Confirm(ctx, s.ID, "dev_"+user, func(*session.Session) (json.RawMessage, error) {
		return json.RawMessage(`{"user":"` + user + `"}`), nil
	}); err != nil {
		t.Fatal(err)
	}
}

// expiring returns the credential.expiring events rc acknowledged.
func (rc *receiver) expiring() []portal.WebhookEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []portal.WebhookEvent
	for _, ev := range rc.acked {
		if ev.Type == portal.EventCredentialExpiring {
			out = append(out, ev)
		}
	}
	return out
}

// remindBoth looks for reminders on both nodes at once and returns how
// many each queued.
func remindBoth(t *testing.T, ctx context.Context, nodes []*remNode) [2]int {
	t.Helper()
	var got [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = n.hooks.RemindExpiring(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// Two nodes on one real etcd look for reminders at once at each reminder
// day (30, 7 and 1 days before the certificates end, on a clock the test
// moves): each app that served a user gets each reminder of that user's
// credential exactly once, over loopback, signed; an app that served
// nobody, and the apps of a revoked credential, of a renewed one (after
// its renewal) and of an account being deleted get nothing. Every reminder
// is audited.
func TestExpiryRemindersOnTwoNodes(t *testing.T) {
	e := testkit.RunEtcd(t)
	ctx := ctxFor(t)
	clk := &testClock{t: time.Now()}
	const prefix = "/hooks-expiring/"
	var nodes []*remNode
	for range 2 {
		nodes = append(nodes, newRemNode(t, openEtcd(t, e.URL, prefix), clk))
	}
	n0 := nodes[0]
	if _, err := n0.ca.AddIssuer(ctx, ca.IssuerRequest{ID: "sm2", Name: "SM2", Mode: ca.ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: ca.Subject{CommonName: "Reminder Test Root"}}); err != nil {
		t.Fatal(err)
	}
	apps := []string{"app_a", "app_b", "app_c", "app_d", "app_idle"}
	rcs := map[string]*receiver{}
	for _, app := range apps {
		rc := newReceiver(t, nil)
		hook, err := n0.hooks.Set(ctx, app, rc.URL())
		if err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		rc.secret, rc.now = hook.Secret, clk.Now
		rc.mu.Unlock()
		rcs[app] = rc
	}
	for _, n := range nodes {
		n.hooks.Start()
	}

	u1, c1 := n0.user(t, ctx, "张一") // served by a and b: reminded
	u2, c2 := n0.user(t, ctx, "李二") // served by b: revoked before
	u3, c3 := n0.user(t, ctx, "王三") // served by c: renewed after the first reminder
	u4, _ := n0.user(t, ctx, "赵四")  // served by d: deletes the account
	for i, s := range []struct{ app, user string }{
		{"app_a", u1.ID}, {"app_b", u1.ID}, {"app_a", u1.ID}, {"app_b", u2.ID}, {"app_c", u3.ID}, {"app_d", u4.ID},
	} {
		nodes[i%2].serve(t, ctx, s.app, s.user)
	}
	// A session that did not complete serves nobody.
	if _, _, _, err := nodes[1].sess.Create(ctx, session.CreateParams{Kind: session.KindLogin, AppID: "app_idle", Origin: origin,
		Request: session.Request{Display: session.Display{Title: "登录"}}}); err != nil {
		t.Fatal(err)
	}

	if _, err := n0.ca.Revoke(ctx, c2.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if _, err := n0.ca.BeginDeletion(ctx, u4.ID, remPIN); err != nil {
		t.Fatal(err)
	}

	// Nothing is due two years before the end.
	if got := remindBoth(t, ctx, nodes); got != [2]int{} {
		t.Fatalf("reminders a long way from the end: %v", got)
	}
	end := c1.NotAfter
	if d := c3.NotAfter.Sub(end); d < -time.Minute || d > time.Minute {
		t.Fatalf("the credentials end %s apart", d)
	}
	want := map[string][]int{} // app → reminder days received, in order
	stage := func(days int, apps ...string) {
		t.Helper()
		clk.Set(end.Add(-time.Duration(days)*24*time.Hour + time.Hour))
		got := remindBoth(t, ctx, nodes)
		// The two nodes raced; each reminder went out once, whoever won.
		if got[0]+got[1] > len(apps) {
			t.Fatalf("%d days: %v queued, want %d in all", days, got, len(apps))
		}
		if again := remindBoth(t, ctx, nodes); again != [2]int{} {
			t.Fatalf("%d days, second look: %v queued again", days, again)
		}
		for _, app := range apps {
			want[app] = append(want[app], days)
			rc := rcs[app]
			waitFor(t, fmt.Sprintf("the %d-day reminder at %s", days, app), func() bool { return len(rc.expiring()) >= len(want[app]) })
		}
	}
	stage(30, "app_a", "app_b", "app_c")
	if _, err := n0.ca.RenewCredential(ctx, u3.ID, c3.ID, remPIN, false); err != nil {
		t.Fatal(err)
	}
	stage(7, "app_a", "app_b")
	stage(1, "app_a", "app_b")

	for _, n := range nodes {
		waitFor(t, "the outbox to drain", func() bool {
			for _, app := range apps {
				list, _, err := n.hooks.List(ctx, app, "", webhook.MaxListLimit)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range list {
					if d.State == protocol.DeliveryPending {
						return false
					}
				}
			}
			return true
		})
	}
	for _, app := range apps {
		rc := rcs[app]
		evs := rc.expiring()
		var days []int
		for _, ev := range evs {
			r := ev.CredentialExpiring
			days = append(days, r.ReminderDays)
			wantCred, wantUser := c1, u1
			if app == "app_c" {
				wantCred, wantUser = c3, u3
			}
			if ev.App != app || ev.Session != "" || r.Credential != wantCred.ID || r.User != wantUser.ID || r.Issuer != "sm2" ||
				r.Purpose != "sign" || !r.NotAfter.Equal(wantCred.NotAfter) || r.DaysLeft != r.ReminderDays {
				t.Errorf("%s got %+v %+v", app, ev, r)
			}
		}
		if !slices.Equal(days, want[app]) {
			t.Errorf("%s got the reminders %v, want %v", app, days, want[app])
		}
		rc.mu.Lock()
		for id, k := range rc.ackedBy {
			if k != 1 {
				t.Errorf("%s acknowledged delivery %s %d times", app, id, k)
			}
		}
		rc.mu.Unlock()
	}

	// One audit entry per reminder, the chain intact.
	entries, err := n0.log.List(ctx, audit.Filter{Action: webhook.ActionCredentialExpiring})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 7 {
		t.Fatalf("%d audit entries of reminders, want 7", len(entries))
	}
	for _, en := range entries {
		if en.Actor != "gateway" || en.CredentialID == "" || en.AppID == "" || en.IssuerID != "sm2" {
			t.Errorf("audit entry %+v", en)
		}
	}
	if _, err := nodes[1].log.Verify(ctx); err != nil {
		t.Fatalf("audit verify: %v", err)
	}

	// The deliveries list them; a redelivery sends the same reminder
	// under a new id.
	list, _, err := n0.hooks.List(ctx, "app_a", "", webhook.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	var first *protocol.Delivery
	for i, d := range list {
		if d.Type == protocol.EventTypeCredentialExpiring {
			if d.Credential != c1.ID || d.Session != "" || d.State != protocol.DeliveryDelivered {
				t.Fatalf("listed %+v", d)
			}
			if first == nil {
				first = &list[i]
			}
		}
	}
	if first == nil {
		t.Fatal("no reminder listed")
	}
	again, err := nodes[1].hooks.Redeliver(ctx, "app_a", first.ID)
	if err != nil || again.RedeliveryOf != first.ID || again.Type != protocol.EventTypeCredentialExpiring {
		t.Fatalf("redeliver: %+v %v", again, err)
	}
	waitFor(t, "the redelivery", func() bool { return len(rcs["app_a"].expiring()) == 4 })
	evs := rcs["app_a"].expiring()
	i := slices.IndexFunc(evs, func(ev portal.WebhookEvent) bool { return ev.ID == first.ID })
	if i < 0 || evs[3].ID != again.ID || *evs[3].CredentialExpiring != *evs[i].CredentialExpiring {
		t.Fatalf("redelivered %+v %+v, want %s repeating %s", evs[3], evs[3].CredentialExpiring, again.ID, first.ID)
	}

	// The outbox's part of the account: exported, then erased.
	ex, err := n0.hooks.Export(ctx, u1.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := ex.(*webhook.UserRecords)
	if len(rec.Served) != 2 || rec.Served[0].App != "app_a" || rec.Served[1].App != "app_b" || len(rec.Reminders) != 6 {
		t.Fatalf("export %+v", rec)
	}
	if err := n0.hooks.Erase(ctx, u1.ID); err != nil {
		t.Fatal(err)
	}
	ex, _ = n0.hooks.Export(ctx, u1.ID)
	if rec := ex.(*webhook.UserRecords); len(rec.Served) != 0 || len(rec.Reminders) != 0 {
		t.Fatalf("export after erasure %+v", rec)
	}
	list, _, _ = n0.hooks.List(ctx, "app_a", "", webhook.MaxListLimit)
	for _, d := range list {
		if d.Type != "" {
			t.Fatalf("a reminder delivery outlived the erasure: %+v", d)
		}
	}
}

// The reminder days and interval are checked.
func TestReminderConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		days     []int
		interval time.Duration
		ok       bool
	}{
		"default":      {webhook.DefaultReminderDays(), time.Hour, true},
		"none":         {nil, time.Hour, true},
		"zero day":     {[]int{0}, time.Hour, false},
		"too far":      {[]int{webhook.MaxReminderDay + 1}, time.Hour, false},
		"twice":        {[]int{7, 7}, time.Hour, false},
		"too many":     {[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, time.Hour, false},
		"no interval":  {[]int{30}, 0, false},
		"interval max": {[]int{30}, 25 * time.Hour, false},
	} {
		cfg := webhook.DefaultConfig()
		cfg.ReminderDays, cfg.ReminderInterval = tc.days, tc.interval
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// On one node (bbolt), the sending node's own loop queues the reminders
// (no explicit call): a credential first seen 6 days before its end gets
// the 7-day reminder only, never the 30-day one late. An organisation
// whose credential a delegate used at an app (the result's on_behalf_of)
// counts as served by that app.
func TestRemindersQueuedByTheSendingNode(t *testing.T) {
	ctx := ctxFor(t)
	clk := &testClock{t: time.Now()}
	st := storagetest.MustOpen(t)
	cfg := fastConfig()
	cfg.Now, cfg.SingleNode, cfg.ReminderInterval = clk.Now, true, time.Second
	n := &remNode{node: newNode(t, st, cfg)}
	caCfg := ca.DefaultConfig()
	caCfg.Now = clk.Now
	var err error
	if n.ca, err = ca.New(st, remMaster, caCfg); err != nil {
		t.Fatal(err)
	}
	if _, err := n.ca.AddIssuer(ctx, ca.IssuerRequest{ID: "sm2", Name: "SM2", Mode: ca.ModeInternal, Alg: gmcrypto.AlgSM2, Generate: true,
		Subject: ca.Subject{CommonName: "Reminder Loop Root"}}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, nil)
	hook, err := n.hooks.Set(ctx, "app_org", rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret, rc.now = hook.Secret, clk.Now
	rc.mu.Unlock()
	org, c := n.user(t, ctx, "某某科技有限公司")
	staff, sc := n.user(t, ctx, "经办人")
	// The staff member confirms with the organisation's credential.
	s, _, nonce, err := n.sess.Create(ctx, session.CreateParams{Kind: session.KindLogin, AppID: "app_org", Origin: origin,
		Request: session.Request{Display: session.Display{Title: "登录"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Scan(ctx, s.ID, nonce, "dev_staff", staff.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sess.Confirm(ctx, s.ID, "dev_staff", func(*session.Session) (json.RawMessage, error) {
		return json.RawMessage(`{"user":"` + org.ID + `","on_behalf_of":"` + org.ID + `","delegate":"` + staff.ID + `"}`), nil
	}); err != nil {
		t.Fatal(err)
	}

	clk.Set(c.NotAfter.Add(-6 * 24 * time.Hour))
	n.hooks.UseReminders(caSource{n.ca}, nil)
	n.hooks.Start()
	// The app saw both: the organisation (on_behalf_of) and the delegate
	// (the session's user); each one's credential is reminded once.
	waitFor(t, "the reminders", func() bool { return len(rc.expiring()) >= 2 })
	got := map[string]portal.CredentialExpiring{}
	for _, ev := range rc.expiring() {
		got[ev.User] = *ev.CredentialExpiring
	}
	for user, cred := range map[string]*ca.Credential{org.ID: c, staff.ID: sc} {
		if r, ok := got[user]; !ok || r.Credential != cred.ID || r.ReminderDays != 7 || r.DaysLeft != 6 {
			t.Fatalf("reminders %+v: none right for %s", got, user)
		}
	}
	// Later looks (every second) queue nothing more at this reminder.
	if k, err := n.hooks.RemindExpiring(ctx); err != nil || k != 0 {
		t.Fatalf("a second look queued %d (%v)", k, err)
	}
	for _, u := range []string{org.ID, staff.ID} {
		ex, err := n.hooks.Export(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if rec := ex.(*webhook.UserRecords); len(rec.Served) != 1 || rec.Served[0].App != "app_org" || len(rec.Reminders) != 1 || rec.Reminders[0].ReminderDays != 7 {
			t.Fatalf("the records of %s: %+v", u, rec)
		}
	}
	if len(rc.expiring()) != 2 {
		t.Fatalf("reminders %+v", rc.expiring())
	}
}
