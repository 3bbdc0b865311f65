package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestCredentialsExpiring: expiring=Nd lists the active credentials whose
// certificate ends within N days (the renewal reminder list), and only
// those; malformed values are refused.
func TestCredentialsExpiring(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := func(q string) []string {
		var list protocol.CredentialList
		w.must(w.admin("GET", "/v1/admin/credentials?"+q, nil), http.StatusOK).decode(t, &list)
		out := []string{}
		for _, c := range list.Credentials {
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids("expiring=30d"); len(got) != 0 {
		t.Fatalf("fresh credentials listed as expiring: %v", got)
	}
	// Move to 10 days before the SM2 credential ends.
	notAfter := w.sm2Cred.NotAfter
	if notAfter.IsZero() {
		t.Fatal("active credential without not_after")
	}
	w.clock.Advance(time.Until(notAfter) - 10*24*time.Hour)
	got := ids("expiring=30d")
	if !slices.Contains(got, w.sm2Cred.ID) || slices.Contains(got, w.extCrypt.ID) {
		t.Fatalf("expiring=30d lists %v; want %s and no pending credential", got, w.sm2Cred.ID)
	}
	if got := ids("expiring=5"); slices.Contains(got, w.sm2Cred.ID) {
		t.Fatalf("expiring=5 lists %v: the SM2 credential ends in 10 days", got)
	}
	if got := ids("expiring=30d&issuer=rsa"); slices.Contains(got, w.sm2Cred.ID) {
		t.Fatalf("issuer filter ignored: %v", got)
	}
	// Past its end it is expired, not expiring.
	w.clock.Advance(11 * 24 * time.Hour)
	if got := ids("expiring=30d"); slices.Contains(got, w.sm2Cred.ID) {
		t.Fatalf("an expired credential is listed as expiring: %v", got)
	}
	for _, q := range []string{"expiring=0", "expiring=abc", "expiring=99999d", "expiring=-3d", "expiring=30d&expiring=40d", "expiring=30h"} {
		r := w.refused(w.admin("GET", "/v1/admin/credentials?"+q, nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
		if r.field != "expiring" {
			t.Errorf("%s: field %q", q, r.field)
		}
	}
}
