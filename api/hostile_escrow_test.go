package api_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestRecoveryRefusals: opening a recovery refuses bad requests, a user
// with nothing to recover, another user's or a non-escrowed credential;
// shares for an unknown, malformed or finished recovery are refused; each
// without a change. A second recovery of the same key, opened while the
// first was open, is answered nothing_to_recover by the share that
// reaches its threshold once the first has given the key back, and ends
// there: its pending shares are erased (they would otherwise hold the
// pending-share ledger until it expired).
func TestRecoveryRefusals(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol")
	st := w.ts.Server.Store()
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	files := shareFiles(created.Shares)
	u := w.seedEscrowed()
	const path = "/v1/admin/escrow/recoveries"
	open := func(body any) *resp { return w.do("POST", path, body, w.as("alice")) }
	req := func(kv ...string) map[string]any {
		m := map[string]any{"user": u.user.ID, "reason": "forgotten PIN, ticket 5"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	snap := storeSnapshot(t, st)
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"nothing waits yet", req(), http.StatusConflict, protocol.CodeNothingToRecover, ""},
		{"unknown user", req("user", "usr_nobody"), http.StatusNotFound, protocol.CodeUserNotFound, ""},
		{"user not an id", req("user", "USR!"), http.StatusBadRequest, protocol.CodeInvalidRequest, "user"},
		{"no reason", map[string]any{"user": u.user.ID}, http.StatusBadRequest, protocol.CodeInvalidRequest, "reason"},
		{"reason too long", req("reason", strings.Repeat("r", 201)), http.StatusBadRequest, protocol.CodeInvalidRequest, "reason"},
		{"ttl too short", req("ttl", "30s"), http.StatusBadRequest, protocol.CodeInvalidRequest, "ttl"},
		{"ttl not a duration", req("ttl", "soon"), http.StatusBadRequest, protocol.CodeInvalidRequest, "ttl"},
		{"credential not an id", map[string]any{"user": u.user.ID, "reason": "x", "credentials": []string{"CRD!"}}, http.StatusBadRequest, protocol.CodeInvalidRequest, "credentials"},
		{"credentials as a string", map[string]any{"user": u.user.ID, "reason": "x", "credentials": u.enc.ID}, http.StatusBadRequest, protocol.CodeMalformedJSON, ""},
		{"unknown field", req("pin", "1"), http.StatusBadRequest, protocol.CodeUnknownField, "pin"},
	} {
		if r := open(c.body); r.status != c.status || r.code != c.code || (c.field != "" && r.field != c.field) {
			t.Errorf("%s: got %d %q field %q, want %d %q field %q", c.name, r.status, r.code, r.field, c.status, c.code, c.field)
		}
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused opening changed the store")
	}

	_, p2, newSign := w.resetPIN(u, "carol")
	snap = storeSnapshot(t, st)
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"the re-issued signing credential", map[string]any{"user": u.user.ID, "reason": "x", "credentials": []string{newSign.ID}}, http.StatusConflict, protocol.CodeNothingToRecover},
		{"an unknown credential", map[string]any{"user": u.user.ID, "reason": "x", "credentials": []string{"crd_notherskey0000"}}, http.StatusNotFound, protocol.CodeCredentialNotFound},
	} {
		if r := open(c.body); r.status != c.status || r.code != c.code {
			t.Errorf("%s: got %d %q, want %d %q", c.name, r.status, r.code, c.status, c.code)
		}
	}
	share := func(id, custodian string) *resp {
		return w.do("POST", path+"/"+id+"/shares", map[string]string{"share": files[custodian], "passphrase": escPass[custodian]}, w.as(custodian))
	}
	w.refused(share("rcv_nothere", "bob"), http.StatusNotFound, protocol.CodeRecoveryNotFound)
	w.refused(share("RCV!", "bob"), http.StatusBadRequest, protocol.CodeInvalidRequest)
	w.refused(w.do("GET", path+"/rcv_nothere", nil, w.admin), http.StatusNotFound, protocol.CodeRecoveryNotFound)
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refusal changed the store")
	}

	// Two recoveries of the same key: the first gives it back.
	var r1, r2 protocol.Recovery
	w.must(open(req()), http.StatusCreated).decode(t, &r1)
	w.must(open(req("reason", "asked twice, ticket 6")), http.StatusCreated).decode(t, &r2)
	w.must(share(r2.ID, "bob"), http.StatusOK)
	w.must(share(r1.ID, "bob"), http.StatusOK)
	w.must(share(r1.ID, "carol"), http.StatusOK)
	w.refused(share(r1.ID, "carol"), http.StatusConflict, protocol.CodeRecoveryClosed)
	w.recoveredOpens(u, p2)
	w.refused(share(r2.ID, "carol"), http.StatusConflict, protocol.CodeNothingToRecover)
	var ended protocol.Recovery
	w.must(w.do("GET", path+"/"+r2.ID, nil, w.admin), http.StatusOK).decode(t, &ended)
	if ended.State != "expired" {
		t.Fatalf("the second recovery after nothing was left to recover: %+v", ended)
	}
	if kvs, _, err := st.List(t.Context(), "escrow/shares/"+r2.ID+"/"); err != nil || len(kvs) != 0 {
		t.Fatalf("pending shares of the ended recovery: %d %v", len(kvs), err)
	}
	w.refused(share(r2.ID, "alice"), http.StatusGone, protocol.CodeRecoveryExpired)
}

// TestRecoveryOfWhatStillWaits: a recovery of two escrowed keys, one of
// which another recovery has given back meanwhile, recovers the other
// when its threshold is reached (it used to refuse the whole request with
// nothing_to_recover, the second key then left behind).
func TestRecoveryOfWhatStillWaits(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol")
	ctx := context.Background()
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	files := shareFiles(created.Shares)
	var issuers []operator.IssuerRequest
	for _, id := range []string{"sm2", "sm2b"} {
		iss := seed.Generated(id, "SM2", "Escrow "+id)
		iss.Profile.Escrow = true
		issuers = append(issuers, iss)
	}
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{Issuers: issuers,
		Users: []seed.User{{Name: "dora", Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2"), seed.Encrypt("sm2b", "SM2")}}}, PIN: sxPIN})
	u := sw.Users[0]
	encA, encB := u.Credentials["sm2/encrypt"].ID, u.Credentials["sm2b/encrypt"].ID
	var reset protocol.PINReset
	w.must(w.do("POST", "/v1/admin/users/"+u.ID+"/reset-pin", map[string]string{"reason": "ID card checked"}, w.admin), http.StatusOK).decode(t, &reset)
	if len(reset.AwaitingRecovery) != 2 {
		t.Fatalf("reset %+v", reset)
	}
	p2 := w.newPhone()
	if _, err := p2.Enroll(ctx, reset.ActivationCode, "new phone", escNewPIN); err != nil {
		t.Fatal(err)
	}
	const path = "/v1/admin/escrow/recoveries"
	share := func(id, custodian string) *resp {
		return w.do("POST", path+"/"+id+"/shares", map[string]string{"share": files[custodian], "passphrase": escPass[custodian]}, w.as(custodian))
	}
	var r1, r2 protocol.Recovery
	w.must(w.do("POST", path, map[string]any{"user": u.ID, "reason": "key A only", "credentials": []string{encA}}, w.as("alice")), http.StatusCreated).decode(t, &r1)
	w.must(w.do("POST", path, map[string]any{"user": u.ID, "reason": "both keys"}, w.as("alice")), http.StatusCreated).decode(t, &r2)
	if len(r2.Credentials) != 2 {
		t.Fatalf("second recovery %+v", r2)
	}
	w.must(share(r2.ID, "bob"), http.StatusOK)
	w.must(share(r1.ID, "bob"), http.StatusOK)
	w.must(share(r1.ID, "carol"), http.StatusOK)
	var got protocol.Recovered
	if err := p2.Do(ctx, "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, &got); err != nil || len(got.Credentials) != 1 || got.Credentials[0].ID != encA {
		t.Fatalf("first recovery finished: %+v %v", got.Credentials, err)
	}
	var done protocol.Recovery
	w.must(share(r2.ID, "carol"), http.StatusOK).decode(t, &done)
	if done.State != "recovered" {
		t.Fatalf("second recovery %+v", done)
	}
	if err := p2.Do(ctx, "POST", "/v1/me/recovery", map[string]string{"pin": escNewPIN}, &got); err != nil || len(got.Credentials) != 1 || got.Credentials[0].ID != encB {
		t.Fatalf("second recovery finished: %+v %v", got.Credentials, err)
	}
}
