package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestNamedOperators: the bootstrap operator adds a named operator whose
// token works once shown, names it in the audit entries, cannot add
// operators itself, and stops working when removed; bad input changes
// nothing.
func TestNamedOperators(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{adminToken: testAdminToken, maxBody: testMaxBody, audit: true})
	as := func(tok, method, path string, body any) *resp {
		return e.do(method, path, body, map[string]string{"Authorization": "Bearer " + tok})
	}

	var op protocol.Operator
	e.must(e.admin("POST", "/v1/admin/operators", map[string]string{"name": "alice"}), http.StatusCreated).decode(t, &op)
	if op.Name != "alice" || op.CreatedBy != "admin" || !strings.HasPrefix(op.Token, "op.alice.") {
		t.Fatalf("added operator %+v", op)
	}
	// The token is not stored: only its hash.
	for k := range e.snapshot() {
		kv, err := e.store.Get(t.Context(), k)
		if err == nil && strings.Contains(string(kv.Value), op.Token) {
			t.Fatalf("the operator's token is stored under %s", k)
		}
	}

	// alice works, and her actions name her.
	var u struct{ ID string }
	e.must(as(op.Token, "POST", "/v1/admin/users", map[string]string{"name": "Zhang San"}), http.StatusCreated).decode(t, &u)
	e.must(e.admin("POST", "/v1/admin/users", map[string]string{"name": "Li Si"}), http.StatusCreated)
	var page protocol.AuditPage
	e.must(e.admin("GET", "/v1/admin/audit?action=user.add", nil), http.StatusOK).decode(t, &page)
	if len(page.Entries) != 2 || page.Entries[0].Actor != "operator:alice" || page.Entries[1].Actor != "admin" {
		t.Fatalf("user.add entries %+v, want actors operator:alice then admin", page.Entries)
	}
	e.must(e.admin("GET", "/v1/admin/audit?action=operator.add", nil), http.StatusOK).decode(t, &page)
	if len(page.Entries) != 1 || page.Entries[0].Actor != "admin" || page.Entries[0].Detail != "operator=alice" {
		t.Fatalf("operator.add entries %+v", page.Entries)
	}

	before := e.snapshot()
	for _, tt := range []struct {
		name         string
		tok          string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"named operator cannot add", op.Token, "POST", "/v1/admin/operators", map[string]string{"name": "bob"}, 403, protocol.CodeOperatorForbidden},
		{"named operator cannot remove", op.Token, "DELETE", "/v1/admin/operators/alice", nil, 403, protocol.CodeOperatorForbidden},
		{"exists", testAdminToken, "POST", "/v1/admin/operators", map[string]string{"name": "alice"}, 409, protocol.CodeOperatorExists},
		{"admin is reserved", testAdminToken, "POST", "/v1/admin/operators", map[string]string{"name": "admin"}, 400, protocol.CodeInvalidRequest},
		{"bad name", testAdminToken, "POST", "/v1/admin/operators", map[string]string{"name": "Bob Smith"}, 400, protocol.CodeInvalidRequest},
		{"long name", testAdminToken, "POST", "/v1/admin/operators", map[string]string{"name": "a" + strings.Repeat("b", 32)}, 400, protocol.CodeInvalidRequest},
		{"unknown field", testAdminToken, "POST", "/v1/admin/operators", map[string]string{"name": "bob", "role": "x"}, 400, protocol.CodeUnknownField},
		{"remove unknown", testAdminToken, "DELETE", "/v1/admin/operators/bob", nil, 404, protocol.CodeOperatorNotFound},
		{"wrong secret", "op.alice.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "GET", "/v1/admin/users", nil, 401, protocol.CodeInvalidToken},
		{"unknown operator", strings.Replace(op.Token, "alice", "bob", 1), "GET", "/v1/admin/users", nil, 401, protocol.CodeInvalidToken},
		{"no token", "", "POST", "/v1/admin/operators", map[string]string{"name": "bob"}, 401, protocol.CodeMissingToken},
		{"oversized token", "op.alice." + strings.Repeat("a", 4000), "GET", "/v1/admin/users", nil, 401, protocol.CodeInvalidToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.refused(as(tt.tok, tt.method, tt.path, tt.body), tt.status, tt.code)
		})
	}
	after := e.snapshot()
	if len(before) != len(after) {
		t.Fatalf("refused requests changed the store: %d keys, then %d", len(before), len(after))
	}
	for k, r := range before {
		if after[k] != r {
			t.Fatalf("refused requests changed %s", k)
		}
	}

	var list protocol.OperatorList
	e.must(as(op.Token, "GET", "/v1/admin/operators", nil), http.StatusOK).decode(t, &list)
	if len(list.Operators) != 1 || list.Operators[0].Name != "alice" || list.Operators[0].Token != "" {
		t.Fatalf("operators %+v", list)
	}
	e.must(e.admin("DELETE", "/v1/admin/operators/alice", nil), http.StatusOK)
	e.refused(as(op.Token, "GET", "/v1/admin/users", nil), http.StatusUnauthorized, protocol.CodeInvalidToken)
	// The admin token works as before.
	e.must(e.admin("GET", "/v1/admin/users", nil), http.StatusOK)
}
