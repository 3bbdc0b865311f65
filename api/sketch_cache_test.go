package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
)

// TestSealScanSketchCached: the page sketches of a seal session are drawn
// from its PDF at the first scan only: the same phone's second scan (a
// second tab) answers the same bytes from the node's cache without
// reading the PDF again (ukeygate_scan_sketch_documents_total: from=pdf
// once, then from=cache). Another session of the same PDF does not share
// the entry (the key is the session and the digest, not the digest
// alone). When the portal cancels a session its entry goes, and the
// phone rejecting the other empties the cache.
func TestSealScanSketchCached(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": w.creds["alice/sm2/sign"].User, "name": "某某建设有限公司 合同专用章",
		"kind": "contract", "image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 30, "issuer": "sm2"}), http.StatusCreated)
	pdf := seal.UnicodePDF([][]string{
		{"政府采购合同", "合同编号：ZC-2026-017"},
		{"第十条 其他", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日"},
	})
	req := func() map[string]any {
		return map[string]any{"kind": "seal", "alg": "SM2", "documents": []map[string]any{
			{"name": "合同.pdf", "pdf": pdf, "placements": []map[string]any{{"keyword": "乙方（盖章）"}, {"page": 1, "x_mm": 60, "y_mm": 25}}}}}
	}
	const (
		fromPDF   = `ukeygate_scan_sketch_documents_total{from="pdf"}`
		fromCache = `ukeygate_scan_sketch_documents_total{from="cache"}`
		cacheSize = `ukeygate_scan_sketch_cache_bytes`
	)
	counts := func(wantPDF, wantCache float64) float64 {
		t.Helper()
		if p, c := w.sxMetric(fromPDF), w.sxMetric(fromCache); p != wantPDF || c != wantCache {
			t.Fatalf("sketched documents: from the PDF %v, from the cache %v; want %v and %v", p, c, wantPDF, wantCache)
		}
		return w.sxMetric(cacheSize)
	}
	scan := func(payload string) []byte {
		t.Helper()
		r := w.must(w.signed(w.alice, "POST", "/v1/scan", map[string]string{"payload": payload}), http.StatusOK)
		var sc protocol.ScanResponse
		r.decode(t, &sc)
		if sk := sc.Session.Documents[0].Sketches; len(sk) != 2 || sk[0].Page != 2 || sk[1].Page != 1 || !strings.Contains(sk[0].SVG, "乙方（盖章）") {
			t.Fatalf("sketches %+v", sk)
		}
		return r.body
	}

	first := w.create(req())
	answer := scan(first.QR.Payload)
	one := counts(1, 0)
	if one <= 0 {
		t.Fatalf("cache bytes %v after a scan", one)
	}
	for i := range 2 {
		if again := scan(first.QR.Payload); !bytes.Equal(again, answer) {
			t.Fatalf("scan %d differs:\n%s\nfirst:\n%s", i+2, again, answer)
		}
	}
	counts(1, 2)

	second := w.create(req())
	scan(second.QR.Payload)
	if got := counts(2, 2); got != 2*one {
		t.Fatalf("cache bytes %v with two sessions' sketches, %v with one", got, one)
	}

	w.must(w.app("DELETE", "/v1/sessions/"+first.ID, nil), http.StatusOK)
	if got := counts(2, 2); got != one {
		t.Fatalf("cache bytes %v after the cancel, want %v", got, one)
	}
	w.must(w.signed(w.alice, "POST", "/v1/sessions/"+second.ID+"/reject", nil), http.StatusOK)
	if got := counts(2, 2); got != 0 {
		t.Fatalf("cache bytes %v after the reject", got)
	}
}
