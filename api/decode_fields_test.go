package api_test

import (
	"net/http"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
)

// TestWrongTypeInAListNamesTheElement: over real HTTP, a member of the
// wrong JSON type inside a list of a request (a portal's documents, an
// operator's origins or RSA sizes, a phone's chosen credentials) is
// malformed_json whose error.field names the element, index included, as
// the other field errors do; outside a list the member alone.
func TestWrongTypeInAListNamesTheElement(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "fields SM2 Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}}},
	})
	adminHdr := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	appHdr := map[string]string{"Authorization": "Bearer " + w.appKey}
	var s sxCreated
	w.must(w.app("POST", "/v1/sessions", map[string]any{"kind": "login"}), http.StatusCreated).decode(t, &s)
	doc := func(name string) map[string]any { return map[string]any{"name": name, "data": "YQ=="} }

	for _, tc := range []struct {
		name  string
		send  func() *resp
		field string
		code  string // "": malformed_json
	}{
		{"an unknown member in the second document", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "sign",
				"documents": []any{doc("a"), map[string]any{"name": "b", "data": "Yg==", "dgest": "Yg=="}}}, appHdr)
		}, "documents[1].dgest", "unknown_field"},
		{"a number for the third document's digest", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "sign",
				"documents": []any{doc("a"), doc("b"), map[string]any{"name": "c", "digest": 5}}}, appHdr)
		}, "documents[2].digest", ""},
		{"an object for the second document's name", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "sign",
				"documents": []any{doc("a"), map[string]any{"name": map[string]any{"zh": "b"}, "data": "Yg=="}}}, appHdr)
		}, "documents[1].name", ""},
		{"a string for a placement's page", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "seal",
				"documents": []any{map[string]any{"name": "a.pdf", "data": "YQ==", "placements": []any{
					map[string]any{"page": 1, "x_mm": 10, "y_mm": 10}, map[string]any{"page": "2", "x_mm": 10, "y_mm": 10}}}}}, appHdr)
		}, "documents[0].placements[1].page", ""},
		{"a number as a document", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "sign", "documents": []any{doc("a"), 7}}, appHdr)
		}, "documents[1]", ""},
		{"outside a list: a number for the title", func() *resp {
			return w.do("POST", "/v1/sessions", map[string]any{"kind": "login", "display": map[string]any{"title": 7}}, appHdr)
		}, "display.title", ""},
		{"a number among an app's origins", func() *resp {
			return w.do("POST", "/v1/admin/apps", map[string]any{"name": "x", "origins": []any{"https://a.example.cn", true}}, adminHdr)
		}, "origins[1]", ""},
		{"a string among an issuer profile's RSA sizes", func() *resp {
			return w.do("POST", "/v1/admin/issuers", map[string]any{"name": "x", "mode": "internal", "alg": "RSA", "generate": true,
				"subject": map[string]string{"common_name": "x"}, "profile": map[string]any{"algs": []string{"RSA"}, "rsa_bits": []any{2048, "4096"}}}, adminHdr)
		}, "profile.rsa_bits[1]", ""},
		{"a number among the credentials a phone hands over", func() *resp {
			return w.signed(w.alice, "POST", "/v1/sessions/"+s.ID+"/confirm", map[string]any{"credentials": []any{"crd_x", 5}, "code": s.Code})
		}, "credentials[1]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := tc.code
			if code == "" {
				code = "malformed_json"
			}
			r := tc.send()
			if r.status != http.StatusBadRequest || r.code != code || r.field != tc.field {
				t.Fatalf("answer %d %s field %q, want 400 %s on %q: %s", r.status, r.code, r.field, code, tc.field, r.body)
			}
		})
	}
}
