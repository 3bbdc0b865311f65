package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestRenewPendingSlotAfterRevoke: at the external CA, a credential whose
// renewal waits for its certificate is revoked by the operator; the
// successor still holds the slot, so the phone's request for a new
// credential of the same issuer, algorithm and purpose is
// credential_exists (nothing changes), and the successor's certificate
// is imported as the one credential of the slot. The same holds when the
// waiting renewal's predecessor expires instead.
func TestRenewPendingSlotAfterRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	usage := "critical,keyEncipherment,dataEncipherment"
	w.must(w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/certificate",
		map[string]string{"certificate_pem": w.ext.signCSR(w.extCrypt.CSRPEM, usage)}), http.StatusOK)
	var out protocol.Renewed
	if err := w.phone.Do(ctx, "POST", "/v1/me/credentials/"+w.extCrypt.ID+"/renew", map[string]any{"pin": testPIN}, &out); err != nil {
		t.Fatal(err)
	}
	succ := out.Credential
	w.must(w.admin("POST", "/v1/admin/credentials/"+w.extCrypt.ID+"/revoke", map[string]string{"reason": "affiliationChanged"}), http.StatusOK)

	before := w.snapshot()
	_, err := w.phone.RequestCredential(ctx, "ext", "RSA", "encrypt", testPIN)
	mustRefuse(t, err, protocol.CodeCredentialExists)
	if !sameSnapshot(before, w.snapshot()) {
		t.Fatal("a refused credential request changed the store")
	}

	w.must(w.admin("POST", "/v1/admin/credentials/"+succ.ID+"/certificate",
		map[string]string{"certificate_pem": w.ext.signCSR(succ.CSRPEM, usage)}), http.StatusOK)
	var list protocol.CredentialList
	w.must(w.admin("GET", "/v1/admin/credentials?state=active&issuer=ext", nil), http.StatusOK).decode(t, &list)
	n := 0
	for _, c := range list.Credentials {
		if c.Purpose == "encrypt" {
			n++
			if c.ID != succ.ID {
				t.Errorf("active encryption credential %s, want only %s", c.ID, succ.ID)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d active encryption credentials at ext: %+v", n, list.Credentials)
	}
	_, err = w.phone.RequestCredential(ctx, "ext", "RSA", "encrypt", testPIN)
	mustRefuse(t, err, protocol.CodeCredentialExists)

	// The signing credential renewed, then its certificate expires (the
	// external CA's are for 10 days) while the successor waits.
	sign := "critical,digitalSignature,nonRepudiation"
	w.must(w.admin("POST", "/v1/admin/credentials/"+w.extSign.ID+"/certificate",
		map[string]string{"certificate_pem": w.ext.signCSR(w.extSign.CSRPEM, sign)}), http.StatusOK)
	if err := w.phone.Do(ctx, "POST", "/v1/me/credentials/"+w.extSign.ID+"/renew", map[string]any{"pin": testPIN}, &out); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(11 * 24 * time.Hour)
	before = w.snapshot()
	_, err = w.phone.RequestCredential(ctx, "ext", "RSA", "sign", testPIN)
	mustRefuse(t, err, protocol.CodeCredentialExists)
	if !sameSnapshot(before, w.snapshot()) {
		t.Fatal("a refused credential request changed the store")
	}
}

// TestRenewConcurrent: two renewals of one credential at once (two
// requests of the same phone) make exactly one successor; the other is
// credential_not_active, and the slot holds the one successor.
func TestRenewConcurrent(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	cred := w.creds["alice/sm2/sign"]
	type result struct {
		out protocol.Renewed
		err error
	}
	got := make(chan result, 2)
	for range 2 {
		go func() {
			var r result
			r.err = w.alice.Do(ctx, "POST", "/v1/me/credentials/"+cred.ID+"/renew", map[string]any{"pin": sxPIN}, &r.out)
			got <- r
		}()
	}
	a, b := <-got, <-got
	if a.err != nil {
		a, b = b, a
	}
	if a.err != nil {
		t.Fatalf("no renewal went through: %v / %v", a.err, b.err)
	}
	mustRefuse(t, b.err, protocol.CodeCredentialNotActive)
	list, err := w.alice.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, c := range list {
		if c.Issuer == cred.Issuer && c.Purpose == "sign" && c.Alg == cred.Alg && c.State == "active" {
			active++
			if c.ID != a.out.Credential.ID {
				t.Errorf("active %s, want the successor %s", c.ID, a.out.Credential.ID)
			}
		}
	}
	if active != 1 {
		t.Fatalf("%d active signing credentials after two renewals at once", active)
	}
	_, err = w.alice.RequestCredential(ctx, cred.Issuer, cred.Alg, "sign", sxPIN)
	mustRefuse(t, err, protocol.CodeCredentialExists)
}
