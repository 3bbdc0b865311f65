package api_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// TestSealRefusals: the seal registry and seal sessions refuse bad
// requests, another user's seal and a seal the portal did not ask for,
// each with its code and without a change: no seal stored, the session
// still scanned.
func TestSealRefusals(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	st := w.ts.Server.Store()
	alice, bob := w.creds["alice/sm2/sign"].User, w.creds["bob/sm2/sign"].User
	good := map[string]any{"owner": alice, "name": "alice 合同章", "kind": "contract",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(good)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	var opaque bytes.Buffer // no alpha channel
	if err := png.Encode(&opaque, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	snap := storeSnapshot(t, st)
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"no owner", with("owner", nil), http.StatusBadRequest, protocol.CodeInvalidRequest, "owner"},
		{"owner not an id", with("owner", "USR!"), http.StatusBadRequest, protocol.CodeInvalidRequest, "owner"},
		{"no name", with("name", nil), http.StatusBadRequest, protocol.CodeInvalidRequest, "name"},
		{"name too long", with("name", strings.Repeat("章", 201)), http.StatusBadRequest, protocol.CodeInvalidRequest, "name"},
		{"no image", with("image_png", nil), http.StatusBadRequest, protocol.CodeInvalidRequest, "image_png"},
		{"image not base64", with("image_png", "not base64!"), http.StatusBadRequest, protocol.CodeMalformedJSON, ""},
		{"image without alpha", with("image_png", opaque.Bytes()), http.StatusBadRequest, protocol.CodeBadSealImage, ""},
		{"negative width", with("width_mm", -40), http.StatusBadRequest, protocol.CodeInvalidRequest, "width_mm"},
		{"huge height", with("height_mm", 1e308), http.StatusBadRequest, protocol.CodeInvalidRequest, "width_mm"},
		{"width as a string", with("width_mm", "40"), http.StatusBadRequest, protocol.CodeMalformedJSON, ""},
		{"validity too long", with("validity_days", 40000), http.StatusBadRequest, protocol.CodeInvalidRequest, "validity_days"},
		{"unknown issuer", with("issuer", "nothere"), http.StatusNotFound, protocol.CodeUnknownIssuer, ""},
		{"unknown field", with("owner_name", "alice"), http.StatusBadRequest, protocol.CodeUnknownField, "owner_name"},
		{"array", rawBody(`[]`), http.StatusBadRequest, protocol.CodeMalformedJSON, ""},
	} {
		r := w.adminDo("POST", "/v1/admin/seals", c.body)
		if r.status != c.status || r.code != c.code || (c.field != "" && r.field != c.field) {
			t.Errorf("%s: got %d %q field %q, want %d %q field %q", c.name, r.status, r.code, r.field, c.status, c.code, c.field)
		}
	}
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("a refused seal changed the store")
	}

	var mine, bobs sxSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", good), http.StatusCreated).decode(t, &mine)
	w.must(w.adminDo("POST", "/v1/admin/seals", with("owner", bob)), http.StatusCreated).decode(t, &bobs)
	snap = storeSnapshot(t, st)
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown reason", map[string]string{"reason": "boredom"}, http.StatusBadRequest, protocol.CodeInvalidReason},
		{"unknown field", map[string]string{"reason": "superseded", "at": "now"}, http.StatusBadRequest, protocol.CodeUnknownField},
		{"malformed JSON", rawBody(`{"reason":`), http.StatusBadRequest, protocol.CodeMalformedJSON},
	} {
		if r := w.adminDo("POST", "/v1/admin/seals/"+mine.ID+"/revoke", c.body); r.status != c.status || r.code != c.code {
			t.Errorf("revoke, %s: got %d %q, want %d %q", c.name, r.status, r.code, c.status, c.code)
		}
	}
	w.refused(w.adminDo("POST", "/v1/admin/seals/SEL!/revoke", nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
	w.refused(w.adminDo("GET", "/v1/admin/seals?owner=USR!", nil), http.StatusBadRequest, protocol.CodeInvalidRequest)
	if !maps.Equal(snap, storeSnapshot(t, st)) {
		t.Fatal("refused revocations changed the store")
	}

	// Seal sessions: bob's seal, and a seal other than the portal's.
	bid := seal.TextPDF([][]string{{"Contract 7", "[SEAL HERE]"}})
	cred := w.creds["alice/sm2/sign"].ID
	session := func(sealID string) *sxCreated {
		req := map[string]any{"kind": "seal", "alg": "SM2", "display": map[string]string{"title": "合同盖章"},
			"documents": []map[string]any{{"name": "c.pdf", "pdf": bid, "placements": []map[string]any{{"keyword": "[SEAL HERE]"}}}}}
		if sealID != "" {
			req["seal"] = sealID
		}
		c := w.create(req)
		if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, c2 := session(""), session(bobs.ID)
	// (A confirm claims the session record while it runs: what must not
	// change is the session as the portal sees it.)
	before, before2 := w.sxState(t, c.ID), w.sxState(t, c2.ID)
	seals := w.sealKeys(t)
	_, err := w.alice.ConfirmSeal(ctx, c.ID, cred, bobs.ID, sxPIN, c.Code)
	mustRefuse(t, err, protocol.CodeSealNotFound)
	_, err = w.alice.ConfirmSeal(ctx, c2.ID, cred, mine.ID, sxPIN, c2.Code)
	mustRefuse(t, err, protocol.CodeSealMismatch)
	_, err = w.alice.ConfirmSeal(ctx, c.ID, cred, "SEL!", sxPIN, c.Code)
	mustRefuse(t, err, protocol.CodeInvalidRequest)
	w.unchanged(t, c.ID, before)
	w.unchanged(t, c2.ID, before2)
	if !maps.Equal(seals, w.sealKeys(t)) {
		t.Fatal("refused seal confirms changed the seals")
	}
}

// sealKeys is every seal record of the store with its revision.
func (w *sxWorld) sealKeys(t *testing.T) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, p := range []string{"seals/", "userseals/"} {
		kvs, _, err := w.ts.Server.Store().List(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			m[kv.Key] = kv.Revision
		}
	}
	return m
}
