package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// largeBid is a bid PDF over the default session.max_data_bytes (512 KiB).
func largeBid(t *testing.T) []byte {
	t.Helper()
	pages := make([][]string, 150)
	for i := range pages {
		for j := 0; j < 50; j++ {
			pages[i] = append(pages[i], fmt.Sprintf("Bill of quantities, page %d item %d: reinforced concrete, C30, 12.5 m3 at 480.00 CNY", i+1, j+1))
		}
	}
	pages[149] = append(pages[149], "Bidder (seal): [SEAL HERE]")
	pdf := seal.TextPDF(pages)
	if len(pdf) <= 512<<10 {
		t.Fatalf("the large bid is only %d bytes", len(pdf))
	}
	return pdf
}

func (w *sxWorld) upload(key string, body []byte) *resp {
	w.t.Helper()
	return w.do("POST", "/v1/uploads", rawBody(body), map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/pdf"})
}

func TestSealByUpload(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	alice := w.creds["alice/sm2/sign"].User
	cred := w.creds["alice/sm2/sign"].ID
	var company sxSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": alice, "name": "某某建设有限公司 公章", "kind": "official",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}), http.StatusCreated).decode(t, &company)
	bid := largeBid(t)
	placements := []map[string]any{{"page": 150, "x_mm": 150, "y_mm": 240}}

	// Inline, it is over the session cap: the reason uploads exist.
	w.refused(w.app("POST", "/v1/sessions", map[string]any{"kind": "seal", "display": map[string]string{"title": "x"},
		"documents": []map[string]any{{"name": "bid.pdf", "pdf": bid, "placements": placements}}}), http.StatusRequestEntityTooLarge, "request_too_large")

	// Refused uploads.
	w.refused(w.do("POST", "/v1/uploads", rawBody(bid), map[string]string{"Content-Type": "application/pdf"}), http.StatusUnauthorized, "missing_token")
	w.refused(w.upload(w.appKey, []byte("GIF89a not a PDF")), http.StatusBadRequest, "bad_pdf")
	w.refused(w.upload(w.appKey, nil), http.StatusBadRequest, "bad_pdf")

	var up protocol.UploadCreated
	w.must(w.upload(w.appKey, bid), http.StatusCreated).decode(t, &up)
	sum := sha256.Sum256(bid)
	if up.SHA256 != hex.EncodeToString(sum[:]) || up.Size != int64(len(bid)) || !strings.HasPrefix(up.ID, "upl_") || up.ExpiresAt.IsZero() {
		t.Fatalf("upload answer %+v", up)
	}

	sealReq := func(uploadID string) map[string]any {
		return map[string]any{"kind": "seal", "alg": "SM2", "display": map[string]string{"title": "投标文件盖章"},
			"documents": []map[string]any{{"name": "bid.pdf", "upload": uploadID, "placements": placements}}}
	}
	// Unknown, another app's, both pdf and upload, gateway-set fields.
	w.refused(w.app("POST", "/v1/sessions", sealReq("upl_"+strings.Repeat("a", 26))), http.StatusNotFound, "upload_not_found")
	w.refused(w.do("POST", "/v1/sessions", sealReq(up.ID), map[string]string{"Authorization": "Bearer " + w.otherKey}), http.StatusNotFound, "upload_not_found")
	both := sealReq(up.ID)
	both["documents"].([]map[string]any)[0]["pdf"] = []byte("%PDF-1.7")
	w.refused(w.app("POST", "/v1/sessions", both), http.StatusBadRequest, "invalid_request")
	given := sealReq(up.ID)
	given["documents"].([]map[string]any)[0]["sm3"] = make([]byte, 32)
	w.refused(w.app("POST", "/v1/sessions", given), http.StatusBadRequest, "invalid_request")
	// A placement off the document: refused, and the upload stays usable.
	off := sealReq(up.ID)
	off["documents"].([]map[string]any)[0]["placements"] = []map[string]any{{"page": 151, "x_mm": 100, "y_mm": 100}}
	w.refused(w.app("POST", "/v1/sessions", off), http.StatusBadRequest, "bad_placement")

	c := w.create(sealReq(up.ID))
	// The upload's chunks are stored while its session runs (the
	// background sweeper, every 30 s, leaves those of a live session
	// alone; it may run before the sweep below on a slow machine).
	st := w.ts.Server.Store()
	chunksOf := func(id string) int {
		kvs, _, err := st.List(ctx, "uploads/c/"+id+"/")
		if err != nil {
			t.Fatal(err)
		}
		return len(kvs)
	}
	if chunksOf(up.ID) == 0 {
		t.Fatal("no chunks while the session runs: the check below is void")
	}
	// Single use: a second session cannot name it.
	w.refused(w.app("POST", "/v1/sessions", sealReq(up.ID)), http.StatusConflict, "upload_used")

	var sc struct {
		Session struct {
			Documents []struct {
				Name     string        `json:"name"`
				Size     int64         `json:"size"`
				Pages    int           `json:"pages"`
				Digest   string        `json:"digest"`
				FileText *seal.Excerpt `json:"file_text"`
			} `json:"documents"`
		} `json:"session"`
	}
	if err := w.alice.Do(ctx, "POST", "/v1/scan", map[string]string{"payload": c.QR.Payload}, &sc); err != nil {
		t.Fatal(err)
	}
	if d := sc.Session.Documents; len(d) != 1 || d[0].Size != int64(len(bid)) || d[0].Pages != 150 || d[0].Digest == "" {
		t.Fatalf("the phone sees %+v", sc.Session.Documents)
	}
	// What the gateway read in the upload: 240 mm down page 150 is the
	// baseline of its line 40.
	if ft := sc.Session.Documents[0].FileText; ft == nil || ft.Pages != 150 || len(ft.Spots) == 0 || ft.Spots[0].Page != 150 ||
		!strings.HasPrefix(ft.Spots[0].Lines[ft.Spots[0].Nearest], "Bill of quantities, page 150 item 40: ") || !strings.HasPrefix(ft.First.Lines[0], "Bill of quantities, page 1 item 1") {
		t.Fatalf("the phone sees in the file %+v", ft)
	}
	if _, err := w.alice.ConfirmSeal(ctx, c.ID, cred, company.ID, sxPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	var res protocol.SealResult
	if err := json.Unmarshal(v.Result, &res); err != nil || len(res.Documents) != 1 {
		t.Fatalf("result %s: %v", v.Result, err)
	}
	d := res.Documents[0]
	if d.PDF != nil || d.Upload != up.ID || len(d.Update) == 0 || len(d.Update) > 256<<10 {
		t.Fatalf("an uploaded document's result: upload %q, pdf %d bytes, update %d bytes", d.Upload, len(d.PDF), len(d.Update))
	}
	sealed, err := d.Assemble(bid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Assemble(bid[1:]); err == nil {
		t.Fatal("assembled with other bytes")
	}
	sigs, err := seal.Verify(sealed)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].CoversWholeDocument || sigs[0].Seal == nil || sigs[0].Seal.ID != company.ID {
		t.Fatalf("the assembled PDF: %v %+v", err, sigs)
	}

	// The session has ended: the sweeper deletes the upload's chunks.
	if _, err := w.ts.Server.SweepUploads(ctx); err != nil {
		t.Fatal(err)
	}
	if n := chunksOf(up.ID); n != 0 {
		t.Fatalf("%d chunks left after the session ended", n)
	}
	w.refused(w.app("POST", "/v1/sessions", sealReq(up.ID)), http.StatusConflict, "upload_used")

	// A session that is cancelled frees nothing for reuse, and its upload
	// is swept too; an upload no session claimed stays.
	var up2, up3 protocol.UploadCreated
	w.must(w.upload(w.appKey, bid), http.StatusCreated).decode(t, &up2)
	w.must(w.upload(w.appKey, bid), http.StatusCreated).decode(t, &up3)
	c2 := w.create(sealReq(up2.ID))
	if chunksOf(up2.ID) == 0 {
		t.Fatal("no chunks of the second upload while its session runs")
	}
	w.must(w.app("DELETE", "/v1/sessions/"+c2.ID, nil), http.StatusOK)
	// One upload to sweep: this sweep's, or the background sweeper's if it
	// came first (then this one finds none).
	if n, err := w.ts.Server.SweepUploads(ctx); err != nil || n > 1 || chunksOf(up2.ID) != 0 {
		t.Fatalf("sweep after a cancel: %d %v, %d chunks of the cancelled session's upload left", n, err, chunksOf(up2.ID))
	}
	if kvs, _, _ := st.List(ctx, "uploads/c/"+up3.ID+"/"); len(kvs) == 0 {
		t.Fatal("an unclaimed upload was swept before its TTL")
	}
	if !bytes.HasPrefix(sealed, bid) {
		t.Fatal("the sealed PDF does not start with the upload")
	}
}

// TestUploadLimits: an upload may exceed http.max_body_bytes (1 MiB) up to
// seals.upload_max_bytes, whose limit holds whether the length is
// announced or the body is streamed without one.
func TestUploadLimits(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	big := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("% filler line of a large scanned bid\n"), 34000)...) // about 1.2 MB
	if len(big) <= 1<<20 {
		t.Fatalf("%d bytes is not over http.max_body_bytes", len(big))
	}
	var up protocol.UploadCreated
	w.must(w.upload(w.appKey, big), http.StatusCreated).decode(t, &up)
	if up.Size != int64(len(big)) {
		t.Fatalf("stored %d of %d bytes", up.Size, len(big))
	}

	w.ts.Config.Seals.UploadMaxBytes = 1 << 20
	w.ts.Restart()
	w.refused(w.upload(w.appKey, big), http.StatusRequestEntityTooLarge, "request_too_large")
	// Without Content-Length (chunked): cut off at the limit all the same.
	req, err := http.NewRequest("POST", w.url+"/v1/uploads", io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+w.appKey)
	req.Header.Set("Content-Type", "application/pdf")
	w.refused(w.send(req), http.StatusRequestEntityTooLarge, "request_too_large")
	// Nothing of the refused uploads is left in the store.
	kvs, _, err := w.ts.Server.Store().List(context.Background(), "uploads/m/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("%d manifests (want the first upload's only): %v", len(kvs), err)
	}
	chunks, _, _ := w.ts.Server.Store().List(context.Background(), "uploads/c/")
	if want := (len(big) + 512<<10 - 1) / (512 << 10); len(chunks) != want {
		t.Fatalf("%d chunks in the store, want the first upload's %d", len(chunks), want)
	}
}
