package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestRenewEndpoint: the phone renews its SM2 credential (same key, new
// serial; the old one superseded); renewing it again, another user's
// credential and new_key are refused.
func TestRenewEndpoint(t *testing.T) {
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
