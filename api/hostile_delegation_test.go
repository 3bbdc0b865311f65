package api_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestDelegationOfKeyAwaitingRecovery: after a PIN reset of an
// organisation, its escrowed encryption credential is still active but
// its key waits for a recovery (under no PIN anyone knows). A delegation
// of it may be granted and accepted, but the organisation's approval is
// awaiting_recovery (with the right PIN or a wrong one, which is not
// counted) and changes nothing, until the recovery wraps the key under
// the new PIN: then the approval goes through.
func TestDelegationOfKeyAwaitingRecovery(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol")
	ctx := context.Background()
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	files := shareFiles(created.Shares)
	iss := seed.Generated("sm2", "SM2", "Escrow Delegation SM2 CA")
	iss.Profile.Escrow = true
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{iss},
		Users: []seed.User{
			{Name: dlgOrgName, CreditCode: dlgCreditCode, Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2")}},
			{Name: "staff", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
		PIN: sxPIN,
	})
	org, staff := sw.Users[0], sw.Users[1]
	enc := org.Credentials["sm2/encrypt"]
	var reset protocol.PINReset
	w.must(w.do("POST", "/v1/admin/users/"+org.ID+"/reset-pin", map[string]string{"reason": "licence checked at the counter"}, w.admin), http.StatusOK).decode(t, &reset)
	orgPhone := w.newPhone()
	if _, err := orgPhone.Enroll(ctx, reset.ActivationCode, "org's new phone", escNewPIN); err != nil {
		t.Fatal(err)
	}

	var d protocol.Delegation
	w.must(w.do("POST", "/v1/admin/users/"+org.ID+"/delegations",
		map[string]any{"user": staff.ID, "credential": enc.ID, "not_after": time.Now().Add(24 * time.Hour)}, w.admin), http.StatusCreated).decode(t, &d)
	if _, err := staff.Phone.AcceptDelegation(ctx, d.ID, sxPIN); err != nil {
		t.Fatal(err)
	}
	st := w.ts.Server.Store()
	snap := storeSnapshot(t, st)
	for _, pin := range []string{escNewPIN, "864209"} {
		_, err := orgPhone.ApproveDelegation(ctx, d.ID, pin)
		mustRefuse(t, err, protocol.CodeAwaitingRecovery)
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused approval changed the store")
	}

	// The recovery (two custodians) wraps the key under the new PIN.
	var rec protocol.Recovery
	w.must(w.do("POST", "/v1/admin/escrow/recoveries", map[string]string{"user": org.ID, "reason": "PIN reset, ticket 9"}, w.as("alice")), http.StatusCreated).decode(t, &rec)
	for _, c := range []string{"bob", "carol"} {
		w.must(w.do("POST", "/v1/admin/escrow/recoveries/"+rec.ID+"/shares", map[string]string{"share": files[c], "passphrase": escPass[c]}, w.as(c)), http.StatusOK)
	}
	if err := orgPhone.Do(ctx, "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := orgPhone.ApproveDelegation(ctx, d.ID, escNewPIN); err != nil || got.State != protocol.DelegationActive {
		t.Fatalf("approval after the recovery: %+v %v", got, err)
	}
}

// TestDelegationStepsRefusals: the phone steps of a delegation refuse a
// third user, the wrong side (the organisation accepting, the delegate
// approving), steps out of turn or repeated, a replayed request, bad
// bodies and ids, and steps after the revocation, each with its code and
// without a change; of two approvals at once exactly one goes through.
func TestDelegationStepsRefusals(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	ctx := context.Background()
	st := w.ts.Server.Store()
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	d, err := w.op.AddDelegation(ctx, w.orgID, operator.DelegationRequest{User: w.aliceID, Credential: w.orgSignCred.ID,
		NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	accept, approve := "/v1/me/delegations/"+d.ID+"/accept", "/v1/me/delegations/"+d.ID+"/approve"
	signed := func(p *phone.Client, path string, body any) *resp {
		key, err := p.State.Key()
		if err != nil {
			t.Fatal(err)
		}
		return w.send(deviceRequest(t, "POST", w.url+path, body, p.State.DeviceID, key, time.Now()))
	}
	pin := func(p string) map[string]string { return map[string]string{"pin": p} }
	type refusal struct {
		name   string
		send   func() *resp
		status int
		code   string
	}
	check := func(list []refusal) {
		t.Helper()
		snap := storeSnapshot(t, st)
		for _, c := range list {
			if r := c.send(); r.status != c.status || r.code != c.code {
				t.Fatalf("%s: got %d %q, want %d %q: %s", c.name, r.status, r.code, c.status, c.code, r.body)
			}
		}
		if !maps.Equal(snap, storeSnapshot(t, st)) {
			t.Fatal("a refused step changed the store")
		}
	}
	check([]refusal{
		{"a third user accepts", func() *resp { return signed(w.carol, accept, pin(sxPIN)) }, http.StatusNotFound, protocol.CodeDelegationNotFound},
		{"the organisation accepts", func() *resp { return signed(w.bob, accept, pin(sxPIN)) }, http.StatusNotFound, protocol.CodeDelegationNotFound},
		{"the delegate approves", func() *resp { return signed(w.alice, approve, pin(dlgStaffPIN)) }, http.StatusNotFound, protocol.CodeDelegationNotFound},
		{"approved before the acceptance", func() *resp { return signed(w.bob, approve, pin(sxPIN)) }, http.StatusConflict, protocol.CodeDelegationState},
		{"revoked through another organisation", func() *resp {
			return w.do("DELETE", "/v1/admin/users/"+w.carol.State.UserID+"/delegations/"+d.ID, nil, admin)
		}, http.StatusNotFound, protocol.CodeDelegationNotFound},
		{"not an id", func() *resp { return signed(w.alice, "/v1/me/delegations/DLG!/accept", pin(dlgStaffPIN)) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"unknown id", func() *resp { return signed(w.alice, "/v1/me/delegations/dlg_nothing/accept", pin(dlgStaffPIN)) }, http.StatusNotFound, protocol.CodeDelegationNotFound},
		{"no PIN", func() *resp { return signed(w.alice, accept, map[string]string{}) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"PIN as a number", func() *resp { return signed(w.alice, accept, map[string]int{"pin": 246813}) }, http.StatusBadRequest, protocol.CodeMalformedJSON},
		{"unknown field", func() *resp {
			return signed(w.alice, accept, map[string]string{"pin": dlgStaffPIN, "credential": w.orgSignCred.ID})
		}, http.StatusBadRequest, protocol.CodeUnknownField},
		{"PIN too long", func() *resp { return signed(w.alice, accept, pin(strings.Repeat("1", 200))) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"unsigned", func() *resp { return w.do("POST", accept, pin(dlgStaffPIN), nil) }, http.StatusUnauthorized, protocol.CodeMissingDeviceHeaders},
	})

	key, err := w.alice.State.Key()
	if err != nil {
		t.Fatal(err)
	}
	req := deviceRequest(t, "POST", w.url+accept, pin(dlgStaffPIN), w.alice.State.DeviceID, key, time.Now())
	w.must(w.send(req), http.StatusOK)
	replay := req.Clone(ctx)
	replay.Body, _ = req.GetBody()
	check([]refusal{
		{"the acceptance replayed", func() *resp { return w.send(replay) }, http.StatusUnauthorized, protocol.CodeReplayedNonce},
		{"accepted twice", func() *resp { return signed(w.alice, accept, pin(dlgStaffPIN)) }, http.StatusConflict, protocol.CodeDelegationState},
	})

	// Two approvals at once: one goes through, the other is out of turn.
	got := make(chan *resp, 2)
	for range 2 {
		go func() {
			key, err := w.bob.State.Key()
			if err != nil {
				got <- &resp{status: 0, body: []byte(err.Error())}
				return
			}
			hr, err := http.DefaultClient.Do(deviceRequest(t, "POST", w.url+approve, pin(sxPIN), w.bob.State.DeviceID, key, time.Now()))
			if err != nil {
				got <- &resp{status: 0, body: []byte(err.Error())}
				return
			}
			defer hr.Body.Close()
			var eb struct {
				Error struct{ Code string } `json:"error"`
			}
			b, _ := io.ReadAll(hr.Body)
			_ = json.Unmarshal(b, &eb)
			got <- &resp{status: hr.StatusCode, code: eb.Error.Code, body: b}
		}()
	}
	a, b := <-got, <-got
	if a.status != http.StatusOK {
		a, b = b, a
	}
	if a.status != http.StatusOK || b.status != http.StatusConflict || b.code != protocol.CodeDelegationState {
		t.Fatalf("two approvals: %d %s / %d %s", a.status, a.body, b.status, b.body)
	}
	check([]refusal{
		{"approved twice", func() *resp { return signed(w.bob, approve, pin(sxPIN)) }, http.StatusConflict, protocol.CodeDelegationState},
	})
	w.must(w.do("DELETE", "/v1/admin/users/"+w.orgID+"/delegations/"+d.ID, nil, admin), http.StatusOK)
	check([]refusal{
		{"accepted after the revocation", func() *resp { return signed(w.alice, accept, pin(dlgStaffPIN)) }, http.StatusConflict, protocol.CodeDelegationRevoked},
		{"approved after the revocation", func() *resp { return signed(w.bob, approve, pin(sxPIN)) }, http.StatusConflict, protocol.CodeDelegationRevoked},
		{"revoked twice", func() *resp { return w.do("DELETE", "/v1/admin/users/"+w.orgID+"/delegations/"+d.ID, nil, admin) }, http.StatusConflict, protocol.CodeDelegationRevoked},
	})
}
