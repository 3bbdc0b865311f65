package api_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
)

// TestScanAgainSameDevice: the phone that scanned a session scans it
// again while it waits for its confirm (a second tab, a reload in another
// tab): the same answer, byte for byte (the same three matching codes:
// other decoys would give the code away), nothing changed, no event. Any
// other device, the user's own second phone included, is still refused
// (already_scanned) with nothing changed; once the session has ended the
// same phone gets nonce_used.
func TestScanAgainSameDevice(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	// Alice's second phone.
	var act struct {
		ActivationCode string `json:"activation_code"`
	}
	w.must(w.do("POST", "/v1/admin/users/"+w.alice.State.UserID+"/activation", nil,
		map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}), http.StatusCreated).decode(t, &act)
	alice2 := w.newPhone()
	if _, err := alice2.Enroll(ctx, act.ActivationCode, "alice's tablet", sxPIN); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []map[string]any{
		{"kind": "login"},
		{"kind": "sign", "documents": []map[string]any{{"name": "bid.txt", "data": []byte("投标总价 100 元")}}},
	} {
		c := w.create(kind)
		body := map[string]string{"payload": c.QR.Payload}
		first := w.must(w.signed(w.alice, "POST", "/v1/scan", body), http.StatusOK)
		var sc sxScanned
		first.decode(t, &sc)
		if sc.Session.ID != c.ID || !slices.Contains(sc.Session.CodeChoices, c.Code) || len(sc.Credentials) == 0 {
			t.Fatalf("first scan %s", first.body)
		}
		before := w.sxState(t, c.ID)
		for range 2 {
			again := w.must(w.signed(w.alice, "POST", "/v1/scan", body), http.StatusOK)
			if !bytes.Equal(again.body, first.body) {
				t.Fatalf("the same phone again:\n%s\nfirst:\n%s", again.body, first.body)
			}
		}
		w.unchanged(t, c.ID, before)
		for _, p := range []*phone.Client{alice2, w.bob} {
			w.refused(w.signed(p, "POST", "/v1/scan", body), http.StatusConflict, "already_scanned")
			w.unchanged(t, c.ID, before)
		}
		if v := w.view(c.ID); len(v.Events) != 2 {
			t.Fatalf("events %+v", v.Events)
		}
		cred := w.creds["alice/sm2/sign"].ID
		if err := w.confirm(w.alice, c.ID, cred, sxPIN, c.Code); err != nil {
			t.Fatal(err)
		}
		w.refused(w.signed(w.alice, "POST", "/v1/scan", body), http.StatusConflict, "nonce_used")
	}
}
