package api_test

import (
	"bytes"
	"crypto"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// signedOpts spoil a device-signed request.
type signedOpts struct {
	key    crypto.Signer // default: the phone's key
	device string        // default: the phone's device
	skew   time.Duration // added to the clock for X-Timestamp
}

// signedRequest builds a device-signed request of the world's phone.
func (w *world) signedRequest(method, path string, body any, o signedOpts) *http.Request {
	w.t.Helper()
	key, dev := o.key, o.device
	if key == nil {
		var err error
		if key, err = w.phone.State.Key(); err != nil {
			w.t.Fatal(err)
		}
	}
	if dev == "" {
		dev = w.phone.State.DeviceID
	}
	return deviceRequest(w.t, method, w.url+path, body, dev, key, w.clock.Now().Add(o.skew))
}

func (w *world) signed(method, path string, body any, o signedOpts) *resp {
	w.t.Helper()
	return w.send(w.signedRequest(method, path, body, o))
}

// resend sends a copy of req (same headers and body).
func (w *world) resend(req *http.Request) *resp {
	w.t.Helper()
	c := req.Clone(req.Context())
	c.Body, _ = req.GetBody()
	return w.send(c)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	otherKey, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := gmcrypto.GenerateKey(gmcrypto.AlgRSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := gmcrypto.MarshalPublicKeyPEM(rsaKey.Public())
	rsaPriv, _ := gmcrypto.MarshalPrivateKeyPEM(rsaKey)
	sm2Pub, _ := gmcrypto.MarshalPublicKeyPEM(otherKey.Public())
	otherCA := newOpenSSLCA(t, "Unrelated CA")
	// A certificate for the pending credential's key from the wrong CA, and
	// one from the right CA for the wrong key.
	wrongChain := otherCA.signCSR(w.extCrypt.CSRPEM, "critical,keyEncipherment,dataEncipherment")
	wrongKey := w.ext.otherKeyCert("critical,keyEncipherment,dataEncipherment")
	wrongUsage := w.ext.signCSR(w.extCrypt.CSRPEM, "critical,digitalSignature")
	garbagePEM := "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n"
	bigPEM := strings.Repeat("A", testMaxBody+1)
	user := map[string]string{"name": "赵六"}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	adminHdr := bearer(testAdminToken)
	withType := func(ct string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + testAdminToken, "Content-Type": ct}
	}
	credReq := func(issuer, alg, purpose string) map[string]string {
		return map[string]string{"issuer": issuer, "alg": alg, "purpose": purpose, "pin": testPIN}
	}
	var replay *http.Request

	tests := []struct {
		name    string
		prepare func() // runs before the snapshot
		send    func() *resp
		status  int
		code    string
		field   string
	}{
		// The operator's token.
		{name: "admin call without token", send: func() *resp { return w.do("POST", "/v1/admin/users", user, nil) },
			status: 401, code: "missing_token"},
		{name: "admin call with wrong token", send: func() *resp { return w.do("POST", "/v1/admin/users", user, bearer(testAdminToken+"x")) },
			status: 401, code: "invalid_token"},
		{name: "admin list with wrong token", send: func() *resp { return w.do("GET", "/v1/admin/credentials", nil, bearer("nope")) },
			status: 401, code: "invalid_token"},
		{name: "admin call with app key", send: func() *resp { return w.do("GET", "/v1/admin/users", nil, bearer(w.appKey)) },
			status: 401, code: "invalid_token"},
		{name: "issuer without token", send: func() *resp {
			return w.do("POST", "/v1/admin/issuers", map[string]any{"id": "x", "name": "x", "mode": "external", "chain_pem": w.ext.cert}, nil)
		}, status: 401, code: "missing_token"},

		// JSON decoding.
		{name: "body over the size limit", send: func() *resp {
			return w.do("POST", "/v1/admin/issuers", map[string]string{"name": "big", "mode": "external", "chain_pem": bigPEM}, adminHdr)
		}, status: 413, code: "body_too_large"},
		{name: "body over the size limit, chunked", send: func() *resp {
			body, _ := json.Marshal(map[string]string{"name": "big", "mode": "external", "chain_pem": bigPEM})
			req, _ := http.NewRequest("POST", w.url+"/v1/admin/issuers", io.MultiReader(bytes.NewReader(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			return w.send(req)
		}, status: 413, code: "body_too_large"},
		{name: "wrong content type", send: func() *resp { return w.do("POST", "/v1/admin/users", user, withType("text/plain")) },
			status: 415, code: "unsupported_media_type"},
		{name: "no content type", send: func() *resp { return w.do("POST", "/v1/admin/users", user, withType("")) },
			status: 415, code: "unsupported_media_type"},
		{name: "truncated JSON", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(`{"name":`), adminHdr) },
			status: 400, code: "malformed_json"},
		{name: "trailing data", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(`{"name":"a"} {"name":"b"}`), adminHdr) },
			status: 400, code: "malformed_json"},
		{name: "empty body", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(""), adminHdr) },
			status: 400, code: "malformed_json"},
		{name: "array instead of object", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(`[1]`), adminHdr) },
			status: 400, code: "malformed_json"},
		{name: "wrong field type", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(`{"name":5}`), adminHdr) },
			status: 400, code: "malformed_json"},
		{name: "unknown field", send: func() *resp { return w.do("POST", "/v1/admin/users", rawBody(`{"name":"a","nmae":"b"}`), adminHdr) },
			status: 400, code: "unknown_field", field: "nmae"},
		{name: "missing required field", send: func() *resp { return w.do("POST", "/v1/admin/users", map[string]string{"phone": "1"}, adminHdr) },
			status: 400, code: "invalid_request", field: "name"},

		// Issuers.
		{name: "issuer with malformed PEM", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"name": "bad", "mode": "external", "chain_pem": garbagePEM})
		}, status: 400, code: "malformed_pem"},
		{name: "issuer with corrupted certificate", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"name": "bad", "mode": "external", "chain_pem": corruptPEM(w.ext.cert)})
		}, status: 400, code: "malformed_pem"},
		{name: "issuer id taken", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"id": "sm2", "name": "again", "mode": "external", "chain_pem": w.ext.cert})
		}, status: 409, code: "issuer_exists"},
		{name: "issuer with unknown mode", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"name": "x", "mode": "hybrid"})
		}, status: 400, code: "invalid_request", field: "mode"},
		{name: "imported issuer whose key is not the certificate's", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"name": "x", "mode": "internal", "cert_pem": w.ext.cert, "key_pem": string(rsaPriv)})
		}, status: 400, code: "certificate_mismatch"},
		{name: "issuer with unknown parent", send: func() *resp {
			return w.admin("POST", "/v1/admin/issuers", map[string]any{"name": "x", "mode": "internal", "alg": "SM2", "generate": true,
				"subject": map[string]string{"common_name": "x"}, "parent": "nothere"})
		}, status: 404, code: "unknown_issuer"},

		// Apps.
		{name: "app origin with a path", send: func() *resp {
			return w.admin("POST", "/v1/admin/apps", map[string]any{"name": "x", "origins": []string{"https://a.example.cn/login"}})
		}, status: 400, code: "invalid_origin", field: "origins[0]"},
		{name: "app origin with a path and a trailing slash", send: func() *resp {
			return w.admin("POST", "/v1/admin/apps", map[string]any{"name": "x", "origins": []string{"https://a.example.cn/", "https://b.example.cn/login/"}})
		}, status: 400, code: "invalid_origin", field: "origins[1]"},

		// Enrollment.
		{name: "reused activation code", send: func() *resp {
			return w.do("POST", "/v1/enroll", map[string]string{"activation_code": w.code, "device_public_key": string(sm2Pub), "device_name": "2nd", "pin": testPIN}, nil)
		}, status: 410, code: "activation_used"},
		{name: "unknown activation code", send: func() *resp {
			return w.do("POST", "/v1/enroll", map[string]string{"activation_code": "ABCD-EFGH-JKMN-PQRS", "device_public_key": string(sm2Pub), "device_name": "x", "pin": testPIN}, nil)
		}, status: 400, code: "activation_invalid"},
		{name: "RSA device key", send: func() *resp {
			return w.do("POST", "/v1/enroll", map[string]string{"activation_code": w.secondKey, "device_public_key": string(rsaPub), "device_name": "x", "pin": testPIN}, nil)
		}, status: 400, code: "invalid_device_key"},
		{name: "malformed device key", send: func() *resp {
			return w.do("POST", "/v1/enroll", map[string]string{"activation_code": w.secondKey, "device_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "device_name": "x", "pin": testPIN}, nil)
		}, status: 400, code: "malformed_pem"},
		{name: "weak initial PIN", send: func() *resp {
			return w.do("POST", "/v1/enroll", map[string]string{"activation_code": w.secondKey, "device_public_key": string(sm2Pub), "device_name": "x", "pin": "123456"}, nil)
		}, status: 400, code: "weak_pin"},

		// Device signatures.
		{name: "phone call without signature", send: func() *resp { return w.do("GET", "/v1/me/credentials", nil, nil) },
			status: 401, code: "missing_device_headers"},
		{name: "wrong device signature", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", credReq("sm2", "SM2", "encrypt"), signedOpts{key: otherKey})
		}, status: 401, code: "bad_signature"},
		{name: "stale timestamp", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", credReq("sm2", "SM2", "encrypt"), signedOpts{skew: -301 * time.Second})
		}, status: 401, code: "stale_timestamp"},
		{name: "timestamp from the future", send: func() *resp {
			return w.signed("GET", "/v1/me/credentials", nil, signedOpts{skew: 301 * time.Second})
		}, status: 401, code: "stale_timestamp"},
		{name: "replayed nonce", prepare: func() {
			replay = w.signedRequest("PUT", "/v1/me/pin", map[string]string{"old_pin": testPIN, "new_pin": testPIN2}, signedOpts{})
			w.must(w.resend(replay), http.StatusNoContent)
		}, send: func() *resp { return w.resend(replay) }, status: 401, code: "replayed_nonce"},
		{name: "unknown device", send: func() *resp {
			return w.signed("GET", "/v1/me/credentials", nil, signedOpts{device: "dev_0000000000000000"})
		}, status: 401, code: "unknown_device"},

		// Privacy rights: refused before any PIN is looked at.
		{name: "my data without signature", send: func() *resp { return w.do("GET", "/v1/me/data", nil, nil) },
			status: 401, code: "missing_device_headers"},
		{name: "delete account without signature", send: func() *resp { return w.do("DELETE", "/v1/me", map[string]string{"pin": testPIN2}, nil) },
			status: 401, code: "missing_device_headers"},
		{name: "delete account with wrong device signature", send: func() *resp {
			return w.signed("DELETE", "/v1/me", map[string]string{"pin": testPIN2}, signedOpts{key: otherKey})
		}, status: 401, code: "bad_signature"},
		{name: "delete account with stale timestamp", send: func() *resp {
			return w.signed("DELETE", "/v1/me", map[string]string{"pin": testPIN2}, signedOpts{skew: -301 * time.Second})
		}, status: 401, code: "stale_timestamp"},
		{name: "delete account without PIN", send: func() *resp { return w.signed("DELETE", "/v1/me", map[string]string{}, signedOpts{}) },
			status: 400, code: "invalid_request", field: "pin"},
		{name: "delete account with PIN too long", send: func() *resp {
			return w.signed("DELETE", "/v1/me", map[string]string{"pin": strings.Repeat("1", 200)}, signedOpts{})
		}, status: 400, code: "invalid_request", field: "pin"},
		{name: "delete account with unknown field", send: func() *resp {
			return w.signed("DELETE", "/v1/me", map[string]string{"pin": testPIN2, "force": "1"}, signedOpts{})
		}, status: 400, code: "unknown_field", field: "force"},
		{name: "delete account with PIN as a number", send: func() *resp {
			return w.signed("DELETE", "/v1/me", map[string]int{"pin": 135790}, signedOpts{})
		}, status: 400, code: "malformed_json"},
		{name: "operator's export of an unknown user", send: func() *resp { return w.admin("GET", "/v1/admin/users/usr_nobody00000000/data", nil) },
			status: 404, code: "user_not_found"},
		{name: "operator's export without token", send: func() *resp { return w.do("GET", "/v1/admin/users/usr_nobody00000000/data", nil, nil) },
			status: 401, code: "missing_token"},

		// Credentials. The PIN is testPIN2 since the replay case.
		{name: "unknown issuer", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "nothere", "alg": "SM2", "purpose": "sign", "pin": testPIN2}, signedOpts{})
		}, status: 404, code: "unknown_issuer"},
		{name: "algorithm not allowed by the profile", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "sm2", "alg": "RSA", "purpose": "encrypt", "pin": testPIN2}, signedOpts{})
		}, status: 400, code: "alg_not_allowed"},
		{name: "unknown algorithm", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "sm2", "alg": "DSA", "purpose": "encrypt", "pin": testPIN2}, signedOpts{})
		}, status: 400, code: "alg_not_allowed"},
		{name: "unknown purpose", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "sm2", "alg": "SM2", "purpose": "seal", "pin": testPIN2}, signedOpts{})
		}, status: 400, code: "purpose_not_allowed"},
		{name: "credential already held", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "rsa", "alg": "RSA", "purpose": "sign", "pin": testPIN2}, signedOpts{})
		}, status: 409, code: "credential_exists"},
		{name: "credential request with unknown field", send: func() *resp {
			return w.signed("POST", "/v1/me/credentials", map[string]string{"issuer": "rsa", "alg": "RSA", "purpose": "encrypt", "pin": testPIN2, "pim": "1"}, signedOpts{})
		}, status: 400, code: "unknown_field", field: "pim"},
		{name: "weak new PIN", send: func() *resp {
			return w.signed("PUT", "/v1/me/pin", map[string]string{"old_pin": testPIN2, "new_pin": "111111"}, signedOpts{})
		}, status: 400, code: "weak_pin"},

		// Certificate import.
		{name: "import: certificate for another key", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate", map[string]string{"certificate_pem": wrongKey})
		}, status: 400, code: "certificate_mismatch"},
		{name: "import: certificate from another CA", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate", map[string]string{"certificate_pem": wrongChain})
		}, status: 400, code: "certificate_chain"},
		{name: "import: key usage not for encryption", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate", map[string]string{"certificate_pem": wrongUsage})
		}, status: 400, code: "key_usage"},
		{name: "import: malformed PEM", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate", map[string]string{"certificate_pem": garbagePEM})
		}, status: 400, code: "malformed_pem"},
		{name: "import: not pending", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.rsaCred.ID+"/certificate", map[string]string{"certificate_pem": wrongKey})
		}, status: 409, code: "credential_not_pending"},
		{name: "import: unknown credential", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/crd_nothere/certificate", map[string]string{"certificate_pem": wrongKey})
		}, status: 404, code: "credential_not_found"},

		// Revocation.
		{name: "revoke with unknown reason", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.rsaCred.ID+"/revoke", map[string]string{"reason": "boredom"})
		}, status: 400, code: "invalid_reason"},
		{name: "revoke twice", prepare: func() {
			w.must(w.admin("POST", "/v1/admin/credentials/"+w.sm2Cred.ID+"/revoke", map[string]string{"reason": "superseded"}), http.StatusOK)
		}, send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/"+w.sm2Cred.ID+"/revoke", map[string]string{"reason": "superseded"})
		}, status: 409, code: "already_revoked"},
		{name: "revoke unknown credential", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/crd_nothere/revoke", map[string]string{})
		}, status: 404, code: "credential_not_found"},
		{name: "bad credential id in the path", send: func() *resp {
			return w.admin("POST", "/v1/admin/credentials/BAD.ID/revoke", map[string]string{})
		}, status: 400, code: "invalid_request", field: "id"},

		// Queries and public endpoints.
		{name: "unknown credential state", send: func() *resp { return w.admin("GET", "/v1/admin/credentials?state=lost", nil) },
			status: 400, code: "invalid_request", field: "state"},
		{name: "unknown query parameter", send: func() *resp { return w.admin("GET", "/v1/admin/credentials?stat=active", nil) },
			status: 400, code: "invalid_request", field: "stat"},
		{name: "CRL of unknown issuer", send: func() *resp { return w.do("GET", "/v1/issuers/nothere/crl", nil, nil) },
			status: 404, code: "unknown_issuer"},
		{name: "CRL of external issuer", send: func() *resp { return w.do("GET", "/v1/issuers/ext/crl", nil, nil) },
			status: 409, code: "issuer_external"},
		{name: "ca.pem of unknown issuer", send: func() *resp { return w.do("GET", "/v1/issuers/nothere/ca.pem", nil, nil) },
			status: 404, code: "unknown_issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare()
			}
			before := w.snapshot()
			r := tt.send()
			if r.status != tt.status || r.code != tt.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code, tt.status, tt.code, r.body)
			}
			if tt.field != "" && r.field != tt.field {
				t.Errorf("field %q, want %q", r.field, tt.field)
			}
			if after := w.snapshot(); !maps.Equal(before, after) {
				t.Fatalf("the store changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}
