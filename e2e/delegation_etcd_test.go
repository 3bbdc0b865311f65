package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/config"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestDelegationAcrossNodes: delegation on a real etcd with two nodes.
// The operator grants on node A; the staff member accepts and the
// organisation approves on node B; the staff member signs for the
// organisation on B while the portal watches on A; the revocation on A
// refuses the next confirm on B at once.
func TestDelegationAcrossNodes(t *testing.T) {
	t.Parallel()
	endpoint := servertest.StartEtcd(t)
	a := servertest.Start(t, servertest.WithEtcd(strings.TrimPrefix(endpoint, "http://"), "/dlg/"))
	b := servertest.Start(t, a.Peer(), func(c *config.Config) { c.PublicURL = a.Config.PublicURL })
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()

	dw := newDelegationWorld(ctx, t, a, b, seed.Generated("sm2", "SM2", "delegation SM2 Root"), "招标平台 delegation", seed.Sign("sm2", "SM2"), "sign")
	app, org, staff, cred, d, opA := dw.app, dw.org, dw.staff, dw.cred, dw.d, dw.opA
	const staffPIN = delegateStaffPIN

	pcA := &portal.Client{BaseURL: a.URL, AppKey: app.APIKey, Origin: testOrigin}
	data := []byte("投标函 · delegation across nodes")
	newSession := func() *portal.Session {
		s, err := pcA.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSign, Origin: testOrigin, Format: "raw",
			Display: portal.Display{Title: "签名"}, Documents: []portal.Document{{Name: "bid.txt", Data: data}}})
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
	offered := false
	for _, c := range sc.Credentials {
		offered = offered || (c.ID == cred.ID && c.OnBehalfOf == org.ID)
	}
	if !offered {
		t.Fatalf("the scan on B does not offer the organisation's credential: %+v", sc.Credentials)
	}
	if state, err := staff.Phone.Confirm(ctx, s.ID, cred.ID, staffPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm on B: %q %v", state, err)
	}
	var last portal.Event
	for ev := range events {
		last = ev
	}
	res, err := last.Sign()
	if err != nil || res.OnBehalfOf != org.ID || res.Delegate != staff.ID {
		t.Fatalf("the result pushed to A: %+v %v", res, err)
	}
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
	if err != nil || gmcrypto.Verify(certs[0].PublicKey, data, res.Documents[0].Signature, nil) != nil {
		t.Fatalf("the signature does not verify under the organisation's certificate: %v", err)
	}

	// Revoked on A, refused on B.
	s2 := newSession()
	if _, err := staff.Phone.Scan(ctx, s2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := opA.RevokeDelegation(ctx, org.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := staff.Phone.Confirm(ctx, s2.ID, cred.ID, staffPIN, s2.Code); !protocol.IsCode(err, protocol.CodeDelegationRevoked) {
		t.Fatalf("confirm on B after the revocation on A: %v", err)
	}
	if v, err := pcA.GetSession(ctx, s2.ID); err != nil || v.State != portal.StateScanned {
		t.Fatalf("the refused session: %+v %v", v, err)
	}
}

// delegateStaffPIN is the staff member's own PIN in newDelegationWorld.
const delegateStaffPIN = "246813"

// delegationWorld is an organisation and its staff member enrolled on
// node B of a two-node cluster, with an issuer and an app made on node A,
// and a delegation of the organisation's credential granted on A and
// accepted and approved on B.
type delegationWorld struct {
	app        *operator.App
	org, staff *seed.EnrolledUser
	cred       *phone.Credential
	d          *operator.Delegation
	opA        *operator.Client
}

// newDelegationWorld makes a delegationWorld: iss and an app named appName
// on A; on B the organisation with credential c (its "issuer/purpose"
// credential is delegated for kinds) and the staff member, whose PIN is
// then delegateStaffPIN.
func newDelegationWorld(ctx context.Context, t *testing.T, a, b *servertest.TS, iss operator.IssuerRequest, appName string, c seed.Credential, kinds ...string) *delegationWorld {
	t.Helper()
	app := seed.Make(t, a.URL, a.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Apps:    []operator.AppRequest{{Name: appName, Origins: []string{testOrigin}}},
	}).Apps[0]
	users := seed.Make(t, b.URL, b.AdminToken, seed.Spec{PIN: testPIN, NewPhone: newPhone(b), Users: []seed.User{
		{Name: "某某建设有限公司", CreditCode: "91350100M000100Y43", Credentials: []seed.Credential{c}},
		{Name: "李四"},
	}}).Users
	org, staff := users[0], users[1]
	var cred *phone.Credential
	for _, v := range org.Credentials {
		cred = v
	}
	if err := staff.Phone.ChangePIN(ctx, testPIN, delegateStaffPIN); err != nil {
		t.Fatal(err)
	}
	opA := &operator.Client{BaseURL: a.URL, Token: a.AdminToken}
	d, err := opA.AddDelegation(ctx, org.ID, operator.DelegationRequest{User: staff.ID, Credential: cred.ID,
		Kinds: kinds, NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staff.Phone.AcceptDelegation(ctx, d.ID, delegateStaffPIN); err != nil {
		t.Fatalf("accept on B: %v", err)
	}
	if _, err := org.Phone.ApproveDelegation(ctx, d.ID, testPIN); err != nil {
		t.Fatalf("approve on B: %v", err)
	}
	return &delegationWorld{app: app, org: org, staff: staff, cred: cred, d: d, opA: opA}
}
