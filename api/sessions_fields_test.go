package api_test

import (
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
)

// TestSessionCreateRefusalsNameTheField: every invalid_request answer to
// POST /v1/sessions names the request field at fault (error.field), as the
// integration guide promises, whichever layer refuses it (the api's
// shape check or the session service's), and nothing is created.
func TestSessionCreateRefusalsNameTheField(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "fields SM2 Root")}})
	before := w.sessionKeys(t)
	one := func(m map[string]any) []map[string]any { return []map[string]any{m} }
	doc := map[string]any{"name": "bid.txt", "data": []byte("bid")}
	digest := make([]byte, 32)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no kind", map[string]any{}, "kind"},
		{"lower-case alg", map[string]any{"kind": "login", "alg": "sm2"}, "alg"},
		{"malformed origin", map[string]any{"kind": "login", "origin": "bid.example.cn\n"}, "origin"},
		{"title too long", map[string]any{"kind": "login", "display": map[string]any{"title": strings.Repeat("标", 100)}}, "display.title"},
		{"summary with a control character", map[string]any{"kind": "login", "display": map[string]any{"summary": "a\x00b"}}, "display.summary"},
		{"desktop ip", map[string]any{"kind": "login", "desktop": map[string]any{"ip": "1.2.3.4\n"}}, "desktop.ip"},
		{"seal on a login", map[string]any{"kind": "login", "seal": "seal_x"}, "seal"},
		{"login with documents", map[string]any{"kind": "login", "documents": one(doc)}, "documents"},
		{"login with a format", map[string]any{"kind": "login", "format": "raw"}, "format"},
		{"sign with a ciphertext", map[string]any{"kind": "sign", "documents": one(doc), "ciphertext": []byte("x")}, "ciphertext"},
		{"sign without documents", map[string]any{"kind": "sign"}, "documents"},
		{"unknown format", map[string]any{"kind": "sign", "format": "pdf", "documents": one(doc)}, "format"},
		{"document without a name", map[string]any{"kind": "sign", "documents": one(map[string]any{"data": []byte("x")})}, "documents[0].name"},
		{"document name twice", map[string]any{"kind": "sign", "documents": []map[string]any{doc, doc}}, "documents[1].name"},
		{"data and digest", map[string]any{"kind": "sign", "documents": one(map[string]any{"name": "a", "data": []byte("x"), "digest": digest})}, "documents[0]"},
		{"short digest", map[string]any{"kind": "sign", "documents": one(map[string]any{"name": "a", "digest": digest[:31]})}, "documents[0].digest"},
		{"attached digest", map[string]any{"kind": "sign", "format": "cms-attached", "documents": one(map[string]any{"name": "a", "digest": digest})}, "documents[0].digest"},
		{"pdf in a sign session", map[string]any{"kind": "sign", "documents": one(map[string]any{"name": "a", "data": []byte("x"), "pdf": []byte("%PDF-")})}, "documents[0]"},
		{"decrypt with documents", map[string]any{"kind": "decrypt", "documents": one(doc)}, "documents"},
		{"decrypt without ciphertext", map[string]any{"kind": "decrypt", "ciphertext_format": "asn1"}, "ciphertext"},
		{"unknown ciphertext format", map[string]any{"kind": "decrypt", "ciphertext": []byte("x"), "ciphertext_format": "pkcs7"}, "ciphertext_format"},
		{"return_key without cms", map[string]any{"kind": "decrypt", "ciphertext": []byte("x"), "ciphertext_format": "asn1", "return_key": true}, "return_key"},
		{"certificate with a ciphertext format", map[string]any{"kind": "certificate", "ciphertext_format": "cms"}, "ciphertext_format"},
		{"seal without documents", map[string]any{"kind": "seal"}, "documents"},
		{"seal document without pdf", map[string]any{"kind": "seal", "documents": one(map[string]any{"name": "a.pdf"})}, "documents[0].pdf"},
	} {
		r := w.app("POST", "/v1/sessions", tc.body)
		if r.status != 400 || r.code != "invalid_request" || r.field != tc.field {
			t.Errorf("%s: got %d %q field %q, want 400 invalid_request field %q: %s", tc.name, r.status, r.code, r.field, tc.field, r.body)
		}
	}
	// Refusals of what the request names: the issuer, the user, an alg
	// the issuer does not issue.
	for _, tc := range []struct {
		body        map[string]any
		status      int
		code, field string
	}{
		{map[string]any{"kind": "login", "issuer": "nope"}, 404, "unknown_issuer", "issuer"},
		{map[string]any{"kind": "login", "user": "usr_nope"}, 404, "user_not_found", "user"},
		{map[string]any{"kind": "login", "issuer": "sm2", "alg": "RSA"}, 400, "alg_not_allowed", "alg"},
	} {
		r := w.app("POST", "/v1/sessions", tc.body)
		if r.status != tc.status || r.code != tc.code || r.field != tc.field {
			t.Errorf("%v: got %d %q field %q, want %d %s field %q: %s", tc.body, r.status, r.code, r.field, tc.status, tc.code, tc.field, r.body)
		}
	}
	for _, ttl := range []int{-1, 601, 1 << 30} {
		r := w.app("POST", "/v1/sessions", map[string]any{"kind": "login", "ttl_seconds": ttl})
		if r.status != 400 || r.code != "invalid_ttl" || r.field != "ttl_seconds" {
			t.Errorf("ttl_seconds %d: got %d %q field %q, want 400 invalid_ttl field ttl_seconds: %s", ttl, r.status, r.code, r.field, r.body)
		}
	}
	if after := w.sessionKeys(t); after != before {
		t.Fatalf("refused creations left %d session records", after-before)
	}
}

// TestBinaryMembersNotBase64NameTheField: the portal endpoints answer a
// binary member that is not standard base64 (base64url, no padding, plain
// text: the usual slips) with malformed_json naming that member.
func TestBinaryMembersNotBase64NameTheField(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{})
	for _, tc := range []struct {
		path  string
		body  rawBody
		field string
	}{
		{"/v1/verify", `{"data":"aGk=","signature":"MEUCIQD-_w"}`, "signature"},
		{"/v1/verify", `{"cms":"aGk=","digest":"aGk"}`, "digest"},
		{"/v1/encrypt", `{"user":"usr_x","data":"Price: 987,654 CNY"}`, "data"},
		{"/v1/sessions", `{"kind":"sign","documents":[{"name":"a","data":"YQ=="},{"name":"b","data":"YQ"}]}`, "documents[1].data"},
		{"/v1/sessions", `{"kind":"decrypt","ciphertext":"BAB_-w","ciphertext_format":"c1c3c2"}`, "ciphertext"},
	} {
		r := w.app("POST", tc.path, tc.body)
		if r.status != 400 || r.code != "malformed_json" || r.field != tc.field {
			t.Errorf("%s %s: got %d %q field %q, want 400 malformed_json field %q: %s", tc.path, tc.body, r.status, r.code, r.field, tc.field, r.body)
		}
	}
}
