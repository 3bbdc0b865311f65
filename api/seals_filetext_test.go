package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/seal"
)

// TestSealScanFileText: the scan answer of a seal session carries what
// the gateway itself read in each PDF (file_text): the page count, the
// first lines of page 1, the text nearest to each place the seal lands,
// no_text for a page without readable text; a character the phone would
// not show as it reads (protocol.HiddenRune, the Hangul filler and the
// right-to-left override here) comes as [U+XXXX]. A portal cannot send
// file_text itself, and the record drops it once the session has ended.
func TestSealScanFileText(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	contract := seal.UnicodePDF([][]string{
		{"政府采购合同", "合同编号：ZC-2026-017", "甲方：某某市公共资源交易中心\u3164\u202Eexe.txt"},
		{"第十条 其他", "", "甲方（盖章）：", "", "", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日"},
	})
	blank := seal.TextPDF([][]string{{}})
	doc := func(name string, pdf []byte, pl ...map[string]any) map[string]any {
		return map[string]any{"name": name, "pdf": pdf, "placements": pl}
	}
	req := map[string]any{"kind": "seal", "alg": "SM2", "documents": []map[string]any{
		doc("合同.pdf", contract, map[string]any{"keyword": "乙方（盖章）"}, map[string]any{"page": 1, "x_mm": 60, "y_mm": 25}),
		doc("blank.pdf", blank, map[string]any{"page": 1, "x_mm": 100, "y_mm": 100}),
	}}

	// The portal's own file_text is refused, nothing stored.
	before := w.sessionKeys(t)
	forged := map[string]any{"kind": "seal", "documents": []map[string]any{{"name": "a.pdf", "pdf": blank,
		"placements": []map[string]any{{"page": 1, "x_mm": 100, "y_mm": 100}},
		"file_text":  map[string]any{"pages": 1, "seals": 1, "first": map[string]any{"lines": []string{"无害的文件"}}}}}}
	r := w.app("POST", "/v1/sessions", forged)
	w.refused(r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(string(r.body), "documents[0].file_text") {
		t.Errorf("refusal %s does not name the field", r.body)
	}
	if n := w.sessionKeys(t); n != before {
		t.Fatalf("%d session records after a refusal, %d before", n, before)
	}

	// Alice's one seal, 40 × 30 mm: the sketches draw it at that size.
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": w.creds["alice/sm2/sign"].User, "name": "某某建设有限公司 合同专用章",
		"kind": "contract", "image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 30, "issuer": "sm2"}), http.StatusCreated)
	c := w.create(req)
	sc, err := w.alice.Scan(ctx, c.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Session.Documents) != 2 {
		t.Fatalf("documents %+v", sc.Session.Documents)
	}
	ft := sc.Session.Documents[0].FileText
	if ft == nil || ft.Pages != 2 || ft.Seals != 2 || len(ft.Spots) != 2 || ft.SpotsLeftOut != 0 || ft.First.NoText {
		t.Fatalf("file_text %s", jsonString(t, ft))
	}
	wantFirst := []string{"政府采购合同", "合同编号：ZC-2026-017", "甲方：某某市公共资源交易中心[U+3164][U+202E]exe.txt"}
	if strings.Join(ft.First.Lines, "|") != strings.Join(wantFirst, "|") {
		t.Errorf("first lines %q", ft.First.Lines)
	}
	kw, at := ft.Spots[0], ft.Spots[1]
	if kw.Placement != 0 || kw.Page != 2 || kw.DistanceMM != 0 || kw.Lines[kw.Nearest] != "乙方（盖章）：某某建设有限公司" {
		t.Errorf("keyword spot %s", jsonString(t, kw))
	}
	if at.Placement != 1 || at.Page != 1 || at.XMM != 60 || at.YMM != 25 || at.Lines[at.Nearest] != "合同编号：ZC-2026-017" {
		t.Errorf("coordinate spot %s", jsonString(t, at))
	}
	if b := sc.Session.Documents[1].FileText; b == nil || b.Pages != 1 || !b.First.NoText || len(b.Spots) != 1 || !b.Spots[0].NoText || len(b.Spots[0].Lines) != 0 {
		t.Errorf("blank PDF's file_text %s", jsonString(t, b))
	}

	// The pages where the seal lands, drawn: page 2 (the keyword), then
	// page 1; the blank PDF's page too, its box and the seal, no text.
	sk := sc.Session.Documents[0].Sketches
	if len(sk) != 2 || sk[0].Page != 2 || sk[1].Page != 1 {
		t.Fatalf("sketches %+v", sk)
	}
	for _, s := range sk {
		if err := xml.Unmarshal([]byte(s.SVG), new(struct{})); err != nil || !strings.HasPrefix(s.SVG, "<svg ") {
			t.Fatalf("page %d: not an SVG document (%v): %.200s", s.Page, err, s.SVG)
		}
	}
	rect := fmt.Sprintf(`width="%.1f" height="%.1f"`, 40*72/25.4, 30*72/25.4)
	if !strings.Contains(sk[0].SVG, ">乙方（盖章）：某某建设有限公司</text>") || !strings.Contains(sk[0].SVG, rect) {
		t.Errorf("page 2 sketch %s", sk[0].SVG)
	}
	if !strings.Contains(sk[1].SVG, ">甲方：某某市公共资源交易中心[U+3164][U+202E]exe.txt</text>") || strings.ContainsAny(sk[1].SVG, "\u3164\u202E") {
		t.Errorf("page 1 sketch %s", sk[1].SVG)
	}
	if b := sc.Session.Documents[1].Sketches; len(b) != 1 || b[0].Page != 1 || strings.Contains(b[0].SVG, "<text") || !strings.Contains(b[0].SVG, rect) {
		t.Errorf("blank PDF's sketches %+v", b)
	}

	// Kept while the session is open, dropped once it has ended.
	record := func() []byte {
		t.Helper()
		kvs, _, err := w.ts.Server.Store().List(ctx, "sessions/")
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			if strings.HasSuffix(kv.Key, c.ID) && bytes.Contains(kv.Value, []byte(`"request"`)) {
				return kv.Value
			}
		}
		t.Fatalf("no record of session %s", c.ID)
		return nil
	}
	if !bytes.Contains(record(), []byte(`"file_text"`)) {
		t.Fatal("the open session's record has no file_text")
	}
	if err := w.alice.Do(ctx, "POST", "/v1/sessions/"+c.ID+"/reject", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(record(), []byte(`"file_text"`)) {
		t.Fatal("the ended session's record keeps file_text")
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
