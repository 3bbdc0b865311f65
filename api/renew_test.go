package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestRenewEndpoint: the phone renews its SM2 credential (same key, new
// serial; the old one superseded); renewing it again, another user's
// credential and new_key are refused.
func TestRenewEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	var out protocol.Renewed
	if err := w.phone.Do(ctx, "POST", "/v1/me/credentials/"+w.sm2Cred.ID+"/renew", map[string]any{"pin": testPIN, "new_key": true}, &out); err == nil {
		t.Fatal("new_key accepted")
	}
	if err := w.phone.Do(ctx, "POST", "/v1/me/credentials/"+w.sm2Cred.ID+"/renew", map[string]any{"pin": testPIN}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Credential.ID == w.sm2Cred.ID || out.Credential.State != "active" || out.Credential.Serial == w.sm2Cred.Serial {
		t.Fatalf("renewed %+v", out.Credential)
	}
	var list protocol.CredentialList
	w.must(w.admin("GET", "/v1/admin/credentials?state=superseded", nil), http.StatusOK).decode(t, &list)
	if len(list.Credentials) != 1 || list.Credentials[0].ID != w.sm2Cred.ID {
		t.Fatalf("superseded %+v", list.Credentials)
	}
	before := w.snapshot()
	if err := w.phone.Do(ctx, "POST", "/v1/me/credentials/"+w.sm2Cred.ID+"/renew", map[string]any{"pin": testPIN}, &out); err == nil {
		t.Fatal("a superseded credential renewed again")
	}
	after := w.snapshot()
	for k, r := range before {
		if after[k] != r {
			t.Fatalf("refused renewal changed %s", k)
		}
	}
}

// TestRenewExternalEndpoint: at the external (OpenSSL) CA, the phone's
// renewal makes a pending successor whose CSR the operator has signed and
// imports; the old credential stays active until then (a second renewal
// is renewal_pending, a replayed request replayed_nonce, new_key at a
// same-key profile new_key_not_allowed, another user's phone
// credential_not_found, an unsigned request missing_device_headers, all
// without a change), then the operator list shows the old one superseded
// by the successor.
func TestRenewExternalEndpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	cert := w.ext.signCSR(w.extCrypt.CSRPEM, "critical,keyEncipherment,dataEncipherment")
	w.must(w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate", map[string]string{"certificate_pem": cert}), http.StatusOK)
	path := "/v1/me/credentials/" + w.extCrypt.ID + "/renew"
	other := w.env.phone()
	if _, err := other.Enroll(ctx, w.secondKey, "another phone", testPIN); err != nil {
		t.Fatal(err)
	}

	before := w.snapshot()
	mustRefuse(t, other.Do(ctx, "POST", path, map[string]any{"pin": testPIN}, nil), "credential_not_found")
	mustRefuse(t, w.phone.Do(ctx, "POST", path, map[string]any{"pin": testPIN, "new_key": true}, nil), "new_key_not_allowed")
	mustRefuse(t, w.phone.Do(ctx, "POST", path, map[string]any{"pin": testPIN, "extra": 1}, nil), "unknown_field")
	mustRefuse(t, w.phone.Do(ctx, "POST", path, map[string]any{}, nil), "invalid_request")
	w.refused(w.do("POST", path, map[string]any{"pin": testPIN}, nil), http.StatusUnauthorized, "missing_device_headers")
	w.refused(w.do("POST", path, rawBody(`{"pin":`), map[string]string{"Content-Type": "application/json"}), http.StatusUnauthorized, "missing_device_headers")
	if after := w.snapshot(); !sameSnapshot(before, after) {
		t.Fatal("refused renewals changed the store")
	}

	var out protocol.Renewed
	req := w.signedRequest("POST", path, map[string]any{"pin": testPIN}, signedOpts{})
	w.must(w.resend(req), http.StatusCreated).decode(t, &out)
	succ := out.Credential
	before = w.snapshot()
	w.refused(w.resend(req), http.StatusUnauthorized, "replayed_nonce")
	if !sameSnapshot(before, w.snapshot()) {
		t.Fatal("a replayed renewal changed the store")
	}
	if succ.State != "pending" || succ.CSRPEM == "" || succ.Supersedes != w.extCrypt.ID {
		t.Fatalf("successor %+v", succ)
	}
	before = w.snapshot()
	mustRefuse(t, w.phone.Do(ctx, "POST", path, map[string]any{"pin": testPIN}, nil), "renewal_pending")
	if !sameSnapshot(before, w.snapshot()) {
		t.Fatal("a refused renewal changed the store")
	}
	var list protocol.CredentialList
	w.must(w.admin("GET", "/v1/admin/credentials?state=active&issuer=ext", nil), http.StatusOK).decode(t, &list)
	if !slices.ContainsFunc(list.Credentials, func(c protocol.Credential) bool {
		return c.ID == w.extCrypt.ID && c.RenewalPending == succ.ID
	}) {
		t.Fatalf("active list while pending %+v", list.Credentials)
	}

	// The operator signs the successor's CSR and imports it.
	newCert := w.ext.signCSR(succ.CSRPEM, "critical,keyEncipherment,dataEncipherment")
	w.must(w.admin("POST", "/v1/admin/credentials/"+succ.ID+"/certificate", map[string]string{"certificate_pem": newCert}), http.StatusOK)
	w.must(w.admin("GET", "/v1/admin/credentials?state=superseded", nil), http.StatusOK).decode(t, &list)
	if len(list.Credentials) != 1 || list.Credentials[0].ID != w.extCrypt.ID || list.Credentials[0].SupersededBy != succ.ID {
		t.Fatalf("superseded %+v", list.Credentials)
	}
}
