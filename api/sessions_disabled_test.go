package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
)

// TestDisabledAppSessionsNotServed: sessions created before the operator
// disabled their app can neither be scanned nor confirmed afterwards, and
// the refusals leave them as they were.
func TestDisabledAppSessionsNotServed(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	raw := func(id string) []byte {
		t.Helper()
		kv, err := w.ts.Server.Store().Get(ctx, "sessions/"+id)
		if err != nil {
			t.Fatal(err)
		}
		return kv.Value
	}
	waiting := w.create(map[string]any{"kind": "login"})
	scanned := w.create(map[string]any{"kind": "login"})
	if _, err := w.scan(w.alice, scanned.QR.Payload); err != nil {
		t.Fatal(err)
	}
	admin := map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}
	w.must(w.do("POST", "/v1/admin/apps/"+w.appID+"/disable", nil, admin), http.StatusOK)

	before := raw(waiting.ID)
	_, err := w.scan(w.alice, waiting.QR.Payload)
	mustRefuse(t, err, "app_disabled")
	if !bytes.Equal(before, raw(waiting.ID)) {
		t.Fatal("a refused scan changed the session")
	}

	before = raw(scanned.ID)
	err = w.confirm(w.alice, scanned.ID, w.creds["alice/sm2/sign"].ID, sxPIN, scanned.Code)
	mustRefuse(t, err, "app_disabled")
	if !bytes.Equal(before, raw(scanned.ID)) {
		t.Fatal("a refused confirm changed the session")
	}
}
