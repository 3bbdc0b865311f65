package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// Malformed operator tokens (op.NAME.SECRET) answer 401 invalid_token on
// the operator API and change nothing; the parser itself is fuzzed in
// package auth (FuzzOperatorToken).
func TestOperatorTokenMalformedOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{adminToken: testAdminToken, maxBody: testMaxBody, audit: true})
	var op protocol.Operator
	e.must(e.admin("POST", "/v1/admin/operators", map[string]string{"name": "alice"}), http.StatusCreated).decode(t, &op)
	secret := strings.TrimPrefix(op.Token, "op.alice.")
	before := e.snapshot()
	for _, tc := range []struct{ name, tok string }{
		{"empty name", "op.." + secret},
		{"no secret", "op.alice."},
		{"dots in the name", "op.al.ice." + secret},
		{"a dot too many", "op.alice.." + secret},
		{"overlong name", "op.a" + strings.Repeat("b", 32) + "." + secret},
		{"overlong token", op.Token + strings.Repeat("a", 300)},
		{"non-ASCII name", "op.阿丽丝." + secret},
		{"non-ASCII secret", "op.alice.密钥" + secret[6:]},
		{"upper-case name", "op.Alice." + secret},
		{"bootstrap name", "op.admin." + secret},
		{"wrong secret", "op.alice." + strings.Repeat("A", len(secret))},
		{"secret cut short", op.Token[:len(op.Token)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + tc.tok}
			e.refused(e.do("GET", "/v1/admin/users", nil, h), http.StatusUnauthorized, protocol.CodeInvalidToken)
			e.refused(e.do("POST", "/v1/admin/users", map[string]string{"name": "Mallory"}, h), http.StatusUnauthorized, protocol.CodeInvalidToken)
		})
	}
	after := e.snapshot()
	if len(before) != len(after) {
		t.Fatalf("refused tokens changed the store: %d keys, then %d", len(before), len(after))
	}
	for k, r := range before {
		if after[k] != r {
			t.Fatalf("refused tokens changed %s", k)
		}
	}
}
