package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// A login signs its challenge in the same scheme a raw sign session signs
// a document (the contract of docs/protocol.md). So a sign session, from any app, over
// a document that is a login challenge would mint a login for the session
// the challenge names. The gateway refuses such documents; a document
// given as a digest cannot be checked, which POST /v1/verify's
// login_session answers.

// lookalikeWorld is a server with an SM2 issuer, the app 招标平台 on
// sxOrigin (appKey, appID), a second app on sxOrigin2 (otherKey) and
// alice with an SM2 sign credential ("alice/sm2/sign").
func lookalikeWorld(t *testing.T) *sxWorld {
	t.Helper()
	return sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "lookalike SM2 Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}}},
	})
}

// storeKeys is every key of the store with its revision, except consumed
// device nonces.
func (w *sxWorld) storeKeys(t *testing.T) map[string]int64 {
	t.Helper()
	kvs, _, err := w.ts.Server.Store().List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for _, kv := range kvs {
		if !strings.HasPrefix(kv.Key, "nonces/") {
			m[kv.Key] = kv.Revision
		}
	}
	return m
}

// TestSessionsRefuseLoginLookalike: a sign session whose document (given
// as data, in any format) could be taken for a login challenge is refused
// with invalid_request naming the document, and nothing is stored; a
// JSON document that only shares one member name is signed as usual.
func TestSessionsRefuseLoginLookalike(t *testing.T) {
	t.Parallel()
	w := lookalikeWorld(t)
	login := w.create(map[string]any{"kind": "login"}) // its id is public to any page that shows it
	now := time.Now().UTC().Truncate(time.Second)
	forged := qrlogin.Challenge{Session: login.ID, App: w.appID, Origin: sxOrigin, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Time: now}.Bytes()
	if _, err := qrlogin.ParseChallenge(forged); err != nil {
		t.Fatalf("the forged challenge is not canonical: %v", err)
	}
	reordered := []byte(`{"nonce":"AAAA","time":"` + now.Format(time.RFC3339) + `","session":"` + login.ID + `","app":"` + w.appID + `","origin":"` + sxOrigin + `"}`)
	doc := func(name string, data []byte) map[string]any { return map[string]any{"name": name, "data": data} }
	tests := []struct {
		name   string
		format string
		docs   []map[string]any
		field  string
	}{
		{"raw, canonical challenge", "raw", []map[string]any{doc("contract.txt", forged)}, "documents[0].data"},
		{"default format, canonical challenge", "", []map[string]any{doc("contract.txt", forged)}, "documents[0].data"},
		{"raw, members reordered", "raw", []map[string]any{doc("c.json", reordered)}, "documents[0].data"},
		{"raw, upper-case names", "raw", []map[string]any{doc("c.json", []byte(`{"SESSION":"`+login.ID+`","NONCE":"x"}`))}, "documents[0].data"},
		{"raw, byte order mark", "raw", []map[string]any{doc("c.json", append([]byte{0xEF, 0xBB, 0xBF}, forged...))}, "documents[0].data"},
		{"raw, second document", "raw", []map[string]any{doc("a.txt", []byte("bid")), doc("b.txt", forged)}, "documents[1].data"},
		{"cms-detached", "cms-detached", []map[string]any{doc("c.json", forged)}, "documents[0].data"},
		{"cms-attached", "cms-attached", []map[string]any{doc("c.json", forged)}, "documents[0].data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.storeKeys(t)
			for _, key := range []string{w.appKey, w.otherKey} { // the victim's own app, and another one
				req := map[string]any{"kind": "sign", "documents": tc.docs, "display": map[string]string{"title": "Sign contract", "summary": "s"}}
				if tc.format != "" {
					req["format"] = tc.format
				}
				r := w.refused(w.do("POST", "/v1/sessions", req, map[string]string{"Authorization": "Bearer " + key}), http.StatusBadRequest, "invalid_request")
				if r.field != tc.field || !strings.Contains(string(r.body), "login challenge") {
					t.Fatalf("field %q, want %q: %s", r.field, tc.field, r.body)
				}
			}
			if after := w.storeKeys(t); !maps.Equal(before, after) {
				t.Fatalf("the store changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	t.Run("a JSON document with a session member only is signed", func(t *testing.T) {
		w.create(map[string]any{"kind": "sign", "format": "raw",
			"documents": []map[string]any{doc("minutes.json", []byte(`{"session":"bid opening 2026-017","agenda":["open","score"]}`))}})
	})
}

// TestVerifyLoginSession: POST /v1/verify tells the app whose login
// challenge it verifies whether the signature is the result of one of its
// completed login sessions. A login's own result is; a signature another
// app's sign session made over the digest of a challenge naming the
// app's session (the one path the document check cannot close) verifies,
// but is not.
func TestVerifyLoginSession(t *testing.T) {
	t.Parallel()
	w := lookalikeWorld(t)
	cred := w.creds["alice/sm2/sign"]
	l := w.create(map[string]any{"kind": "login"})
	if _, err := w.scan(w.alice, l.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(w.alice, l.ID, cred.ID, sxPIN, l.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(l.ID)
	if n := len(v.Events); n == 0 || v.Events[n-1].State != "completed" {
		t.Fatalf("after confirm: %+v", v)
	}
	var login protocol.LoginResult
	if err := json.Unmarshal(v.Events[len(v.Events)-1].Result, &login); err != nil || len(login.Signature) == 0 {
		t.Fatalf("login result: %v %+v", err, login)
	}

	type verdict struct {
		Valid        bool  `json:"valid"`
		LoginSession *bool `json:"login_session"`
	}
	verify := func(key string, data, sig []byte, certPEM string) verdict {
		t.Helper()
		var out verdict
		w.must(w.do("POST", "/v1/verify", map[string]any{"data": data, "signature": sig, "certificate_pem": certPEM},
			map[string]string{"Authorization": "Bearer " + key}), http.StatusOK).decode(t, &out)
		return out
	}
	show := func(b *bool) string {
		if b == nil {
			return "absent"
		}
		if *b {
			return "true"
		}
		return "false"
	}

	// A second login session of the app, still waiting, and a challenge
	// naming it, signed by alice through another app's sign session over
	// its digest.
	waiting := w.create(map[string]any{"kind": "login"})
	forged := qrlogin.Challenge{Session: waiting.ID, App: w.appID, Origin: sxOrigin, Nonce: "AAAAAAAAAAAAAAAAAAAAAA",
		Time: time.Now().UTC().Truncate(time.Second)}.Bytes()
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(cred.CertificatePEM))
	if err != nil {
		t.Fatal(err)
	}
	digest, err := gmcrypto.Digest(certs[0].PublicKey, forged, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sign sxCreated
	w.must(w.do("POST", "/v1/sessions", map[string]any{"kind": "sign", "format": "raw",
		"documents": []map[string]any{{"name": "contract.txt", "digest": digest}},
		"display":   map[string]string{"title": "Sign contract", "summary": "s"}},
		map[string]string{"Authorization": "Bearer " + w.otherKey}), http.StatusCreated).decode(t, &sign)
	if _, err := w.scan(w.alice, sign.QR.Payload); err != nil {
		t.Fatal(err)
	}
	if err := w.confirm(w.alice, sign.ID, cred.ID, sxPIN, sign.Code); err != nil {
		t.Fatal(err)
	}
	var sv sxView
	w.must(w.do("GET", "/v1/sessions/"+sign.ID, nil, map[string]string{"Authorization": "Bearer " + w.otherKey}), http.StatusOK).decode(t, &sv)
	var signed struct {
		Documents []struct {
			Signature []byte `json:"signature"`
		} `json:"documents"`
	}
	if n := len(sv.Events); n == 0 || sv.Events[n-1].State != "completed" ||
		json.Unmarshal(sv.Events[n-1].Result, &signed) != nil || len(signed.Documents) != 1 {
		t.Fatalf("sign session %+v", sv)
	}
	minted := signed.Documents[0].Signature

	tests := []struct {
		name      string
		key       string
		data, sig []byte
		wantValid bool
		want      string // login_session
	}{
		{"the login's own result", w.appKey, login.Challenge, login.Signature, true, "true"},
		{"the same result, asked by another app", w.otherKey, login.Challenge, login.Signature, true, "absent"},
		{"a signature minted by a sign session over the digest", w.appKey, forged, minted, true, "false"},
		{"the login's challenge with the minted signature", w.appKey, login.Challenge, minted, false, "false"},
		{"not a challenge", w.appKey, []byte("bid 2026-017"), login.Signature, false, "absent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := verify(tc.key, tc.data, tc.sig, login.CertificatePEM)
			if got.Valid != tc.wantValid || show(got.LoginSession) != tc.want {
				t.Fatalf("valid %v, login_session %s; want %v, %s (data %s, signature %s)", got.Valid, show(got.LoginSession),
					tc.wantValid, tc.want, tc.data, base64.StdEncoding.EncodeToString(tc.sig))
			}
		})
	}
}
