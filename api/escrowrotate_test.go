package api_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
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

	// Refused approvals change nothing (and are audited).
	sharePath := path + "/" + rot.ID + "/shares"
	approve := func(as, file, pass string) *resp {
		return w.do("POST", sharePath, map[string]string{"share": file, "passphrase": pass}, w.as(as))
	}
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
	var opens, shares, refused, finishes int
	for _, e := range w.escAudit() {
		switch {
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
				!strings.Contains(e.Detail, " "+protocol.CodeRotationClosed) && !strings.Contains(e.Detail, " "+protocol.CodeSharesPending) {
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
	// Refused: unknown id, the requester, dave, a new share, a wrong
	// passphrase, another's file, garbage, carol beside bob's recovery
	// share, bob twice, alice after the switch (the empty passphrase never
	// reached the rotation).
	if opens != 1 || shares != 2 || refused != 10 || finishes != 1 {
		t.Fatalf("audit: %d opens, %d shares, %d refused, %d finishes", opens, shares, refused, finishes)
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
