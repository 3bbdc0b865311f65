package api_test

import (
	"context"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
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
