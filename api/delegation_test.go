package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

const (
	dlgOrgName    = "某某建设有限公司"
	dlgCreditCode = "91350100M000100Y43"
	dlgStaffPIN   = "246813" // the delegate's own PIN (the organisation's is sxPIN)
)

// dlgWorld: alice is a staff member (SM2 sign credential of her own), bob
// an organisation with SM2 sign and encrypt credentials, carol a person.
type dlgWorld struct {
	*sxWorld
	op          *operator.Client
	orgID       string
	aliceID     string
	orgSignCred *phone.Credential
}

func newDlgWorld(t *testing.T) *dlgWorld {
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "dlg SM2 Root"), seed.Generated("sm2b", "SM2", "dlg SM2 Root B")},
		Users: []seed.User{
			{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
			{Name: dlgOrgName, CreditCode: dlgCreditCode, Credentials: []seed.Credential{seed.Sign("sm2", "SM2"), seed.Encrypt("sm2", "SM2")}},
			{Name: "carol", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
	})
	ctx := context.Background()
	if err := w.alice.ChangePIN(ctx, sxPIN, dlgStaffPIN); err != nil {
		t.Fatal(err)
	}
	return &dlgWorld{sxWorld: w, op: &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken},
		orgID: w.bob.State.UserID, aliceID: w.alice.State.UserID, orgSignCred: w.creds[dlgOrgName+"/sm2/sign"]}
}

// grantActive grants alice the organisation's sign credential with the
// given scope, and has alice accept and the organisation approve it.
func (w *dlgWorld) grantActive(t *testing.T, kinds, apps []string) *protocol.Delegation {
	t.Helper()
	ctx := context.Background()
	d, err := w.op.AddDelegation(ctx, w.orgID, operator.DelegationRequest{User: w.aliceID, Credential: w.orgSignCred.ID,
		Kinds: kinds, Apps: apps, NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("AddDelegation: %v", err)
	}
	if d.State != protocol.DelegationPendingAcceptance || d.OrganizationName != dlgOrgName {
		t.Fatalf("granted: %+v", d)
	}
	if _, err := w.alice.AcceptDelegation(ctx, d.ID, dlgStaffPIN); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if d, err = w.bob.ApproveDelegation(ctx, d.ID, sxPIN); err != nil || d.State != protocol.DelegationActive {
		t.Fatalf("approve: %+v %v", d, err)
	}
	return d
}

func (w *dlgWorld) signSession(t *testing.T, key string) (*sxCreated, []byte) {
	t.Helper()
	data := []byte("投标函：工程总价 1,000,000 元")
	req := map[string]any{"kind": "sign", "alg": "SM2", "format": "raw", "display": map[string]string{"title": "投标", "summary": "sign the bid"},
		"documents": []map[string]any{{"name": "bid.txt", "data": data}}}
	var c sxCreated
	w.must(w.do("POST", "/v1/sessions", req, map[string]string{"Authorization": "Bearer " + key}), http.StatusCreated).decode(t, &c)
	return &c, data
}

func offered(sc *sxScanned, credID string) *phone.Credential {
	for i := range sc.Credentials {
		if sc.Credentials[i].ID == credID {
			return &sc.Credentials[i]
		}
	}
	return nil
}

// TestDelegateSignsForOrganisation: a staff member signs with the
// organisation's credential and their own PIN; the result, the event (and
// so the webhook) and the audit log name both; the organisation's PIN
// counter is untouched by the staff member's wrong PIN.
func TestDelegateSignsForOrganisation(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	ctx := context.Background()

	// Before the delegation is active, the phone is not offered the
	// organisation's credential and cannot use it.
	d, err := w.op.AddDelegation(ctx, w.orgID, operator.DelegationRequest{User: w.aliceID, Credential: w.orgSignCred.ID,
		Kinds: []string{"sign"}, Apps: []string{w.appID}, NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.signSession(t, w.appKey)
	sc, err := w.scan(w.alice, c.QR.Payload)
	if err != nil || offered(sc, w.orgSignCred.ID) != nil {
		t.Fatalf("scan before acceptance: %v, offered %v", err, sc.Credentials)
	}
	mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationNotActive)
	// The organisation approves only after the delegate accepted.
	_, err = w.bob.ApproveDelegation(ctx, d.ID, sxPIN)
	mustRefuse(t, err, protocol.CodeDelegationState)
	if _, err := w.alice.AcceptDelegation(ctx, d.ID, dlgStaffPIN); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationNotActive)
	if _, err := w.bob.ApproveDelegation(ctx, d.ID, sxPIN); err != nil {
		t.Fatal(err)
	}
	// Both phones list it.
	for _, p := range []*phone.Client{w.alice, w.bob} {
		list, err := p.Delegations(ctx)
		if err != nil || len(list) != 1 || list[0].ID != d.ID || list[0].State != protocol.DelegationActive {
			t.Fatalf("phone delegations: %+v %v", list, err)
		}
	}
	// carol sees none and cannot accept alice's.
	if list, err := w.carol.Delegations(ctx); err != nil || len(list) != 0 {
		t.Fatalf("carol's delegations: %+v %v", list, err)
	}
	_, err = w.carol.AcceptDelegation(ctx, d.ID, sxPIN)
	mustRefuse(t, err, protocol.CodeDelegationNotFound)

	// Now the scan offers it, labelled.
	c, data := w.signSession(t, w.appKey)
	sc, err = w.scan(w.alice, c.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	oc := offered(sc, w.orgSignCred.ID)
	if oc == nil || oc.OnBehalfOf != w.orgID || oc.OrganizationName != dlgOrgName || oc.Delegation != d.ID {
		t.Fatalf("scan offer: %+v", sc.Credentials)
	}
	if offered(sc, w.creds["alice/sm2/sign"].ID) == nil {
		t.Fatal("alice's own credential is not offered any more")
	}
	// The organisation's PIN is not the delegate's: refused, counted on
	// alice, not on the organisation.
	ae := mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, sxPIN, c.Code), protocol.CodeWrongPIN)
	if ae.RemainingTries == nil || *ae.RemainingTries != 4 {
		t.Fatalf("remaining tries %v", ae.RemainingTries)
	}
	if err := w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code); err != nil {
		t.Fatalf("confirm with the delegate's PIN: %v", err)
	}
	v := w.view(c.ID)
	var res protocol.SignResult
	if v.State != "completed" || json.Unmarshal(v.Result, &res) != nil {
		t.Fatalf("session %s: %s", v.State, v.Result)
	}
	if res.OnBehalfOf != w.orgID || res.Delegate != w.aliceID {
		t.Fatalf("result names on_behalf_of=%q delegate=%q", res.OnBehalfOf, res.Delegate)
	}
	last := v.Events[len(v.Events)-1]
	var evRes protocol.SignResult
	if json.Unmarshal(last.Result, &evRes) != nil || evRes.OnBehalfOf != w.orgID || evRes.Delegate != w.aliceID {
		t.Fatalf("the completed event (the webhook's body) lacks the two identities: %s", last.Result)
	}
	cert := certOf(t, w.orgSignCred)
	if err := gmcrypto.Verify(cert.PublicKey, data, res.Documents[0].Signature, nil); err != nil {
		t.Fatalf("the signature does not verify under the organisation's certificate: %v", err)
	}
	if cert.Subject.SerialNumber != dlgCreditCode || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != dlgOrgName {
		t.Fatalf("the organisation's certificate subject: %v", cert.Subject)
	}
	var okEntry, pinEntry map[string]any
	for _, e := range w.auditOf(t, c.ID) {
		switch {
		case e["action"] == "sign" && e["outcome"] == "ok":
			okEntry = e
		case e["action"] == "sign" && e["detail"] == "wrong_pin":
			pinEntry = e
		}
	}
	for name, e := range map[string]map[string]any{"ok": okEntry, "wrong_pin": pinEntry} {
		if e == nil || e["user"] != w.aliceID || e["on_behalf_of"] != w.orgID || e["delegation"] != d.ID || e["credential"] != w.orgSignCred.ID {
			t.Fatalf("audit entry %s: %v", name, e)
		}
	}
	// The operator finds the organisation's delegated uses; the
	// organisation's holder sees them in their history, naming the staff
	// member; carol sees nothing of it.
	var byOrg struct{ Entries []protocol.AuditEntry }
	w.must(w.do("GET", "/v1/admin/audit?on_behalf_of="+w.orgID, nil, map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}), http.StatusOK).decode(t, &byOrg)
	if len(byOrg.Entries) < 2 {
		t.Fatalf("audit on_behalf_of=%s: %d entries", w.orgID, len(byOrg.Entries))
	}
	for _, e := range byOrg.Entries {
		if e.OnBehalfOf != w.orgID {
			t.Fatalf("audit on_behalf_of filter let through %+v", e)
		}
	}
	hasUse := func(p *phone.Client) bool {
		var h protocol.HistoryResponse
		if err := p.Do(ctx, "GET", "/v1/me/history", nil, &h); err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Entries {
			if e.Session == c.ID && e.Outcome == "ok" {
				if e.OnBehalfOf != w.orgID || e.Delegate != w.aliceID {
					t.Fatalf("history entry %+v", e)
				}
				return true
			}
		}
		return false
	}
	if !hasUse(w.bob) || !hasUse(w.alice) || hasUse(w.carol) {
		t.Fatal("the delegated use is not in the organisation's and the delegate's histories only")
	}

	// The organisation's own PIN still works at once (its counter is 0).
	c2, _ := w.signSession(t, w.appKey)
	if _, err := w.scan(w.bob, c2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(w.bob, c2.ID, w.orgSignCred.ID, sxPIN, c2.Code); err != nil {
		t.Fatalf("the organisation's holder after the delegate's wrong PIN: %v", err)
	}
	var own protocol.SignResult
	if json.Unmarshal(w.view(c2.ID).Result, &own) != nil || own.OnBehalfOf != "" || own.Delegate != "" {
		t.Fatalf("the holder's own result names a delegation: %+v", own)
	}
	ver, err := w.op.VerifyAudit(ctx)
	if err != nil || !ver.Valid {
		t.Fatalf("audit verify: %+v %v", ver, err)
	}
}

// TestDelegationRefusals: a delegation does not serve another kind or
// another app, and a revoked one serves nothing; each refusal has its
// code and leaves the session scanned.
func TestDelegationRefusals(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	ctx := context.Background()
	d := w.grantActive(t, []string{"sign"}, []string{w.appID})

	stillScanned := func(t *testing.T, key, id string) {
		t.Helper()
		var v sxView
		w.must(w.do("GET", "/v1/sessions/"+id, nil, map[string]string{"Authorization": "Bearer " + key}), http.StatusOK).decode(t, &v)
		if v.State != "scanned" {
			t.Fatalf("session %s after a refusal", v.State)
		}
	}
	t.Run("wrong kind", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login", "alg": "SM2"})
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil || offered(sc, w.orgSignCred.ID) != nil {
			t.Fatalf("a login scan offers a sign-only delegation: %v %v", err, sc.Credentials)
		}
		mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationScope)
		stillScanned(t, w.appKey, c.ID)
	})
	t.Run("wrong app", func(t *testing.T) {
		c, _ := w.signSession(t, w.otherKey)
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil || offered(sc, w.orgSignCred.ID) != nil {
			t.Fatalf("another app's scan offers the delegation: %v %v", err, sc.Credentials)
		}
		mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationScope)
		stillScanned(t, w.otherKey, c.ID)
	})
	t.Run("not delegated", func(t *testing.T) {
		c, _ := w.signSession(t, w.appKey)
		if _, err := w.scan(w.carol, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, w.confirm(w.carol, c.ID, w.orgSignCred.ID, sxPIN, c.Code), protocol.CodeCredentialNotFound)
		stillScanned(t, w.appKey, c.ID)
	})
	t.Run("revoked", func(t *testing.T) {
		c, _ := w.signSession(t, w.appKey)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		rd, err := w.op.RevokeDelegation(ctx, w.orgID, d.ID)
		if err != nil || rd.State != protocol.DelegationRevoked {
			t.Fatalf("revoke: %+v %v", rd, err)
		}
		mustRefuse(t, w.confirm(w.alice, c.ID, w.orgSignCred.ID, dlgStaffPIN, c.Code), protocol.CodeDelegationRevoked)
		stillScanned(t, w.appKey, c.ID)
		_, err = w.op.RevokeDelegation(ctx, w.orgID, d.ID)
		if !operator.IsCode(err, protocol.CodeDelegationRevoked) {
			t.Fatalf("second revoke: %v", err)
		}
		list, err := w.op.Delegations(ctx, w.orgID)
		if err != nil || len(list) != 1 || list[0].State != protocol.DelegationRevoked {
			t.Fatalf("list: %+v %v", list, err)
		}
	})
}

// TestDelegationAdminRefusals: the operator's grant refuses what it must
// with stable codes and changes nothing.
func TestDelegationAdminRefusals(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	carolID := w.carol.State.UserID
	// state is what a refused grant must not change: the delegations of
	// both candidate organisations and the length of the audit log.
	state := func(t *testing.T) string {
		ctx := context.Background()
		var out []any
		for _, org := range []string{w.orgID, carolID} {
			list, err := w.op.Delegations(ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, list)
		}
		all, err := w.op.AllAudit(ctx, operator.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, len(all))
		b, _ := json.Marshal(out)
		return string(b)
	}
	for _, tc := range []struct {
		name, org string
		body      any
		status    int
		code      string
	}{
		{"not an organisation", carolID, map[string]any{"user": w.aliceID, "credential": w.creds["carol/sm2/sign"].ID, "not_after": later}, http.StatusConflict, protocol.CodeNotOrganization},
		{"unknown organisation", "usr_nobody", map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "not_after": later}, http.StatusNotFound, protocol.CodeUserNotFound},
		{"another's credential", w.orgID, map[string]any{"user": w.aliceID, "credential": w.creds["carol/sm2/sign"].ID, "not_after": later}, http.StatusNotFound, protocol.CodeCredentialNotFound},
		{"past", w.orgID, map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "not_after": "2001-01-01T00:00:00Z"}, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"bad kind", w.orgID, map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "kinds": []string{"mint"}, "not_after": later}, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"unknown field", w.orgID, map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "not_after": later, "pin": "1"}, http.StatusBadRequest, protocol.CodeUnknownField},
		{"bad path id", "NOT!", map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "not_after": later}, http.StatusBadRequest, protocol.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t)
			w.refused(w.do("POST", "/v1/admin/users/"+tc.org+"/delegations", tc.body, admin), tc.status, tc.code)
			if state(t) != before {
				t.Fatal("a refused grant changed the store")
			}
		})
	}
	// A two-party credential cannot be delegated: its phone share is the
	// organisation's holder's alone.
	cos, err := w.bob.RequestCosignCredential(context.Background(), "sm2b", "sign", sxPIN)
	if err != nil {
		t.Fatal(err)
	}
	before := state(t)
	w.refused(w.do("POST", "/v1/admin/users/"+w.orgID+"/delegations", map[string]any{"user": w.aliceID, "credential": cos.ID, "not_after": later}, admin),
		http.StatusConflict, protocol.CodeCosignUnsupported)
	if state(t) != before {
		t.Fatal("a refused cosign grant changed the store")
	}
	w.refused(w.do("POST", "/v1/admin/users/"+w.orgID+"/delegations", map[string]any{"user": w.aliceID, "credential": w.orgSignCred.ID, "not_after": later}, nil),
		http.StatusUnauthorized, protocol.CodeMissingToken)
	w.refused(w.do("DELETE", "/v1/admin/users/"+w.orgID+"/delegations/dlg_nothing", nil, admin), http.StatusNotFound, protocol.CodeDelegationNotFound)
}

// TestDelegateSealsForOrganisation: a seal delegation offers the
// organisation's seal bound to its credential; the staff member seals a
// PDF with it and their own PIN; the PDF's signature verifies with the
// organisation's seal, and the result names both.
func TestDelegateSealsForOrganisation(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	ctx := context.Background()
	var company sxSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": w.orgID, "name": dlgOrgName + " 公章", "kind": "official",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}), http.StatusCreated).decode(t, &company)
	w.grantActive(t, []string{"seal"}, nil)
	bid := seal.TextPDF([][]string{{"投标文件", "Bidder (seal): [SEAL HERE]"}})
	c := w.create(map[string]any{"kind": "seal", "alg": "SM2", "display": map[string]string{"title": "投标文件盖章"},
		"documents": []map[string]any{{"name": "bid.pdf", "pdf": bid, "placements": []map[string]any{{"keyword": "[SEAL HERE]"}}}}})
	var sc sxScannedSeal
	if err := w.alice.Do(ctx, "POST", "/v1/scan", map[string]string{"payload": c.QR.Payload}, &sc); err != nil {
		t.Fatal(err)
	}
	var offeredSeal *phone.Seal
	for i := range sc.Seals {
		if sc.Seals[i].ID == company.ID {
			offeredSeal = &sc.Seals[i]
		}
	}
	if offeredSeal == nil || len(offeredSeal.Credentials) != 1 || offeredSeal.Credentials[0] != w.orgSignCred.ID {
		t.Fatalf("the organisation's seal is not offered with its credential: %+v", sc.Seals)
	}
	if _, err := w.alice.ConfirmSeal(ctx, c.ID, w.orgSignCred.ID, company.ID, dlgStaffPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	var res protocol.SealResult
	if err := json.Unmarshal(w.view(c.ID).Result, &res); err != nil || res.OnBehalfOf != w.orgID || res.Delegate != w.aliceID {
		t.Fatalf("seal result names %q / %q: %v", res.OnBehalfOf, res.Delegate, err)
	}
	sigs, err := seal.Verify(res.Documents[0].PDF)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].SealValid || sigs[0].Seal.ID != company.ID {
		t.Fatalf("sealed PDF: %v %+v", err, sigs)
	}
	// A sign session is not covered by a seal-only delegation.
	c2, _ := w.signSession(t, w.appKey)
	if _, err := w.scan(w.alice, c2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, w.confirm(w.alice, c2.ID, w.orgSignCred.ID, dlgStaffPIN, c2.Code), protocol.CodeDelegationScope)
}
