package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
)

// escNextPass are the passphrases of the rotated key's custodians.
var escNextPass = map[string]string{"bob": "bob's new passphrase 55", "carol": "carol next passphrase 6", "dave": "dave's own passphrase 4"}

const escRotateReason = "alice left the company, ticket 77"

// TestEscrowRotationEndToEnd runs a rotation of the escrow key over HTTP
// on a real server: alice leaves, the admin runs the ceremony for bob,
// carol and dave; refused openings and approvals (a named operator, bad
// bodies, the requester, a custodian of the new key only, a new share,
// a wrong passphrase, the same custodian twice, an unknown rotation, a
// second rotation while one is open) change nothing; bob and carol, with
// their current shares, switch the key and the escrowed key moves to the
// new one. A recovery opened under the old key ends; a new one opens
// with the new custodians' shares (the old files are refused), the new
// PIN takes the key and the bid sealed before the rotation opens. Every
// step is in the audit log, which verifies.
func TestEscrowRotationEndToEnd(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol", "dave")
	st := w.ts.Server.Store()
	const path = "/v1/admin/escrow/rotations"
	rotateReq := escCeremony(escNextPass, "bob", "carol", "dave")
	rotateReq["reason"] = escRotateReason
	rotateReq["ttl"] = "2h"
	with := func(m map[string]any, k string, v any) map[string]any {
		c := maps.Clone(m)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}

	w.refused(w.do("POST", path, rotateReq, w.admin), http.StatusConflict, protocol.CodeEscrowNotInitialized)
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	old, oldFiles := created.Escrow.ID, shareFiles(created.Shares)
	u := w.seedEscrowed()

	// A recovery opened (and half approved) under the old key.
	_, p2, _ := w.resetPIN(u, "carol")
	var oldRec protocol.Recovery
	w.must(w.do("POST", "/v1/admin/escrow/recoveries", map[string]string{"user": u.user.ID, "reason": "forgotten PIN, ticket 41"}, w.as("alice")), http.StatusCreated).decode(t, &oldRec)
	w.must(w.do("POST", "/v1/admin/escrow/recoveries/"+oldRec.ID+"/shares", map[string]string{"share": oldFiles["bob"], "passphrase": escPass["bob"]}, w.as("bob")), http.StatusOK)

	// Refused openings.
	snap := storeSnapshot(t, st)
	for _, r := range []struct {
		name   string
		as     string
		body   any
		status int
		code   string
		field  string
	}{
		{"a named operator", "alice", rotateReq, http.StatusForbidden, protocol.CodeOperatorForbidden, ""},
		{"no reason", "admin", with(rotateReq, "reason", nil), http.StatusBadRequest, protocol.CodeInvalidRequest, "reason"},
		{"blank reason", "admin", with(rotateReq, "reason", "  "), http.StatusBadRequest, protocol.CodeInvalidRequest, "reason"},
		{"reason too long", "admin", with(rotateReq, "reason", strings.Repeat("x", 201)), http.StatusBadRequest, protocol.CodeInvalidRequest, "reason"},
		{"ttl too long", "admin", with(rotateReq, "ttl", "169h"), http.StatusBadRequest, protocol.CodeInvalidRequest, "ttl"},
		{"ttl not a duration", "admin", with(rotateReq, "ttl", "tomorrow"), http.StatusBadRequest, protocol.CodeInvalidRequest, "ttl"},
		{"one custodian", "admin", with(rotateReq, "custodians", []map[string]string{{"name": "dave", "passphrase": escNextPass["dave"]}}),
			http.StatusBadRequest, protocol.CodeInvalidRequest, "custodians"},
		{"threshold above the custodians", "admin", with(rotateReq, "threshold", 4), http.StatusBadRequest, protocol.CodeInvalidRequest, "threshold"},
		{"not an operator", "admin", with(rotateReq, "custodians", []map[string]string{{"name": "dave", "passphrase": escNextPass["dave"]},
			{"name": "nobody", "passphrase": escNextPass["bob"]}}), http.StatusBadRequest, protocol.CodeInvalidRequest, "custodians"},
		{"short passphrase", "admin", with(rotateReq, "custodians", []map[string]string{{"name": "dave", "passphrase": escNextPass["dave"]},
			{"name": "bob", "passphrase": "short"}}), http.StatusBadRequest, protocol.CodeInvalidRequest, "custodians"},
		{"unknown field", "admin", with(rotateReq, "custodian", "bob"), http.StatusBadRequest, protocol.CodeUnknownField, "custodian"},
		{"malformed JSON", "admin", rawBody(`{"reason": "x"`), http.StatusBadRequest, protocol.CodeMalformedJSON, ""},
	} {
		t.Run("open/"+r.name, func(t *testing.T) {
			got := w.refused(w.do("POST", path, r.body, w.as(r.as)), r.status, r.code)
			if got.field != r.field {
				t.Errorf("field %q, want %q", got.field, r.field)
			}
		})
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused opening changed the store")
	}

	// The ceremony for the new key.
	var opened protocol.EscrowRotationCreated
	w.must(w.do("POST", path, rotateReq, w.admin), http.StatusCreated).decode(t, &opened)
	rot := opened.Rotation
	if rot.State != "open" || rot.From != old || rot.Next.ID == old || rot.Threshold != 2 || rot.RequestedBy != "admin" ||
		rot.Reason != escRotateReason || len(rot.Approvals) != 0 || len(opened.Shares) != 3 || rot.Next.Threshold != 2 ||
		rot.ExpiresAt.Sub(rot.CreatedAt) != 2*time.Hour || !rot.SwitchedAt.IsZero() || !rot.CompletedAt.IsZero() {
		t.Fatalf("rotation %+v", rot)
	}
	newFiles := shareFiles(opened.Shares)
	if !strings.Contains(newFiles["dave"], "UKEYGATE ESCROW SHARE") || len(newFiles) != 3 {
		t.Fatalf("new shares %v", slices.Collect(maps.Keys(newFiles)))
	}
	raw := w.must(w.do("GET", path+"/"+rot.ID, nil, w.as("bob")), http.StatusOK).body
	if strings.Contains(string(raw), "SHARE") || strings.Contains(string(raw), "switched_at") || strings.Contains(string(raw), "completed_at") {
		t.Fatalf("an open rotation shows %s", raw)
	}
	var list protocol.EscrowRotationList
	w.must(w.do("GET", path, nil, w.as("dave")), http.StatusOK).decode(t, &list)
	if len(list.Rotations) != 1 || list.Rotations[0].ID != rot.ID {
		t.Fatalf("rotations %+v", list)
	}
	var shown protocol.EscrowDetail
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.admin), http.StatusOK).decode(t, &shown)
	if shown.ID != old || shown.Retired == nil || len(shown.Retired) != 0 {
		t.Fatalf("escrow before any approval %+v", shown)
	}

	// Each new custodian confirms their new share file before any
	// approval counts; refused confirmations change nothing (and are
	// audited).
	sharePath := path + "/" + rot.ID + "/shares"
	approve := func(as, file, pass string) *resp {
		return w.do("POST", sharePath, map[string]string{"share": file, "passphrase": pass}, w.as(as))
	}
	confirmPath := path + "/" + rot.ID + "/confirmations"
	confirm := func(as, file, pass string) *resp {
		return w.do("POST", confirmPath, map[string]string{"share": file, "passphrase": pass}, w.as(as))
	}
	if !slices.Equal(rot.Unconfirmed, []string{"bob", "carol", "dave"}) || rot.Confirmations == nil || len(rot.Confirmations) != 0 {
		t.Fatalf("confirmations of the open rotation: %+v %+v", rot.Confirmations, rot.Unconfirmed)
	}
	snap = storeSnapshot(t, st)
	for _, r := range []struct {
		name   string
		do     func() *resp
		status int
		code   string
	}{
		{"an approval before the confirmations", func() *resp { return approve("bob", oldFiles["bob"], escPass["bob"]) }, http.StatusConflict, protocol.CodeRotationUnconfirmed},
		{"unknown rotation", func() *resp {
			return w.do("POST", path+"/rot_nope/confirmations", map[string]string{"share": newFiles["bob"], "passphrase": escNextPass["bob"]}, w.as("bob"))
		}, http.StatusNotFound, protocol.CodeRotationNotFound},
		{"not a new custodian", func() *resp { return confirm("alice", newFiles["bob"], escNextPass["bob"]) }, http.StatusForbidden, protocol.CodeCustodianForbidden},
		{"the admin", func() *resp { return confirm("admin", newFiles["bob"], escNextPass["bob"]) }, http.StatusForbidden, protocol.CodeCustodianForbidden},
		{"a share of the current key", func() *resp { return confirm("bob", oldFiles["bob"], escPass["bob"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"a wrong passphrase", func() *resp { return confirm("bob", newFiles["bob"], escPass["bob"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"another custodian's new file", func() *resp { return confirm("bob", newFiles["dave"], escNextPass["dave"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"not a share file", func() *resp { return confirm("bob", "garbage", "x") }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"no passphrase", func() *resp { return confirm("bob", newFiles["bob"], "") }, http.StatusBadRequest, protocol.CodeInvalidRequest},
	} {
		t.Run("confirm/"+r.name, func(t *testing.T) { w.refused(r.do(), r.status, r.code) })
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused confirmation changed the store")
	}
	var confirmed protocol.EscrowRotation
	for i, name := range []string{"bob", "carol", "dave"} {
		w.must(confirm(name, newFiles[name], escNextPass[name]), http.StatusOK).decode(t, &confirmed)
		if len(confirmed.Confirmations) != i+1 || confirmed.Confirmations[i].Custodian != name || len(confirmed.Unconfirmed) != 2-i {
			t.Fatalf("after %s confirmed: %+v %v", name, confirmed.Confirmations, confirmed.Unconfirmed)
		}
		if i == 0 {
			w.refused(approve("carol", oldFiles["carol"], escPass["carol"]), http.StatusConflict, protocol.CodeRotationUnconfirmed)
		}
	}
	snap = storeSnapshot(t, st)
	var twice protocol.EscrowRotation
	w.must(confirm("bob", newFiles["bob"], escNextPass["bob"]), http.StatusOK).decode(t, &twice)
	if len(twice.Confirmations) != 3 || !twice.Confirmations[0].At.Equal(confirmed.Confirmations[0].At) || twice.Unconfirmed == nil {
		t.Fatalf("confirming twice: %+v", twice)
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("confirming twice changed the store")
	}
	raw = w.must(w.do("GET", path+"/"+rot.ID, nil, w.admin), http.StatusOK).body
	if strings.Contains(string(raw), "SHARE") || strings.Contains(string(raw), escNextPass["bob"]) || !strings.Contains(string(raw), `"unconfirmed":[]`) {
		t.Fatalf("a confirmed rotation shows %s", raw)
	}

	// Refused approvals change nothing (and are audited).
	refusals := []struct {
		name   string
		do     func() *resp
		status int
		code   string
	}{
		{"a second rotation while one is open", func() *resp { return w.do("POST", path, rotateReq, w.admin) }, http.StatusConflict, protocol.CodeRotationPending},
		{"unknown rotation", func() *resp {
			return w.do("POST", path+"/rot_nope/shares", map[string]string{"share": oldFiles["bob"], "passphrase": escPass["bob"]}, w.as("bob"))
		}, http.StatusNotFound, protocol.CodeRotationNotFound},
		{"unknown rotation shown", func() *resp { return w.do("GET", path+"/rot_nope", nil, w.admin) }, http.StatusNotFound, protocol.CodeRotationNotFound},
		{"not an id", func() *resp { return w.do("GET", path+"/ROT!", nil, w.admin) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"the requester", func() *resp { return approve("admin", oldFiles["bob"], escPass["bob"]) }, http.StatusForbidden, protocol.CodeCustodianForbidden},
		{"a custodian of the new key only", func() *resp { return approve("dave", newFiles["dave"], escNextPass["dave"]) }, http.StatusForbidden, protocol.CodeCustodianForbidden},
		{"a new-key share", func() *resp { return approve("bob", newFiles["bob"], escNextPass["bob"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"a wrong passphrase", func() *resp { return approve("bob", oldFiles["bob"], escNextPass["bob"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"another custodian's file", func() *resp { return approve("bob", oldFiles["carol"], escPass["carol"]) }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"not a share file", func() *resp { return approve("bob", "garbage", "x") }, http.StatusBadRequest, protocol.CodeShareInvalid},
		{"no passphrase", func() *resp { return approve("bob", oldFiles["bob"], "") }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		// bob's share waits in the recovery: carol's may not wait too (2 of 3).
		{"a second custodian's pending share", func() *resp { return approve("carol", oldFiles["carol"], escPass["carol"]) }, http.StatusConflict, protocol.CodeSharesPending},
	}
	snap = storeSnapshot(t, st)
	for _, r := range refusals {
		t.Run("approve/"+r.name, func(t *testing.T) { w.refused(r.do(), r.status, r.code) })
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused approval changed the store")
	}

	// bob's current share waits; bob again is a duplicate.
	var after protocol.EscrowRotation
	w.must(approve("bob", oldFiles["bob"], escPass["bob"]), http.StatusOK).decode(t, &after)
	if after.State != "open" || len(after.Approvals) != 1 || after.Approvals[0].Custodian != "bob" || len(after.Approved) != 0 {
		t.Fatalf("after one custodian: %+v", after)
	}
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.admin), http.StatusOK).decode(t, &shown)
	if shown.ID != old {
		t.Fatal("one custodian switched the key")
	}
	w.refused(approve("bob", oldFiles["bob"], escPass["bob"]), http.StatusConflict, protocol.CodeShareDuplicate)

	// carol's switches the key and moves the escrow copy.
	w.must(approve("carol", oldFiles["carol"], escPass["carol"]), http.StatusOK).decode(t, &after)
	if after.State != "rotated" || after.Moved != 1 || len(after.Approvals) != 0 || after.SwitchedAt.IsZero() || after.CompletedAt.IsZero() ||
		!slices.Equal([]string{after.Approved[0].Custodian, after.Approved[1].Custodian}, []string{"bob", "carol"}) {
		t.Fatalf("after two custodians: %+v", after)
	}
	w.refused(approve("alice", oldFiles["alice"], escPass["alice"]), http.StatusConflict, protocol.CodeRotationClosed)
	var again protocol.EscrowRotation
	w.must(w.do("GET", path+"/"+rot.ID, nil, w.admin), http.StatusOK).decode(t, &again)
	if again.State != "rotated" || again.Moved != 1 {
		t.Fatalf("rotation shown %+v", again)
	}
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.as("dave")), http.StatusOK).decode(t, &shown)
	var names []string
	for _, c := range shown.Custodians {
		names = append(names, c.Name)
	}
	if shown.ID != rot.Next.ID || !slices.Equal(names, []string{"bob", "carol", "dave"}) || len(shown.Retired) != 1 {
		t.Fatalf("escrow after the rotation %+v", shown)
	}
	if r := shown.Retired[0]; r.ID != old || r.SupersededBy != rot.Next.ID || r.Rotation != rot.ID || r.RetiredAt.IsZero() || len(r.Custodians) != 3 {
		t.Fatalf("retired %+v", r)
	}

	// The recovery opened under the old key ended with the switch (its
	// pending share erased); a new one needs the new custodians' shares.
	var oldAfter protocol.Recovery
	w.must(w.do("GET", "/v1/admin/escrow/recoveries/"+oldRec.ID, nil, w.admin), http.StatusOK).decode(t, &oldAfter)
	if oldAfter.State != "expired" {
		t.Fatalf("the old key's recovery after the switch: %+v", oldAfter)
	}
	w.refused(w.do("POST", "/v1/admin/escrow/recoveries/"+oldRec.ID+"/shares", map[string]string{"share": oldFiles["carol"], "passphrase": escPass["carol"]}, w.as("carol")),
		http.StatusGone, protocol.CodeRecoveryExpired)
	var rec protocol.Recovery
	w.must(w.do("POST", "/v1/admin/escrow/recoveries", map[string]string{"user": u.user.ID, "reason": "forgotten PIN, ticket 42"}, w.as("alice")), http.StatusCreated).decode(t, &rec)
	if rec.Escrow != rot.Next.ID || rec.Threshold != 2 {
		t.Fatalf("recovery %+v", rec)
	}
	recShare := func(as, file, pass string) *resp {
		return w.do("POST", "/v1/admin/escrow/recoveries/"+rec.ID+"/shares", map[string]string{"share": file, "passphrase": pass}, w.as(as))
	}
	w.refused(recShare("bob", oldFiles["bob"], escPass["bob"]), http.StatusBadRequest, protocol.CodeShareInvalid)
	w.refused(recShare("carol", oldFiles["carol"], escPass["carol"]), http.StatusBadRequest, protocol.CodeShareInvalid)
	var recAfter protocol.Recovery
	w.must(recShare("dave", newFiles["dave"], escNextPass["dave"]), http.StatusOK).decode(t, &recAfter)
	w.must(recShare("bob", newFiles["bob"], escNextPass["bob"]), http.StatusOK).decode(t, &recAfter)
	if recAfter.State != "recovered" {
		t.Fatalf("recovery with the new shares: %+v", recAfter)
	}
	w.recoveredOpens(u, p2)

	// The audit log: the opening, both accepted shares, every refused one
	// that reached the rotation, and the finish.
	var opens, shares, refused, finishes, confirms, confirmsRefused int
	for _, e := range w.escAudit() {
		switch {
		case e.Action == "escrow.rotation.confirm" && e.Outcome == "ok":
			confirms++
			if !strings.Contains(e.Detail, "rotation="+rot.ID) || !strings.HasPrefix(e.Actor, "operator:") {
				t.Errorf("confirm entry %+v", e)
			}
			if e.Actor == "operator:dave" && !strings.Contains(e.Detail, "confirmed=3/3 custodians=bob,carol,dave unconfirmed=") {
				t.Errorf("dave's confirm entry %+v", e)
			}
		case e.Action == "escrow.rotation.confirm":
			confirmsRefused++
			if !strings.Contains(e.Detail, " "+protocol.CodeCustodianForbidden) && !strings.Contains(e.Detail, " "+protocol.CodeShareInvalid) &&
				!strings.Contains(e.Detail, " "+protocol.CodeRotationNotFound) {
				t.Errorf("refused confirm entry %+v", e)
			}
		case e.Action == "escrow.rotation.open":
			opens++
			for _, want := range []string{"rotation=" + rot.ID, "from=" + old, "next=" + rot.Next.ID, "custodians=bob,carol,dave", "reason=" + escRotateReason} {
				if e.Actor != "admin" || e.Outcome != "ok" || !strings.Contains(e.Detail, want) {
					t.Errorf("open entry %+v lacks %s", e, want)
				}
			}
		case e.Action == "escrow.rotation.share" && e.Outcome == "ok":
			shares++
			if !strings.Contains(e.Detail, "rotation="+rot.ID) || (e.Actor != "operator:bob" && e.Actor != "operator:carol") {
				t.Errorf("share entry %+v", e)
			}
			if e.Actor == "operator:carol" && !strings.Contains(e.Detail, "approvals=2/2 custodians=bob,carol") {
				t.Errorf("switching share entry %+v", e)
			}
		case e.Action == "escrow.rotation.share":
			refused++
			if !strings.Contains(e.Detail, " "+protocol.CodeCustodianForbidden) && !strings.Contains(e.Detail, " "+protocol.CodeShareInvalid) &&
				!strings.Contains(e.Detail, " "+protocol.CodeShareDuplicate) && !strings.Contains(e.Detail, " "+protocol.CodeRotationNotFound) &&
				!strings.Contains(e.Detail, " "+protocol.CodeRotationClosed) && !strings.Contains(e.Detail, " "+protocol.CodeSharesPending) &&
				!strings.Contains(e.Detail, " "+protocol.CodeRotationUnconfirmed) {
				t.Errorf("refused share entry %+v", e)
			}
		case e.Action == "escrow.rotation.finish":
			finishes++
			want := "rotation=" + rot.ID + " from=" + old + " to=" + rot.Next.ID + " moved=1"
			if e.Outcome != "ok" || e.Actor != "operator:carol" || e.Detail != want {
				t.Errorf("finish entry %+v, want detail %q", e, want)
			}
		}
	}
	// Refused: bob and carol before the confirmations, unknown id, the
	// requester, dave, a new share, a wrong passphrase, another's file,
	// garbage, carol beside bob's recovery share, bob twice, alice after
	// the switch (the empty passphrase never reached the rotation).
	// Confirmations: three, bob's again; refused: every refusal above but
	// the empty passphrase.
	if opens != 1 || shares != 2 || refused != 12 || finishes != 1 || confirms != 4 || confirmsRefused != 7 {
		t.Fatalf("audit: %d opens, %d shares, %d refused, %d finishes, %d confirms, %d refused confirms", opens, shares, refused, finishes, confirms, confirmsRefused)
	}
}

// TestEscrowRotationCancel: only the admin cancels an open rotation; its
// pending share is erased, approvals and a second cancel are refused, the
// key stays, a new rotation may be opened, and the cancel is audited.
func TestEscrowRotationCancel(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol", "dave")
	st := w.ts.Server.Store()
	const path = "/v1/admin/escrow/rotations"
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	oldFiles := shareFiles(created.Shares)
	rotateReq := escCeremony(escNextPass, "bob", "carol", "dave")
	rotateReq["reason"] = escRotateReason
	var opened protocol.EscrowRotationCreated
	w.must(w.do("POST", path, rotateReq, w.admin), http.StatusCreated).decode(t, &opened)
	id := opened.Rotation.ID
	newFiles := shareFiles(opened.Shares)
	for _, name := range []string{"bob", "carol", "dave"} {
		w.must(w.do("POST", path+"/"+id+"/confirmations", map[string]string{"share": newFiles[name], "passphrase": escNextPass[name]}, w.as(name)), http.StatusOK)
	}
	w.must(w.do("POST", path+"/"+id+"/shares", map[string]string{"share": oldFiles["bob"], "passphrase": escPass["bob"]}, w.as("bob")), http.StatusOK)

	snap := storeSnapshot(t, st)
	w.refused(w.do("POST", path+"/"+id+"/cancel", nil, w.as("alice")), http.StatusForbidden, protocol.CodeOperatorForbidden)
	w.refused(w.do("POST", path+"/rot_nope/cancel", nil, w.admin), http.StatusNotFound, protocol.CodeRotationNotFound)
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused cancel changed the store")
	}
	var canceled protocol.EscrowRotation
	w.must(w.do("POST", path+"/"+id+"/cancel", nil, w.admin), http.StatusOK).decode(t, &canceled)
	if canceled.State != "canceled" || canceled.CanceledBy != "admin" || canceled.CanceledAt.IsZero() {
		t.Fatalf("canceled %+v", canceled)
	}
	if kvs, _, err := st.List(t.Context(), "escrow/rotation-shares/"); err != nil || len(kvs) != 0 {
		t.Fatalf("pending shares after the cancel: %d %v", len(kvs), err)
	}
	w.refused(w.do("POST", path+"/"+id+"/cancel", nil, w.admin), http.StatusConflict, protocol.CodeRotationClosed)
	w.refused(w.do("POST", path+"/"+id+"/shares", map[string]string{"share": oldFiles["carol"], "passphrase": escPass["carol"]}, w.as("carol")),
		http.StatusConflict, protocol.CodeRotationClosed)
	w.refused(w.do("POST", path+"/"+id+"/confirmations", map[string]string{"share": newFiles["dave"], "passphrase": escNextPass["dave"]}, w.as("dave")),
		http.StatusConflict, protocol.CodeRotationClosed)
	var shown protocol.EscrowDetail
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.admin), http.StatusOK).decode(t, &shown)
	if shown.ID != created.Escrow.ID || len(shown.Retired) != 0 {
		t.Fatalf("escrow after a canceled rotation %+v", shown)
	}
	w.must(w.do("POST", path, rotateReq, w.admin), http.StatusCreated)
	n := 0
	for _, e := range w.escAudit() {
		if e.Action == "escrow.rotation.cancel" {
			n++
			if e.Actor != "admin" || e.Outcome != "ok" || !strings.Contains(e.Detail, "rotation="+id) {
				t.Errorf("cancel entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d cancel entries", n)
	}
}

// TestEscrowRotationAbandon: a rotation whose move stopped (made here by
// putting back, through the store, the escrow copy and the rotation
// record as they were before the move finished) and whose old custodians
// are gone is abandoned over HTTP: refusals (a named operator, no reason,
// an unknown id) change nothing; the answer and GET /v1/admin/escrow list
// the credential left under the retired key; abandoning twice is
// rotation_closed; a new rotation opens, and abandoning that open one is
// rotation_not_moving. A decrypt session confirmed with the owner's PIN
// escrows the copy again under the current key (the listing empties), and
// the abandon is audited.
func TestEscrowRotationAbandon(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol", "dave")
	st := w.ts.Server.Store()
	ctx := context.Background()
	const path = "/v1/admin/escrow/rotations"
	var created protocol.EscrowCreated
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated).decode(t, &created)
	oldFiles := shareFiles(created.Shares)
	u := w.seedEscrowed()
	credKey := "credentials/" + u.enc.ID
	before, err := st.Get(ctx, credKey)
	if err != nil {
		t.Fatal(err)
	}
	rotateReq := escCeremony(escNextPass, "bob", "carol", "dave")
	rotateReq["reason"] = escRotateReason
	var opened protocol.EscrowRotationCreated
	w.must(w.do("POST", path, rotateReq, w.admin), http.StatusCreated).decode(t, &opened)
	id, newFiles := opened.Rotation.ID, shareFiles(opened.Shares)
	for _, name := range []string{"bob", "carol", "dave"} {
		w.must(w.do("POST", path+"/"+id+"/confirmations", map[string]string{"share": newFiles[name], "passphrase": escNextPass[name]}, w.as(name)), http.StatusOK)
	}
	for _, name := range []string{"bob", "carol"} {
		w.must(w.do("POST", path+"/"+id+"/shares", map[string]string{"share": oldFiles[name], "passphrase": escPass[name]}, w.as(name)), http.StatusOK)
	}
	// The move "stopped": the copy back under the old key, the rotation
	// moving again.
	rk, err := st.Get(ctx, "escrow/rotations/"+id)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(rk.Value, &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "completed_at")
	rec["moved"] = 0
	moving, _ := json.Marshal(rec)
	ptr, _ := json.Marshal(id)
	if _, err := st.Txn(ctx, storage.Put(credKey, before.Value, 0), storage.Put("escrow/rotations/"+id, moving, 0), storage.Put("escrow/rotation", ptr, 0)); err != nil {
		t.Fatal(err)
	}
	var shown protocol.EscrowRotation
	w.must(w.do("GET", path+"/"+id, nil, w.admin), http.StatusOK).decode(t, &shown)
	if shown.State != "moving" {
		t.Fatalf("the rotation is %s", shown.State)
	}

	abandonPath := path + "/" + id + "/abandon"
	reason := map[string]string{"reason": "alice and carol left; ticket 80"}
	snap := storeSnapshot(t, st)
	for _, r := range []struct {
		name   string
		do     func() *resp
		status int
		code   string
	}{
		{"a named operator", func() *resp { return w.do("POST", abandonPath, reason, w.as("bob")) }, http.StatusForbidden, protocol.CodeOperatorForbidden},
		{"no reason", func() *resp { return w.do("POST", abandonPath, map[string]string{}, w.admin) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"blank reason", func() *resp { return w.do("POST", abandonPath, map[string]string{"reason": " "}, w.admin) }, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"reason too long", func() *resp {
			return w.do("POST", abandonPath, map[string]string{"reason": strings.Repeat("x", 201)}, w.admin)
		}, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"unknown field", func() *resp { return w.do("POST", abandonPath, map[string]string{"reason": "x", "why": "y"}, w.admin) }, http.StatusBadRequest, protocol.CodeUnknownField},
		{"unknown rotation", func() *resp { return w.do("POST", path+"/rot_nope/abandon", reason, w.admin) }, http.StatusNotFound, protocol.CodeRotationNotFound},
		{"a new rotation while it is moving", func() *resp { return w.do("POST", path, rotateReq, w.admin) }, http.StatusConflict, protocol.CodeRotationPending},
	} {
		t.Run("abandon/"+r.name, func(t *testing.T) { w.refused(r.do(), r.status, r.code) })
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused abandon changed the store")
	}
	var abandoned protocol.EscrowRotation
	w.must(w.do("POST", abandonPath, reason, w.admin), http.StatusOK).decode(t, &abandoned)
	if abandoned.State != "abandoned" || abandoned.AbandonedBy != "admin" || abandoned.AbandonedAt.IsZero() || abandoned.AbandonReason != reason["reason"] ||
		!slices.Equal(abandoned.Stranded, []string{u.enc.ID}) || abandoned.StrandedCount != 1 {
		t.Fatalf("abandoned %+v", abandoned)
	}
	var esc protocol.EscrowDetail
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.as("dave")), http.StatusOK).decode(t, &esc)
	if esc.ID != opened.Rotation.Next.ID || len(esc.Retired) != 1 || !slices.Equal(esc.Retired[0].Stranded, []string{u.enc.ID}) || esc.Retired[0].StrandedCount != 1 {
		t.Fatalf("escrow after the abandon %+v", esc)
	}
	w.refused(w.do("POST", abandonPath, reason, w.admin), http.StatusConflict, protocol.CodeRotationClosed)
	w.refused(w.do("POST", path+"/"+id+"/shares", map[string]string{"share": oldFiles["bob"], "passphrase": escPass["bob"]}, w.as("bob")),
		http.StatusConflict, protocol.CodeRotationClosed)
	var next protocol.EscrowRotationCreated
	w.must(w.do("POST", path, rotateReq, w.admin), http.StatusCreated).decode(t, &next)
	snap = storeSnapshot(t, st)
	w.refused(w.do("POST", path+"/"+next.Rotation.ID+"/abandon", reason, w.admin), http.StatusConflict, protocol.CodeRotationNotMoving)
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("abandoning an open rotation changed the store")
	}

	// The owner opens a bid with the PIN: the copy moves to the current key.
	w.creds["enc"] = u.enc
	c := w.create(map[string]any{"kind": "decrypt", "ciphertext": u.envelope, "ciphertext_format": "cms"})
	if _, err := w.scan(u.user.Phone, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(u.user.Phone, c.ID, u.enc.ID, sxPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	if v := w.view(c.ID); v.State != "completed" {
		t.Fatalf("decrypt session %s", v.State)
	}
	w.must(w.do("GET", "/v1/admin/escrow", nil, w.admin), http.StatusOK).decode(t, &esc)
	if len(esc.Retired[0].Stranded) != 0 || esc.Retired[0].StrandedCount != 0 {
		t.Fatalf("still stranded after the unlock: %+v", esc.Retired[0])
	}
	n := 0
	for _, e := range w.escAudit() {
		if e.Action == "escrow.rotation.abandon" {
			n++
			if e.Actor != "admin" || e.Outcome != "ok" || !strings.Contains(e.Detail, "rotation="+id) || !strings.Contains(e.Detail, "stranded=1 credentials="+u.enc.ID) {
				t.Errorf("abandon entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d abandon entries", n)
	}
}
