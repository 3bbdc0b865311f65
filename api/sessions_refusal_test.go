package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// sxState is what "nothing changed" compares: the state and every event.
func (w *sxWorld) sxState(t *testing.T, id string) string {
	t.Helper()
	v := w.view(id)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unchanged checks that session id is as before.
func (w *sxWorld) unchanged(t *testing.T, id, before string) {
	t.Helper()
	if after := w.sxState(t, id); after != before {
		t.Fatalf("the session changed:\nbefore %s\nafter  %s", before, after)
	}
}

// sessionKeys counts the store's session records.
func (w *sxWorld) sessionKeys(t *testing.T) int {
	t.Helper()
	kvs, _, err := w.ts.Server.Store().List(context.Background(), "sessions/")
	if err != nil {
		t.Fatal(err)
	}
	return len(kvs)
}

// wrongCode is a two-digit code other than code.
func wrongCode(code string) string {
	if code == "00" {
		return "01"
	}
	return "00"
}

func TestSessionsRefusals(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	cred := func(k string) string { return w.creds[k].ID }

	t.Run("create refusals change nothing", func(t *testing.T) {
		before := w.sessionKeys(t)
		doc := func(m map[string]any) []map[string]any { return []map[string]any{m} }
		for _, tc := range []struct {
			name   string
			body   any
			hdr    map[string]string
			status int
			code   string
		}{
			{"no app key", map[string]any{"kind": "login"}, map[string]string{"Authorization": ""}, 401, "missing_token"},
			{"wrong app key", map[string]any{"kind": "login"}, map[string]string{"Authorization": "Bearer ukg_nope"}, 401, "invalid_token"},
			{"origin of another app", map[string]any{"kind": "login", "origin": sxOrigin2}, nil, 403, "origin_not_allowed"},
			{"Origin header of another app", map[string]any{"kind": "login"}, map[string]string{"Origin": sxOrigin2}, 403, "origin_not_allowed"},
			{"malformed origin", map[string]any{"kind": "login", "origin": "bid.example.cn"}, nil, 400, "invalid_request"},
			{"malformed JSON", rawBody(`{"kind": "login",`), nil, 400, "malformed_json"},
			{"trailing data", rawBody(`{"kind": "login"} {}`), nil, 400, "malformed_json"},
			{"unknown field", map[string]any{"kind": "sign", "documnets": doc(map[string]any{"name": "a", "data": []byte("x")})}, nil, 400, "unknown_field"},
			{"unknown document field", map[string]any{"kind": "sign", "documents": doc(map[string]any{"name": "a", "dat": []byte("x")})}, nil, 400, "unknown_field"},
			{"no kind", map[string]any{}, nil, 400, "invalid_request"},
			{"unknown kind", map[string]any{"kind": "seal"}, nil, 400, "invalid_request"},
			{"sign without documents", map[string]any{"kind": "sign"}, nil, 400, "invalid_request"},
			{"data and digest", map[string]any{"kind": "sign", "documents": doc(map[string]any{"name": "a", "data": []byte("x"), "digest": make([]byte, 32)})}, nil, 400, "invalid_request"},
			{"short digest", map[string]any{"kind": "sign", "documents": doc(map[string]any{"name": "a", "digest": make([]byte, 31)})}, nil, 400, "invalid_request"},
			{"attached digest", map[string]any{"kind": "sign", "format": "cms-attached", "documents": doc(map[string]any{"name": "a", "digest": make([]byte, 32)})}, nil, 400, "invalid_request"},
			{"unknown format", map[string]any{"kind": "sign", "format": "pdf", "documents": doc(map[string]any{"name": "a", "data": []byte("x")})}, nil, 400, "invalid_request"},
			{"decrypt without ciphertext", map[string]any{"kind": "decrypt", "ciphertext_format": "asn1"}, nil, 400, "invalid_request"},
			{"unknown ciphertext format", map[string]any{"kind": "decrypt", "ciphertext": []byte("x"), "ciphertext_format": "pkcs7"}, nil, 400, "invalid_request"},
			{"RSA key for an SM2 ciphertext", map[string]any{"kind": "decrypt", "alg": "RSA", "ciphertext": []byte("x"), "ciphertext_format": "c1c3c2"}, nil, 400, "invalid_request"},
			{"bad alg", map[string]any{"kind": "login", "alg": "ECDSA"}, nil, 400, "invalid_request"},
			{"unknown issuer", map[string]any{"kind": "login", "issuer": "nope"}, nil, 404, "unknown_issuer"},
			{"unknown user", map[string]any{"kind": "login", "user": "usr_nope"}, nil, 404, "user_not_found"},
			{"alg the issuer does not issue", map[string]any{"kind": "login", "issuer": "sm2", "alg": "RSA"}, nil, 400, "alg_not_allowed"},
			{"ttl over the maximum", map[string]any{"kind": "login", "ttl_seconds": 601}, nil, 400, "invalid_ttl"},
			{"negative ttl", map[string]any{"kind": "login", "ttl_seconds": -1}, nil, 400, "invalid_ttl"},
			{"oversized body", map[string]any{"kind": "sign", "documents": doc(map[string]any{"name": "a", "data": make([]byte, 1<<20)})}, nil, 413, "body_too_large"},
			{"wrong content type", rawBody(`{"kind": "login"}`), map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{"Authorization": "Bearer " + w.appKey}
				for k, v := range tc.hdr {
					hdr[k] = v
				}
				if hdr["Authorization"] == "" {
					delete(hdr, "Authorization")
				}
				w.refused(w.do("POST", "/v1/sessions", tc.body, hdr), tc.status, tc.code)
			})
		}
		t.Run("too many documents", func(t *testing.T) {
			var docs []map[string]any
			for i := range 101 {
				docs = append(docs, map[string]any{"name": strings.Repeat("d", i+1), "data": []byte("x")})
			}
			w.refused(w.app("POST", "/v1/sessions", map[string]any{"kind": "sign", "documents": docs}), 400, "invalid_request")
		})
		if after := w.sessionKeys(t); after != before {
			t.Fatalf("refused creations left %d session records", after-before)
		}
	})

	t.Run("second scan and replayed QR code", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		before := w.sxState(t, c.ID)
		// (Alice's phone scanning again gets the same answer:
		// TestScanAgainSameDevice.)
		_, err := w.scan(w.bob, c.QR.Payload)
		mustRefuse(t, err, "already_scanned")
		w.unchanged(t, c.ID, before)
		w.must(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/reject", nil), http.StatusOK)
		before = w.sxState(t, c.ID)
		_, err = w.scan(w.bob, c.QR.Payload)
		mustRefuse(t, err, "nonce_used")
		w.unchanged(t, c.ID, before)
		if v := w.view(c.ID); v.State != "rejected" {
			t.Fatalf("state %s", v.State)
		}
		// The refusal is audited (once: the refused scans add nothing).
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["action"] != "session.reject" || e[0]["actor"] != "device:"+w.alice.State.DeviceID ||
			e[0]["user"] != w.alice.State.UserID || e[0]["app"] != w.appID || e[0]["detail"] != "kind=login" || e[0]["outcome"] != "ok" {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("a refused signature is audited with its document's digest", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "sign", "documents": []map[string]any{{"name": "bid.txt", "data": []byte("bid for lot 7")}}})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		w.refused(w.signed(w.bob, "POST", "/v1/sessions/"+c.ID+"/reject", nil), 403, "wrong_device")
		w.must(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/reject", nil), http.StatusOK)
		w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/reject", nil), 409, "session_closed")
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["action"] != "session.reject" || e[0]["detail"] != "kind=sign" ||
			e[0]["digest"] != hex.EncodeToString(gmcrypto.SM3([]byte("bid for lot 7"))) {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("a session for another user", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login", "user": w.alice.State.UserID})
		before := w.sxState(t, c.ID)
		_, err := w.scan(w.bob, c.QR.Payload)
		mustRefuse(t, err, "wrong_user")
		w.unchanged(t, c.ID, before)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("scan refusals", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		before := w.sxState(t, c.ID)
		id := c.ID
		wrongNonce := c.QR.Payload[:len(c.QR.Payload)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(c.QR.Payload, "A")]
		for _, tc := range []struct{ payload, code string }{
			{"https://evil.example/q/" + id + ".AAAAAAAAAAAAAAAA", "invalid_payload"},
			{c.QR.Payload + "x", "invalid_payload"},
			{strings.Replace(c.QR.Payload, ".", "/", 1), "invalid_payload"},
			{wrongNonce, "session_not_found"},
			{w.ts.URL + "/q/AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA", "session_not_found"},
		} {
			_, err := w.scan(w.alice, tc.payload)
			mustRefuse(t, err, tc.code)
		}
		w.refused(w.signed(w.alice, "POST", "/v1/scan", map[string]any{"payload": c.QR.Payload, "extra": 1}), 400, "unknown_field")
		w.refused(w.signed(w.alice, "POST", "/v1/scan", map[string]any{}), 400, "invalid_request")
		w.refused(w.do("POST", "/v1/scan", map[string]any{"payload": c.QR.Payload}, nil), 401, "missing_device_headers")
		w.unchanged(t, c.ID, before)
	})

	t.Run("confirm before the scan and from another device", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		before := w.sxState(t, c.ID)
		mustRefuse(t, w.confirm(w.alice, c.ID, cred("alice/sm2/sign"), sxPIN, c.Code), "not_scanned")
		w.unchanged(t, c.ID, before)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		before = w.sxState(t, c.ID)
		mustRefuse(t, w.confirm(w.bob, c.ID, cred("bob/sm2/sign"), sxPIN, c.Code), "wrong_device")
		mustRefuse(t, w.confirm(w.bob, c.ID, cred("bob/sm2/sign"), sxPIN, wrongCode(c.Code)), "wrong_device")
		w.refused(w.signed(w.bob, "POST", "/v1/sessions/"+c.ID+"/reject", nil), 403, "wrong_device")
		w.unchanged(t, c.ID, before)
		if err := w.confirm(w.alice, c.ID, cred("alice/sm2/sign"), sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong PIN, then the right one", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "sign", "documents": []map[string]any{{"name": "a", "data": []byte("bid")}}})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		before := w.sxState(t, c.ID)
		r := w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/confirm",
			map[string]string{"credential": cred("alice/sm2/sign"), "pin": "000000", "code": c.Code}), 403, "wrong_pin")
		if r.detail["remaining_tries"] != float64(4) {
			t.Fatalf("error %v", r.detail)
		}
		w.unchanged(t, c.ID, before)
		if err := w.confirm(w.alice, c.ID, cred("alice/sm2/sign"), sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		e := w.auditOf(t, c.ID)
		if len(e) != 2 || e[0]["outcome"] != "failed" || e[0]["detail"] != "wrong_pin" || e[1]["outcome"] != "ok" ||
			e[0]["digest"] != e[1]["digest"] || e[0]["digest"] == "" {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("PIN lockout after 5 wrong tries", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		if _, err := w.scan(w.carol, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		before := w.sxState(t, c.ID)
		body := map[string]string{"credential": cred("carol/sm2/sign"), "pin": "000000", "code": c.Code}
		for want := 4; want >= 1; want-- {
			r := w.refused(w.signed(w.carol, "POST", "/v1/sessions/"+c.ID+"/confirm", body), 403, "wrong_pin")
			if r.detail["remaining_tries"] != float64(want) {
				t.Fatalf("remaining %v, want %d", r.detail["remaining_tries"], want)
			}
		}
		r := w.refused(w.signed(w.carol, "POST", "/v1/sessions/"+c.ID+"/confirm", body), 423, "pin_locked")
		if secs, _ := r.detail["retry_after_seconds"].(float64); secs <= 0 || r.header.Get("Retry-After") == "" {
			t.Fatalf("lock %v %v", r.detail, r.header)
		}
		body["pin"] = sxPIN
		w.refused(w.signed(w.carol, "POST", "/v1/sessions/"+c.ID+"/confirm", body), 423, "pin_locked")
		w.unchanged(t, c.ID, before)
		m := w.must(w.do("GET", "/metrics", nil, nil), http.StatusOK)
		if !bytes.Contains(m.body, []byte("\nukeygate_pin_lockouts_total 2\n")) {
			t.Fatalf("metrics lack the two lockouts:\n%s", grepLines(m.body, "pin_lockouts"))
		}
		if e := w.auditOf(t, c.ID); len(e) != 6 || e[4]["detail"] != "pin_locked" || e[5]["detail"] != "pin_locked" {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("wrong matching code fails the session", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil {
			t.Fatal(err)
		}
		bad := ""
		for _, ch := range sc.Session.CodeChoices {
			if ch != c.Code {
				bad = ch
			}
		}
		r := w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/confirm",
			map[string]string{"credential": cred("alice/sm2/sign"), "pin": sxPIN, "code": bad}), 403, "wrong_code")
		if r.detail["reason"] != "wrong_code" {
			t.Fatalf("error %v", r.detail)
		}
		v := w.view(c.ID)
		if v.State != "failed" || v.Reason != "wrong_code" || len(v.Events) != 3 || v.Events[2].Reason != "wrong_code" || v.Result != nil {
			t.Fatalf("session %+v", v)
		}
		mustRefuse(t, w.confirm(w.alice, c.ID, cred("alice/sm2/sign"), sxPIN, c.Code), "session_closed")
	})

	t.Run("credential refusals keep the session confirmable", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "sign", "alg": "SM2", "documents": []map[string]any{{"name": "a", "data": []byte("bid")}}})
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Credentials) != 1 || sc.Credentials[0].ID != cred("alice/sm2/sign") {
			t.Fatalf("an SM2 sign session offers %v", sc.Credentials)
		}
		before := w.sxState(t, c.ID)
		mustRefuse(t, w.confirm(w.alice, c.ID, cred("alice/rsa/sign"), sxPIN, c.Code), "credential_mismatch")
		mustRefuse(t, w.confirm(w.alice, c.ID, cred("alice/sm2/encrypt"), sxPIN, c.Code), "credential_mismatch")
		mustRefuse(t, w.confirm(w.alice, c.ID, cred("bob/sm2/sign"), sxPIN, c.Code), "credential_not_found")
		mustRefuse(t, w.confirm(w.alice, c.ID, "cred_nope", sxPIN, c.Code), "credential_not_found")
		w.unchanged(t, c.ID, before)
		if err := w.confirm(w.alice, c.ID, cred("alice/sm2/sign"), sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("revoked credential", func(t *testing.T) {
		encCert := certOf(t, w.creds["bob/sm2/encrypt"])
		ct, err := gmcrypto.Encrypt(encCert.PublicKey, []byte("secret"), gmcrypto.FormatC1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": "c1c3c2"})
		if _, err := w.scan(w.bob, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		w.must(w.do("POST", "/v1/admin/credentials/"+cred("bob/sm2/encrypt")+"/revoke", map[string]string{"reason": "keyCompromise"},
			map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}), http.StatusOK)
		before := w.sxState(t, c.ID)
		mustRefuse(t, w.confirm(w.bob, c.ID, cred("bob/sm2/encrypt"), sxPIN, c.Code), "credential_not_active")
		w.unchanged(t, c.ID, before)
	})

	t.Run("a ciphertext that does not open fails the session", func(t *testing.T) {
		encCert := certOf(t, w.creds["alice/sm2/encrypt"])
		ct, err := gmcrypto.Encrypt(encCert.PublicKey, []byte("secret"), gmcrypto.FormatC1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		ct[len(ct)-1] ^= 1
		c := w.create(map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": "c1c3c2"})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		r := w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/confirm",
			map[string]string{"credential": cred("alice/sm2/encrypt"), "pin": sxPIN, "code": c.Code}), 422, "operation_failed")
		if r.detail["reason"] != "decryption_failed" {
			t.Fatalf("error %v", r.detail)
		}
		if v := w.view(c.ID); v.State != "failed" || v.Reason != "decryption_failed" {
			t.Fatalf("session %+v", v)
		}
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["outcome"] != "failed" || e[0]["detail"] != "decryption_failed" {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("malformed confirm bodies", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		before := w.sxState(t, c.ID)
		path := "/v1/sessions/" + c.ID + "/confirm"
		w.refused(w.signed(w.alice, "POST", path, map[string]string{"credential": cred("alice/sm2/sign"), "pin": sxPIN}), 400, "invalid_request")
		w.refused(w.signed(w.alice, "POST", path, map[string]any{"credential": cred("alice/sm2/sign"), "pin": sxPIN, "code": c.Code, "codes": 1}), 400, "unknown_field")
		w.refused(w.signed(w.alice, "POST", path, map[string]any{"credential": 7, "pin": sxPIN, "code": c.Code}), 400, "malformed_json")
		w.refused(w.signed(w.alice, "POST", "/v1/sessions/not-a-session/confirm", map[string]string{"credential": "x", "pin": "1", "code": "00"}), 404, "session_not_found")
		w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+c.ID+"/reject", map[string]any{"why": "no"}), 400, "unknown_field")
		w.unchanged(t, c.ID, before)
	})

	t.Run("watch and read access", func(t *testing.T) {
		c1 := w.create(map[string]any{"kind": "login"})
		c2 := w.create(map[string]any{"kind": "login"})
		before := w.sxState(t, c1.ID)
		base := w.ts.URL + "/v1/sessions/" + c1.ID
		other := map[string]string{"Authorization": "Bearer " + w.otherKey}
		for _, tc := range []struct {
			url  string
			hdr  map[string]string
			code string
		}{
			{base, nil, "session_not_found"},
			{base + "?token=" + c2.Watch.Token, nil, "session_not_found"},
			{base + "/events", nil, "session_not_found"},
			{base + "/events?token=" + c2.Watch.Token, nil, "session_not_found"},
			{base + "/events?token=", nil, "session_not_found"},
			{base + "/qr.png?token=" + c2.Watch.Token, nil, "session_not_found"},
			{base + "/qr.svg", nil, "session_not_found"},
			{base, other, "session_not_found"},
			{base + "/events", other, "session_not_found"},
			{base + "/qr.png", other, "session_not_found"},
			{base, map[string]string{"Authorization": "Bearer ukg_nope"}, "invalid_token"},
		} {
			status := http.StatusNotFound
			if tc.code == "invalid_token" {
				status = http.StatusUnauthorized
			}
			w.refused(w.do("GET", tc.url, nil, tc.hdr), status, tc.code)
		}
		w.refused(w.do("DELETE", base, nil, other), 404, "session_not_found")
		for _, u := range []string{strings.Replace(c1.Watch.WSURL, c1.Watch.Token, c2.Watch.Token, 1), strings.Split(c1.Watch.WSURL, "?")[0]} {
			conn, resp, err := w.dial(u, 0, nil)
			if err == nil {
				conn.Close()
				t.Fatalf("websocket %s opened", u)
			}
			if resp == nil || resp.StatusCode != http.StatusNotFound {
				t.Fatalf("websocket %s: %v %v", u, resp, err)
			}
		}
		// The watch token reads its own session; the events after the last
		// one are an error, not a wait.
		w.must(w.do("GET", base+"?token="+c1.Watch.Token, nil, nil), http.StatusOK)
		w.refused(w.do("GET", c1.Watch.EventsURL+"&after=2", nil, nil), 400, "invalid_seq")
		w.refused(w.do("GET", c1.Watch.EventsURL+"&after=-1", nil, nil), 400, "invalid_request")
		w.refused(w.do("GET", c1.Watch.EventsURL+"&wait=61", nil, nil), 400, "invalid_request")
		w.unchanged(t, c1.ID, before)
	})

	t.Run("browser origins", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		conn, resp, err := w.dial(c.Watch.WSURL, 0, http.Header{"Origin": {sxOrigin2}})
		if err == nil {
			conn.Close()
			t.Fatal("a websocket from another app's origin opened")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%v %v", resp, err)
		}
		w.refused(w.do("GET", c.Watch.EventsURL, nil, map[string]string{"Origin": sxOrigin2}), 403, "origin_not_allowed")
		w.refused(w.do("GET", c.Watch.EventsURL, nil, map[string]string{"Origin": "null"}), 403, "origin_not_allowed")
		r := w.must(w.do("GET", c.Watch.EventsURL, nil, map[string]string{"Origin": sxOrigin}), http.StatusOK)
		if r.header.Get("Access-Control-Allow-Origin") != sxOrigin {
			t.Fatalf("CORS header %q", r.header.Get("Access-Control-Allow-Origin"))
		}
		conn, _, err = w.dial(c.Watch.WSURL, 0, http.Header{"Origin": {sxOrigin}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		evs, _ := readEvents(t, conn, 1)
		if len(evs) != 1 || evs[0].Seq != 1 || evs[0].State != "waiting" {
			t.Fatalf("events %+v", evs)
		}
		// Not a websocket upgrade: a JSON error, not gorilla's text.
		w.refused(w.do("GET", "http"+strings.TrimPrefix(c.Watch.WSURL, "ws"), nil, nil), 400, "invalid_request")
	})

	t.Run("cancel", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		var st struct{ ID, State string }
		w.must(w.app("DELETE", "/v1/sessions/"+c.ID, nil), http.StatusOK).decode(t, &st)
		if st.State != "cancelled" {
			t.Fatalf("state %s", st.State)
		}
		w.refused(w.app("DELETE", "/v1/sessions/"+c.ID, nil), 409, "session_closed")
		_, err := w.scan(w.alice, c.QR.Payload)
		mustRefuse(t, err, "session_closed")
		if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["action"] != "session.cancel" || e[0]["actor"] != "app:"+w.appID ||
			e[0]["app"] != w.appID || e[0]["detail"] != "kind=login" || e[0]["user"] != nil {
			t.Fatalf("audit %v", e)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		waiting := w.create(map[string]any{"kind": "login", "ttl_seconds": 1})
		scanned := w.create(map[string]any{"kind": "login", "ttl_seconds": 1})
		if _, err := w.scan(w.alice, scanned.QR.Payload); err != nil {
			t.Fatal(err)
		}
		// The long-poll returns when the expirer fires (within about a
		// second), not after a sleep.
		for _, tc := range []struct {
			c     *sxCreated
			after int
		}{{waiting, 1}, {scanned, 2}} {
			var got struct{ Events []sxEvent }
			w.must(w.do("GET", tc.c.Watch.EventsURL+"&wait=20&after="+strconv.Itoa(tc.after), nil, nil), http.StatusOK).decode(t, &got)
			if len(got.Events) != 1 || got.Events[0].State != "expired" {
				t.Fatalf("events %+v", got.Events)
			}
		}
		before := w.sxState(t, waiting.ID)
		_, err := w.scan(w.alice, waiting.QR.Payload)
		mustRefuse(t, err, "session_expired")
		w.unchanged(t, waiting.ID, before)
		before = w.sxState(t, scanned.ID)
		mustRefuse(t, w.confirm(w.alice, scanned.ID, cred("alice/sm2/sign"), sxPIN, scanned.Code), "session_expired")
		w.refused(w.signed(w.alice, "POST", "/v1/sessions/"+scanned.ID+"/reject", nil), 410, "session_expired")
		w.unchanged(t, scanned.ID, before)
	})
}

// grepLines returns the lines of b containing s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
