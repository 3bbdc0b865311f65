package api_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"github.com/ukeygate/ukeygate/audit"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

func TestEncrypt(t *testing.T) {
	t.Parallel()
	w := newPortalWorld(t)
	data := []byte("开标密钥 bid-opening secret")
	keys := map[string]crypto.Signer{}
	certs := map[string]*smx509.Certificate{}
	for _, n := range []string{"sm2-encrypt", "rsa-encrypt"} {
		keys[n], certs[n] = w.key(n)
	}
	open := func(t *testing.T, e protocol.EncryptResponse, want string) {
		t.Helper()
		c := w.creds[want]
		if e.Credential != c.ID || e.Issuer != c.Issuer || e.Alg != c.Alg || e.CertificatePEM != c.CertificatePEM {
			t.Fatalf("enveloped to %s/%s/%s, want %s (%s)", e.Credential, e.Issuer, e.Alg, c.ID, want)
		}
		if kind, err := gmcrypto.CMSKind(e.CMS); err != nil || kind != gmcrypto.CMSKindEnvelopedData {
			t.Fatalf("cms kind %q, %v", kind, err)
		}
		got, err := gmcrypto.OpenCMS(e.CMS, certs[want], keys[want])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("opening with %s: %q, %v", want, got, err)
		}
		// Another credential's key cannot open it.
		other := "sm2-encrypt"
		if want == other {
			other = "rsa-encrypt"
		}
		if _, err := gmcrypto.OpenCMS(e.CMS, certs[other], keys[other]); err == nil {
			t.Fatalf("%s's key opened an envelope to %s", other, want)
		}
	}
	encrypt := func(req map[string]any) (*resp, protocol.EncryptResponse) {
		t.Helper()
		r := w.portal("POST", "/v1/encrypt", req)
		var e protocol.EncryptResponse
		if r.status == http.StatusOK {
			r.decode(t, &e)
		}
		return r, e
	}

	t.Run("by issuer", func(t *testing.T) {
		for iss, want := range map[string]string{"sm2": "sm2-encrypt", "rsa": "rsa-encrypt"} {
			r, e := encrypt(map[string]any{"user": w.userID, "issuer": iss, "data": data})
			w.must(r, http.StatusOK)
			open(t, e, want)
		}
	})
	t.Run("by algorithm", func(t *testing.T) {
		for alg, want := range map[string]string{"SM2": "sm2-encrypt", "RSA": "rsa-encrypt"} {
			r, e := encrypt(map[string]any{"user": w.userID, "alg": alg, "data": data})
			w.must(r, http.StatusOK)
			open(t, e, want)
		}
	})
	t.Run("newest when not told", func(t *testing.T) {
		// The RSA encryption credential was requested last.
		r, e := encrypt(map[string]any{"user": w.userID, "data": data})
		w.must(r, http.StatusOK)
		open(t, e, "rsa-encrypt")
	})
	t.Run("audited", func(t *testing.T) {
		list, err := w.log.List(context.Background(), audit.Filter{Action: "encrypt"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 5 {
			t.Fatalf("%d encrypt entries, want 5", len(list))
		}
		e := list[len(list)-1]
		if e.AppID != w.appID || e.Actor != "app:"+w.appID || e.UserID != w.userID || e.CredentialID != w.creds["rsa-encrypt"].ID ||
			e.Digest != hex.EncodeToString(gmcrypto.SM3(data)) || e.Outcome != audit.OutcomeOK || e.IssuerID != "rsa" {
			t.Fatalf("entry %+v", e)
		}
	})

	t.Run("refused", func(t *testing.T) {
		before := w.snapshot()
		for _, tc := range []struct {
			name   string
			body   any
			auth   string
			status int
			code   string
			field  string
		}{
			{"no app key", map[string]any{"user": w.userID, "data": data}, "-", 401, "missing_token", ""},
			{"unknown user", map[string]any{"user": "usr_nobody", "data": data}, "", 404, "user_not_found", ""},
			{"unknown issuer", map[string]any{"user": w.userID, "issuer": "nope", "data": data}, "", 404, "unknown_issuer", ""},
			{"no credential of that algorithm at the issuer", map[string]any{"user": w.userID, "issuer": "sm2", "alg": "RSA", "data": data}, "", 404, "no_encryption_credential", ""},
			{"no user", map[string]any{"data": data}, "", 400, "invalid_request", "user"},
			{"malformed user", map[string]any{"user": "../x", "data": data}, "", 400, "invalid_request", "user"},
			{"no data", map[string]any{"user": w.userID}, "", 400, "invalid_request", "data"},
			{"bad alg", map[string]any{"user": w.userID, "alg": "ECDSA", "data": data}, "", 400, "invalid_request", "alg"},
			{"unknown field", map[string]any{"user": w.userID, "data": data, "recipient": "x"}, "", 400, "unknown_field", "recipient"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{"Authorization": "Bearer " + w.appKey}
				if tc.auth == "-" {
					hdr["Authorization"] = ""
				}
				r := w.do("POST", "/v1/encrypt", tc.body, hdr)
				if r.status != tc.status || r.code != tc.code || r.field != tc.field {
					t.Fatalf("%d %s %q, want %d %s %q: %s", r.status, r.code, r.field, tc.status, tc.code, tc.field, r.body)
				}
			})
		}
		if !sameSnapshot(before, w.snapshot()) {
			t.Fatal("a refused encrypt changed the store")
		}
	})

	t.Run("revoked credentials are skipped", func(t *testing.T) {
		w.must(w.admin("POST", "/v1/admin/credentials/"+w.creds["rsa-encrypt"].ID+"/revoke", map[string]string{}), http.StatusOK)
		r, e := encrypt(map[string]any{"user": w.userID, "data": data})
		w.must(r, http.StatusOK)
		open(t, e, "sm2-encrypt")
		w.must(w.admin("POST", "/v1/admin/credentials/"+w.creds["sm2-encrypt"].ID+"/revoke", map[string]string{}), http.StatusOK)
		r, _ = encrypt(map[string]any{"user": w.userID, "data": data})
		if r.status != http.StatusNotFound || r.code != "no_encryption_credential" {
			t.Fatalf("%d %s: %s", r.status, r.code, r.body)
		}
	})
}
