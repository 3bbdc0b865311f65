package api_test

import (
	"context"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestDrawnSignatureNameSpaces: a drawing sent with its name padded by
// spaces is stored under the trimmed name, and it supersedes (revokes)
// the earlier drawing of that name, as a drawing of the exact name does.
func TestDrawnSignatureNameSpaces(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()
	drawing := drawingPNG(t, 600, 240, true)
	var first, second protocol.Seal
	if err := w.alice.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawing, "name": "签名"}, &first); err != nil {
		t.Fatal(err)
	}
	if err := w.alice.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawing, "name": " 签名 "}, &second); err != nil {
		t.Fatal(err)
	}
	if second.Name != "签名" {
		t.Fatalf("stored name %q", second.Name)
	}
	var list struct{ Seals []protocol.Seal }
	w.must(w.adminDo("GET", "/v1/admin/seals?owner="+first.Owner, nil), 200).decode(t, &list)
	for _, s := range list.Seals {
		if want := map[string]string{first.ID: "revoked", second.ID: "active"}[s.ID]; s.State != want {
			t.Errorf("seal %s (%q) is %s, want %s", s.ID, s.Name, s.State, want)
		}
	}
}
