package api_test

import (
	"net/http"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/protocol"
)

// TestListingQueries: the listings with filters (seals, webhook
// deliveries, registrations) refuse an unknown or repeated query
// parameter with invalid_request naming it, as the credential, audit and
// history listings do, rather than answer as if there were no filter.
func TestListingQueries(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{Users: []seed.User{{Name: "alice"}}})
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	app := map[string]string{"Authorization": "Bearer " + w.appKey}
	user := w.alice.State.UserID
	for _, c := range []struct {
		path  string
		hdr   map[string]string
		field string // "": accepted
	}{
		{"/v1/admin/seals?owner=" + user, admin, ""},
		{"/v1/admin/seals?ownr=" + user, admin, "ownr"},
		{"/v1/admin/seals?owner=" + user + "&owner=usr_other", admin, "owner"},
		{"/v1/webhook/deliveries?limit=5", app, ""},
		{"/v1/webhook/deliveries?aftr=x", app, "aftr"},
		{"/v1/webhook/deliveries?limit=1&limit=500", app, "limit"},
		{"/v1/admin/registrations?state=pending", admin, ""},
		{"/v1/admin/registrations?stat=approved", admin, "stat"},
		{"/v1/admin/registrations?state=approved&state=pending", admin, "state"},
	} {
		r := w.do("GET", c.path, nil, c.hdr)
		switch {
		case c.field == "" && r.status != http.StatusOK:
			t.Errorf("%s: %d %s", c.path, r.status, r.body)
		case c.field != "" && (r.status != http.StatusBadRequest || r.code != protocol.CodeInvalidRequest || r.field != c.field):
			t.Errorf("%s: got %d %q field %q, want 400 %s field %q", c.path, r.status, r.code, r.field, protocol.CodeInvalidRequest, c.field)
		}
	}
}
