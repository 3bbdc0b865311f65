package api_test

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestNoBodyOperatorActions: the operator actions that take no parameters
// (cancelling an escrow rotation, revoking a delegation, removing an
// operator) accept nothing or {} as every such action does, and refuse a
// malformed, unknown-field, non-JSON or oversized body with its code and
// without acting; then the same action with no body, or {}, goes through.
func TestNoBodyOperatorActions(t *testing.T) {
	t.Parallel()
	w := newEscWorld(t, "alice", "bob", "carol", "dave", "erin")
	st := w.ts.Server.Store()
	w.must(w.do("POST", "/v1/admin/escrow", escCeremony(escPass, "alice", "bob", "carol"), w.admin), http.StatusCreated)
	rotateReq := escCeremony(escNextPass, "bob", "carol", "dave")
	rotateReq["reason"] = escRotateReason
	var opened protocol.EscrowRotationCreated
	w.must(w.do("POST", "/v1/admin/escrow/rotations", rotateReq, w.admin), http.StatusCreated).decode(t, &opened)
	sw := seed.Make(t, w.ts.URL, w.ts.AdminToken, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "NoBody SM2 CA")},
		Users: []seed.User{
			{Name: dlgOrgName, CreditCode: dlgCreditCode, Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
			{Name: "staff", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
		},
		PIN: sxPIN,
	})
	org, staff := sw.Users[0], sw.Users[1]
	var d protocol.Delegation
	w.must(w.do("POST", "/v1/admin/users/"+org.ID+"/delegations", map[string]any{"user": staff.ID,
		"credential": org.Credentials["sm2/sign"].ID, "not_after": time.Now().Add(24 * time.Hour)}, w.admin), http.StatusCreated).decode(t, &d)

	chunked := func(method, path string) *resp {
		big := `{"x":"` + strings.Repeat("a", 2<<20) + `"}`
		req, err := http.NewRequest(method, w.url+path, io.MultiReader(bytes.NewReader([]byte(big))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", w.admin["Authorization"])
		return w.send(req)
	}
	for _, a := range []struct {
		name, method, path string
	}{
		{"cancel rotation", "POST", "/v1/admin/escrow/rotations/" + opened.Rotation.ID + "/cancel"},
		{"revoke delegation", "DELETE", "/v1/admin/users/" + org.ID + "/delegations/" + d.ID},
		{"remove operator", "DELETE", "/v1/admin/operators/erin"},
	} {
		// (w's helpers report on the test itself: no subtests.)
		snap := storeSnapshot(t, st)
		for _, c := range []struct {
			name   string
			send   func() *resp
			status int
			code   string
		}{
			{"malformed JSON", func() *resp { return w.do(a.method, a.path, rawBody(`{"reason":`), w.admin) }, http.StatusBadRequest, protocol.CodeMalformedJSON},
			{"unknown field", func() *resp { return w.do(a.method, a.path, map[string]string{"reason": "x"}, w.admin) }, http.StatusBadRequest, protocol.CodeUnknownField},
			{"array", func() *resp { return w.do(a.method, a.path, rawBody(`[]`), w.admin) }, http.StatusBadRequest, protocol.CodeMalformedJSON},
			{"not JSON", func() *resp {
				return w.do(a.method, a.path, rawBody(`reason=x`), map[string]string{"Authorization": w.admin["Authorization"], "Content-Type": "text/plain"})
			}, http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType},
			{"oversized, chunked", func() *resp { return chunked(a.method, a.path) }, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
		} {
			if r := c.send(); r.status != c.status || r.code != c.code {
				t.Fatalf("%s, %s: got %d %q, want %d %q", a.name, c.name, r.status, r.code, c.status, c.code)
			}
		}
		if !maps.Equal(snap, storeSnapshot(t, st)) {
			t.Fatalf("%s: a refused action changed the store", a.name)
		}
	}
	w.must(w.do("POST", "/v1/admin/escrow/rotations/"+opened.Rotation.ID+"/cancel", rawBody(`{}`), w.admin), http.StatusOK)
	w.must(w.do("DELETE", "/v1/admin/users/"+org.ID+"/delegations/"+d.ID, nil, w.admin), http.StatusOK)
	w.must(w.do("DELETE", "/v1/admin/operators/erin", rawBody(" "), w.admin), http.StatusOK)
}
