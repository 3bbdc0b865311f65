package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/internal/testkit"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
)

// TestRecordCacheAcrossNodes checks the record cache (package
// storage/readcache) of two nodes on one real etcd. Node B serves the
// phones and portals, so its cache holds their users, credentials and
// apps; the changes are made on B itself and on A:
//
//   - on the same node, a revoked credential, a disabled app and a removed
//     issuer are refused by the very next request;
//   - a credential revoked on A is refused by the next confirm on B at
//     once (the key use's transaction checks the credential's revision; a
//     stale cached copy fails it and is read again);
//   - so is a cosign credential revoked on A (its share is handed out
//     only after a transaction checked the revisions read), and a device
//     revoked on A (devices are not cached);
//   - an app disabled and an issuer removed on A are refused on B as soon
//     as B's watch has delivered the change (waited for, never slept);
//   - after etcd is restarted (the watches break or resume), a change made
//     on A still reaches B's cache.
func TestRecordCacheAcrossNodes(t *testing.T) {
	t.Parallel()
	e := testkit.RunEtcd(t)
	a := servertest.Start(t, servertest.WithEtcd(strings.TrimPrefix(e.URL, "http://"), "/cache/"))
	b := servertest.Start(t, a.Peer(), func(c *config.Config) { c.PublicURL = a.Config.PublicURL })
	ctx, cancel := context.WithTimeout(context.Background(), 4*flowTimeout)
	defer cancel()

	w := seed.Make(t, a.URL, a.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "cache SM2 Root"),
			seed.Generated("gone1", "SM2", "cache removed here"), seed.Generated("gone2", "SM2", "cache removed on A"),
			seed.Generated("co", "SM2", "cache cosign Root")},
		Apps: []operator.AppRequest{
			{Name: "cache same node", Origins: []string{testOrigin}},
			{Name: "cache across nodes", Origins: []string{testOrigin}},
			{Name: "cache after restart", Origins: []string{testOrigin}},
		},
	})
	users := seed.Make(t, b.URL, b.AdminToken, seed.Spec{PIN: testPIN, NewPhone: newPhone(b), Users: []seed.User{
		{Name: "张三", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		{Name: "李四", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		{Name: "王五", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
	}}).Users
	portalB := func(app *operator.App) *portal.Client {
		return &portal.Client{BaseURL: b.URL, AppKey: app.APIKey, Origin: testOrigin}
	}
	createFor := func(app *operator.App, issuer string) (*portal.Session, error) {
		return portalB(app).CreateSession(ctx, portal.SessionRequest{Kind: portal.KindLogin, Origin: testOrigin,
			Issuer: issuer, Display: portal.Display{Title: "登录"}})
	}
	create := func(app *operator.App) (*portal.Session, error) { return createFor(app, "") }
	// login runs a whole login on B (filling B's cache) and returns the
	// confirm's error.
	loginWith := func(app *operator.App, u *seed.EnrolledUser, credID string) error {
		s, err := create(app)
		if err != nil {
			t.Fatalf("create on B: %v", err)
		}
		if _, err := u.Phone.Scan(ctx, s.QR.Payload); err != nil {
			return err
		}
		_, err = u.Phone.Confirm(ctx, s.ID, credID, testPIN, s.Code)
		return err
	}
	login := func(app *operator.App, u *seed.EnrolledUser) error {
		return loginWith(app, u, u.Credentials["sm2/sign"].ID)
	}
	for _, u := range users {
		for _, app := range w.Apps {
			if err := login(app, u); err != nil {
				t.Fatalf("login of %s on B: %v", u.ID, err)
			}
		}
	}
	// A cosign credential, used on B (its record and the user's are then
	// in B's cache).
	co, err := users[1].Phone.RequestCosignCredential(ctx, "co", "sign", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if err := loginWith(w.Apps[2], users[1], co.ID); err != nil {
		t.Fatalf("cosign login on B: %v", err)
	}
	for _, iss := range []string{"gone1", "gone2"} {
		if _, err := createFor(w.Apps[2], iss); err != nil {
			t.Fatalf("create for issuer %s on B: %v", iss, err)
		}
	}
	opA, opB := admin(a), admin(b)

	// Issuers cannot be removed through the API; a record removed from
	// the store (here through each node's own store view) is refused as
	// unknown, on the same node at once, on the other after its watch.
	if _, err := b.Server.Store().Txn(ctx, storage.Delete("issuers/gone1")); err != nil {
		t.Fatal(err)
	}
	if _, err := createFor(w.Apps[2], "gone1"); !protocol.IsCode(err, protocol.CodeUnknownIssuer) {
		t.Fatalf("create on B right after the issuer's removal on B: %v", err)
	}
	if _, err := a.Server.Store().Txn(ctx, storage.Delete("issuers/gone2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := createFor(w.Apps[2], "gone2")
		return protocol.IsCode(err, protocol.CodeUnknownIssuer)
	})

	// Same node: revoked on B, refused by B's next confirm.
	if _, err := opB.RevokeCredential(ctx, users[0].Credentials["sm2/sign"].ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := login(w.Apps[0], users[0]); !protocol.IsCode(err, protocol.CodeCredentialNotActive) {
		t.Fatalf("confirm on B right after the revocation on B: %v", err)
	}
	// Same node: disabled on B, refused by B's next create.
	if _, err := opB.DisableApp(ctx, w.Apps[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := create(w.Apps[0]); !protocol.IsCode(err, protocol.CodeAppDisabled) {
		t.Fatalf("create on B right after disabling the app on B: %v", err)
	}

	// Across nodes: revoked on A, refused by B's next confirm at once.
	if _, err := opA.RevokeCredential(ctx, users[1].Credentials["sm2/sign"].ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := login(w.Apps[1], users[1]); !protocol.IsCode(err, protocol.CodeCredentialNotActive) {
		t.Fatalf("confirm on B right after the revocation on A: %v", err)
	}
	// Across nodes: a cosign credential revoked on A is refused by B's
	// next confirm at once (ca.CosignShare checks the revisions it read).
	if _, err := opA.RevokeCredential(ctx, co.ID, "keyCompromise"); err != nil {
		t.Fatal(err)
	}
	if err := loginWith(w.Apps[2], users[1], co.ID); !protocol.IsCode(err, protocol.CodeCredentialNotActive) {
		t.Fatalf("cosign confirm on B right after the revocation on A: %v", err)
	}
	// Across nodes: disabled on A, refused on B once B's watch delivered it.
	if _, err := opA.DisableApp(ctx, w.Apps[1].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := create(w.Apps[1])
		return protocol.IsCode(err, protocol.CodeAppDisabled)
	})
	// Across nodes: a device revoked on A is refused by B's next request
	// at once (device records are not cached: nothing conditions a
	// device's request on its record's revision).
	dev := users[2].Phone.State.DeviceID
	if _, err := opA.RevokeDevice(ctx, dev, "lost"); err != nil {
		t.Fatal(err)
	}
	if _, err := users[2].Phone.Credentials(ctx); !protocol.IsCode(err, protocol.CodeDeviceRevoked) {
		t.Fatalf("request on B right after the device's revocation on A: %v", err)
	}

	// etcd restarts: B's watches break or resume; either way a change on
	// A reaches B afterwards.
	if _, err := create(w.Apps[2]); err != nil {
		t.Fatalf("create on B before the restart: %v", err)
	}
	e.Restart(t)
	waitFor(t, func() bool {
		_, err := create(w.Apps[2])
		return err == nil
	})
	if _, err := opA.DisableApp(ctx, w.Apps[2].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := create(w.Apps[2])
		return protocol.IsCode(err, protocol.CodeAppDisabled)
	})
}
