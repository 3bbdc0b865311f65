package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"net/http"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// drawingPNG is a w×h transparent picture with a dark diagonal stroke.
func drawingPNG(t *testing.T, w, h int, alpha bool) []byte {
	t.Helper()
	var img image.Image
	if alpha {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for x := 0; x < w; x++ {
			y := x * (h - 1) / max(w-1, 1)
			for d := -2; d <= 2; d++ {
				if y+d >= 0 && y+d < h {
					m.SetNRGBA(x, y+d, color.NRGBA{R: 22, G: 33, B: 62, A: 255})
				}
			}
		}
		img = m
	} else {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = 255
		}
		img = m
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDrawnSignature(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	alice := w.creds["alice/sm2/sign"].User
	drawing := drawingPNG(t, 600, 240, true)
	post := func(body any) error {
		var out protocol.Seal
		return w.alice.Do(ctx, "POST", "/v1/me/seals", body, &out)
	}

	// The default policy forbids it: a stable code, nothing stored.
	mustRefuse(t, post(map[string]any{"image_png": drawing}), "drawn_seal_disabled")
	w.refused(w.do("POST", "/v1/me/seals", map[string]any{"image_png": drawing}, nil), http.StatusUnauthorized, "missing_device_headers")
	if list, _, err := w.ts.Server.Store().List(ctx, "seals/"); err != nil || len(list) != 0 {
		t.Fatalf("seals stored after a refusal: %d %v", len(list), err)
	}

	// The operator allows it.
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()

	mustRefuse(t, post(map[string]any{"image_png": drawingPNG(t, 600, 240, false)}), "bad_seal_image") // no transparency
	mustRefuse(t, post(map[string]any{"image_png": drawingPNG(t, 2000, 40, true)}), "bad_seal_image")  // a line, not a signature
	mustRefuse(t, post(map[string]any{"image_png": []byte("not a png")}), "bad_seal_image")
	mustRefuse(t, post(map[string]any{}), "invalid_request")

	var first protocol.Seal
	if err := w.alice.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawing}, &first); err != nil {
		t.Fatal(err)
	}
	if first.Kind != "personal" || first.Owner != alice || first.State != "active" || first.WidthMM != 40 || first.HeightMM != 16 || (first.Issuer != "sm2" && first.Issuer != "rsa") {
		t.Fatalf("drawn seal %s: kind %s owner %s state %s %g×%g mm issuer %q", first.ID, first.Kind, first.Owner, first.State, first.WidthMM, first.HeightMM, first.Issuer)
	}
	ses, err := seal.Parse(first.SESSeal)
	if err != nil || ses.Verify() != nil || !bytes.Equal(ses.PNG, drawing) || ses.Kind != seal.KindPersonal {
		t.Fatalf("SES_Seal: %v", err)
	}
	// A new drawing supersedes the earlier one.
	var second protocol.Seal
	if err := w.alice.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawingPNG(t, 400, 400, true)}, &second); err != nil {
		t.Fatal(err)
	}
	var list protocol.SealList
	w.must(w.adminDo("GET", "/v1/admin/seals?owner="+alice, nil), http.StatusOK).decode(t, &list)
	states := map[string]string{}
	for _, s := range list.Seals {
		states[s.ID] = string(s.State)
	}
	if len(list.Seals) != 2 || states[first.ID] != "revoked" || states[second.ID] != "active" {
		t.Fatalf("after a second drawing: %v", states)
	}
	// The audit log says who did it.
	var page protocol.AuditPage
	w.must(w.adminDo("GET", "/v1/admin/audit?user="+alice, nil), http.StatusOK).decode(t, &page)
	adds := 0
	for _, e := range page.Entries {
		if e.Action == "seal.add" && e.Outcome == "ok" {
			adds++
		}
	}
	if adds != 2 {
		t.Errorf("%d seal.add entries", adds)
	}
}

// TestDrawnSignatureNeedsSigningCredential: a phone user without an
// active signing credential (a revoked one, an encryption one only, none)
// who saves a drawing gets no_signing_credential, not invalid_request
// naming a field the phone never sent, and nothing is written; the
// operator's seal for such an owner stays invalid_request naming owner.
func TestDrawnSignatureNeedsSigningCredential(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("sm2", "SM2", "sx SM2 Root")},
		Users: []seed.User{
			{Name: "alice", Credentials: []seed.Credential{seed.Sign("sm2", "SM2")}},
			{Name: "bob", Credentials: []seed.Credential{seed.Encrypt("sm2", "SM2")}},
			{Name: "carol"},
		},
	})
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()
	ctx := context.Background()
	w.must(w.adminDo("POST", "/v1/admin/credentials/"+w.creds["alice/sm2/sign"].ID+"/revoke", map[string]string{"reason": "keyCompromise"}), http.StatusOK)

	st := w.ts.Server.Store()
	audited := func() int {
		kvs, _, err := st.List(ctx, "audit/")
		if err != nil {
			t.Fatal(err)
		}
		return len(kvs)
	}
	for _, tc := range []struct {
		name  string
		phone *phone.Client
	}{
		{"signing credential revoked", w.alice},
		{"encryption credential only", w.bob},
		{"no credential", w.carol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, entries := storeSnapshot(t, st), audited()
			var out protocol.Seal
			ae := mustRefuse(t, tc.phone.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawingPNG(t, 600, 240, true)}, &out),
				protocol.CodeNoSigningCredential)
			if ae.Status != http.StatusConflict || ae.Field != "" {
				t.Errorf("refusal: HTTP %d, field %q", ae.Status, ae.Field)
			}
			if !maps.Equal(snap, storeSnapshot(t, st)) || audited() != entries {
				t.Error("a refused drawing changed the store")
			}
		})
	}

	r := w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": w.carol.State.UserID, "name": "个人章", "kind": "personal",
		"image_png": drawingPNG(t, 600, 240, true), "width_mm": 40, "height_mm": 16})
	w.refused(r, http.StatusBadRequest, protocol.CodeInvalidRequest)
	if r.field != "owner" {
		t.Errorf("operator's seal for an owner without a signing credential: field %q", r.field)
	}
}

// TestDrawnSignaturesInCredentialList: the phone's certificates list
// says whether the operator allows hand-drawn signatures
// (drawn_signatures, false by default, true once seals.drawn_signatures
// is set), so that the app tells the user before anything is drawn; the
// operator's listing of the same credentials does not carry it.
func TestDrawnSignaturesInCredentialList(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	alice := w.creds["alice/sm2/sign"].User
	for _, tc := range []struct {
		name  string
		allow bool
	}{
		{"forbidden by default", false},
		{"allowed by the operator", true},
		{"forbidden again", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w.ts.Config.Seals.DrawnSignatures != tc.allow {
				w.ts.Config.Seals.DrawnSignatures = tc.allow
				w.ts.Restart()
			}
			var mine map[string]json.RawMessage
			if err := w.alice.Do(ctx, "GET", "/v1/me/credentials", nil, &mine); err != nil {
				t.Fatal(err)
			}
			if got, want := string(mine["drawn_signatures"]), fmt.Sprint(tc.allow); got != want {
				t.Errorf("the phone's list says drawn_signatures %q, want %s", got, want)
			}
			var list protocol.CredentialList
			if err := json.Unmarshal(mine["credentials"], &list.Credentials); err != nil || len(list.Credentials) == 0 {
				t.Fatalf("the phone's list holds %d credentials (%v)", len(list.Credentials), err)
			}
			var theirs map[string]json.RawMessage
			w.must(w.adminDo("GET", "/v1/admin/credentials?user="+alice, nil), http.StatusOK).decode(t, &theirs)
			if v, ok := theirs["drawn_signatures"]; ok {
				t.Errorf("the operator's list carries drawn_signatures %s", v)
			}
			if len(theirs["credentials"]) < 3 {
				t.Errorf("the operator's list: %s", theirs["credentials"])
			}
		})
	}
}
