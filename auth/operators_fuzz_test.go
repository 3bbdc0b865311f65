package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

const fuzzAdminToken = "fuzz-admin-token-0123456789"

// operatorWorld is an Admin over a real bbolt store with one named
// operator, alice, whose token it returns.
func operatorWorld(t testing.TB) (*auth.Admin, storage.Store, string) {
	t.Helper()
	st := storagetest.MustOpen(t)
	a := auth.NewAdmin(fuzzAdminToken).UseStore(st)
	_, tok, err := a.AddOperator(context.Background(), auth.BootstrapOperator, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return a, st, tok
}

// dump is every key and value of the store.
func dump(t testing.TB, st storage.Store) map[string]string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = string(kv.Value)
	}
	return out
}

func sameDump(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/admin/users", nil)
	r.Header["Authorization"] = []string{"Bearer " + tok} // as sent, unchecked
	return r
}

// Malformed and wrong operator tokens answer ErrInvalidToken (the API's
// invalid_token) and change nothing; the right ones name their operator.
func TestOperatorTokenMalformed(t *testing.T) {
	a, st, tok := operatorWorld(t)
	secret := strings.TrimPrefix(tok, "op.alice.")
	before := dump(t, st)
	for _, tc := range []struct{ name, tok string }{
		{"empty name", "op.." + secret},
		{"no secret", "op.alice."},
		{"no dot after the name", "op.alice"},
		{"only the prefix", "op."},
		{"dots in the name", "op.al.ice." + secret},
		{"a dot too many", "op.alice.." + secret},
		{"secret with a dot more", tok + ".x"},
		{"overlong name", "op.a" + strings.Repeat("b", 32) + "." + secret},
		{"overlong token", tok + strings.Repeat("a", 300)},
		{"non-ASCII name", "op.阿丽丝." + secret},
		{"non-ASCII secret", "op.alice.密钥" + secret[6:]},
		{"upper-case name", "op.Alice." + secret},
		{"name starting with a digit", "op.1alice." + secret},
		{"bootstrap name", "op.admin." + secret},
		{"unknown operator", "op.bob." + secret},
		{"wrong secret", "op.alice." + strings.Repeat("A", len(secret))},
		{"secret cut short", tok[:len(tok)-1]},
		{"wrong prefix", "ops.alice." + secret},
		{"prefix in capitals", "OP.alice." + secret},
		{"NUL in the name", "op.ali\x00ce." + secret},
		{"the admin token in operator form", "op.alice." + fuzzAdminToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, err := a.Authenticate(bearer(tc.tok))
			if !errors.Is(err, auth.ErrInvalidToken) || name != "" {
				t.Fatalf("Authenticate(%q) = %q, %v; want ErrInvalidToken", tc.tok, name, err)
			}
		})
	}
	if !sameDump(before, dump(t, st)) {
		t.Fatal("refused tokens changed the store")
	}
	for tk, want := range map[string]string{tok: "alice", fuzzAdminToken: auth.BootstrapOperator} {
		if name, err := a.Authenticate(bearer(tk)); err != nil || name != want {
			t.Fatalf("Authenticate(right token) = %q, %v; want %s", name, err, want)
		}
	}
	if name, ok := auth.ParseOperatorToken(tok); !ok || name != "alice" {
		t.Fatalf("ParseOperatorToken(%q) = %q, %v", tok, name, ok)
	}
}

// FuzzOperatorToken: whatever token is presented, Authenticate names an
// operator only for that operator's exact token (or the admin token),
// answers ErrMissingToken or ErrInvalidToken otherwise, never panics and
// never writes; ParseOperatorToken accepts only "op." NAME "." SECRET with
// a valid name. Seeds in testdata/fuzz/FuzzOperatorToken.
func FuzzOperatorToken(f *testing.F) {
	a, st, tok := operatorWorld(f)
	before := dump(f, st)
	f.Add(tok)
	f.Add(fuzzAdminToken)
	f.Fuzz(func(t *testing.T, presented string) {
		if name, ok := auth.ParseOperatorToken(presented); ok {
			rest, found := strings.CutPrefix(presented, "op."+name+".")
			if !found || rest == "" || !auth.ValidOperatorName(name) || len(presented) > 256 {
				t.Fatalf("ParseOperatorToken(%q) accepted name %q", presented, name)
			}
		}
		name, err := a.Authenticate(bearer(presented))
		trimmed := strings.TrimSpace(presented)
		switch {
		case err == nil:
			if !(name == "alice" && trimmed == tok) && !(name == auth.BootstrapOperator && trimmed == fuzzAdminToken) {
				t.Fatalf("Authenticate(%q) named %q", presented, name)
			}
		case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrMissingToken):
			if name != "" {
				t.Fatalf("Authenticate(%q) = %q with %v", presented, name, err)
			}
		default:
			t.Fatalf("Authenticate(%q): %v, want a token error", presented, err)
		}
		if !sameDump(before, dump(t, st)) {
			t.Fatalf("Authenticate(%q) changed the store", presented)
		}
	})
}
