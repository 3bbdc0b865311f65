package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/seal"
)

// sealTestPNG is a red ring on a transparent square.
func sealTestPNG(t *testing.T) []byte {
	t.Helper()
	const n = 96
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := float64(x-n/2), float64(y-n/2)
			if r2 := dx*dx + dy*dy; r2 < 46*46 && r2 > 38*38 || r2 < 10*10 {
				img.SetNRGBA(x, y, color.NRGBA{R: 220, G: 20, B: 20, A: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type sxSeal struct {
	ID         string  `json:"id"`
	Owner      string  `json:"owner"`
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	State      string  `json:"state"`
	Issuer     string  `json:"issuer"`
	WidthMM    float64 `json:"width_mm"`
	SESSeal    []byte  `json:"ses_seal"`
	Revocation string  `json:"revocation_reason"`
}

func (w *sxWorld) adminDo(method, path string, body any) *resp {
	return w.do(method, path, body, map[string]string{"Authorization": "Bearer " + w.ts.AdminToken})
}

type sxScannedSeal struct {
	Session struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Seal      string `json:"seal"`
		Documents []struct {
			Name       string           `json:"name"`
			Pages      int              `json:"pages"`
			Placements []seal.Placement `json:"placements"`
		} `json:"documents"`
	} `json:"session"`
	Credentials []phone.Credential `json:"credentials"`
	Seals       []phone.Seal       `json:"seals"`
}

func TestSealRegistryAndSession(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	alice := w.creds["alice/sm2/sign"].User
	bid := seal.TextPDF([][]string{{"Bid for lot 3", "Price: 1,000,000 CNY"}, {"Bidder (seal): [SEAL HERE]"}})

	// Registry: refusals first, with stable codes and nothing stored.
	good := map[string]any{"owner": alice, "name": "某某建设有限公司 公章", "kind": "official",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	w.refused(w.adminDo("POST", "/v1/admin/seals", with("image_png", []byte("GIF89a not a png"))), http.StatusBadRequest, "bad_seal_image")
	w.refused(w.adminDo("POST", "/v1/admin/seals", with("kind", "stamp")), http.StatusBadRequest, "invalid_request")
	w.refused(w.adminDo("POST", "/v1/admin/seals", with("owner", "usr_nobody")), http.StatusNotFound, "user_not_found")
	w.refused(w.adminDo("POST", "/v1/admin/seals", with("width_mm", 500)), http.StatusBadRequest, "invalid_request")
	w.refused(w.do("POST", "/v1/admin/seals", good, nil), http.StatusUnauthorized, "missing_token")
	var list struct{ Seals []sxSeal }
	w.must(w.adminDo("GET", "/v1/admin/seals?owner="+alice, nil), http.StatusOK).decode(t, &list)
	if len(list.Seals) != 0 {
		t.Fatalf("refused seals were stored: %+v", list)
	}

	var company sxSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", good), http.StatusCreated).decode(t, &company)
	ses, err := seal.Parse(company.SESSeal)
	if err != nil || ses.Verify() != nil || ses.ID != company.ID || ses.Kind != seal.KindOfficial || company.State != "active" || company.Owner != alice {
		t.Fatalf("created seal %+v: %v", company, err)
	}
	w.must(w.adminDo("GET", "/v1/admin/seals?owner="+alice, nil), http.StatusOK).decode(t, &list)
	if len(list.Seals) != 1 || list.Seals[0].ID != company.ID {
		t.Fatalf("list %+v", list)
	}

	// A seal session: the phone sees the document, its pages and where
	// the seal goes, and the seals it may choose.
	req := map[string]any{"kind": "seal", "alg": "SM2", "display": map[string]string{"title": "投标文件盖章"},
		"documents": []map[string]any{{"name": "bid.pdf", "pdf": bid,
			"placements": []map[string]any{{"page": 1, "x_mm": 150, "y_mm": 240}, {"keyword": "[SEAL HERE]"}}}}}
	c := w.create(req)
	var sc sxScannedSeal
	if err := w.alice.Do(ctx, "POST", "/v1/scan", map[string]string{"payload": c.QR.Payload}, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Session.Kind != "seal" || len(sc.Session.Documents) != 1 || sc.Session.Documents[0].Pages != 2 ||
		len(sc.Session.Documents[0].Placements) != 2 || len(sc.Seals) != 1 || sc.Seals[0].ID != company.ID || len(sc.Seals[0].ImagePNG) == 0 {
		t.Fatalf("scan shows %+v", sc)
	}
	cred := w.creds["alice/sm2/sign"].ID
	// The seal names the credential that may sign with it.
	if !slices.Equal(sc.Seals[0].Credentials, []string{cred}) {
		t.Errorf("seal credentials %v, want [%s]", sc.Seals[0].Credentials, cred)
	}
	// No seal chosen: refused, the session stays scanned.
	mustRefuse(t, w.confirm(w.alice, c.ID, cred, sxPIN, c.Code), "seal_required")
	if _, err := w.alice.ConfirmSeal(ctx, c.ID, cred, company.ID, sxPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	var res struct {
		CertificatePEM string `json:"certificate_pem"`
		Documents      []struct {
			Name string `json:"name"`
			PDF  []byte `json:"pdf"`
		} `json:"documents"`
	}
	if err := json.Unmarshal(v.Result, &res); err != nil || len(res.Documents) != 1 || res.Documents[0].Name != "bid.pdf" {
		t.Fatalf("result %s: %v", v.Result, err)
	}
	sealed := res.Documents[0].PDF
	if !bytes.HasPrefix(sealed, bid) {
		t.Fatal("the sealed PDF does not keep the original bytes")
	}
	sigs, err := seal.Verify(sealed)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].SealValid || sigs[0].Seal.ID != company.ID {
		t.Fatalf("sealed PDF: %v %+v", err, sigs)
	}

	// /v1/verify {pdf}: valid, trusted, the seal named.
	type verifyAnswer struct {
		Valid         bool   `json:"valid"`
		Reason        string `json:"reason"`
		PDFSignatures []struct {
			Valid    bool   `json:"valid"`
			Reason   string `json:"reason"`
			Modified bool   `json:"modified"`
			Whole    bool   `json:"covers_whole_document"`
			Signer   struct {
				IssuerID   string `json:"issuer_id"`
				Credential string `json:"credential"`
			} `json:"signer"`
			Seal struct {
				ID      string `json:"id"`
				Valid   bool   `json:"valid"`
				Revoked bool   `json:"revoked"`
			} `json:"seal"`
		} `json:"pdf_signatures"`
	}
	verify := func(pdf []byte) verifyAnswer {
		var va verifyAnswer
		w.must(w.app("POST", "/v1/verify", map[string]any{"pdf": pdf}), http.StatusOK).decode(t, &va)
		return va
	}
	va := verify(sealed)
	if !va.Valid || len(va.PDFSignatures) != 1 || !va.PDFSignatures[0].Whole || va.PDFSignatures[0].Signer.Credential != cred ||
		va.PDFSignatures[0].Signer.IssuerID != "sm2" || !va.PDFSignatures[0].Seal.Valid || va.PDFSignatures[0].Seal.ID != company.ID {
		t.Fatalf("verify: %+v", va)
	}
	// Changed after sealing: reported.
	changed := bytes.Replace(sealed, []byte("1,000,000"), []byte("9,000,000"), 1)
	if va := verify(changed); va.Valid || va.PDFSignatures[0].Valid || va.PDFSignatures[0].Reason != "bad_signature" {
		t.Fatalf("changed PDF: %+v", va)
	}
	// Not a PDF, and a PDF without signatures.
	w.refused(w.app("POST", "/v1/verify", map[string]any{"pdf": []byte("%PDF-1.7 junk")}), http.StatusBadRequest, "bad_pdf")
	if va := verify(bid); va.Valid || va.Reason != "no_signature" {
		t.Fatalf("unsigned PDF: %+v", va)
	}

	// Bad seal sessions are refused at creation.
	bad := func(doc map[string]any, code string) {
		t.Helper()
		w.refused(w.app("POST", "/v1/sessions", map[string]any{"kind": "seal", "documents": []map[string]any{doc}}), http.StatusBadRequest, code)
	}
	bad(map[string]any{"name": "a.pdf", "pdf": []byte("not a pdf"), "placements": []map[string]any{{"page": 1, "x_mm": 100, "y_mm": 100}}}, "bad_pdf")
	bad(map[string]any{"name": "a.pdf", "pdf": bid, "placements": []map[string]any{{"page": 3, "x_mm": 100, "y_mm": 100}}}, "bad_placement")
	bad(map[string]any{"name": "a.pdf", "pdf": bid}, "invalid_request")
	bad(map[string]any{"name": "a.pdf", "data": []byte("x"), "placements": []map[string]any{{"page": 1}}}, "invalid_request")

	// Revocation: the seal is reported revoked and cannot be used again.
	var revoked sxSeal
	w.must(w.adminDo("POST", "/v1/admin/seals/"+company.ID+"/revoke", map[string]string{"reason": "keyCompromise"}), http.StatusOK).decode(t, &revoked)
	if revoked.State != "revoked" || revoked.Revocation != "keyCompromise" {
		t.Fatalf("revoked %+v", revoked)
	}
	w.refused(w.adminDo("POST", "/v1/admin/seals/"+company.ID+"/revoke", nil), http.StatusConflict, "already_revoked")
	w.refused(w.adminDo("POST", "/v1/admin/seals/sel_nothere/revoke", nil), http.StatusNotFound, "seal_not_found")
	if va := verify(sealed); va.Valid || !va.PDFSignatures[0].Seal.Revoked || va.PDFSignatures[0].Seal.Valid {
		t.Fatalf("after revocation: %+v", va)
	}
	c2 := w.create(req)
	if _, err := w.scan(w.alice, c2.QR.Payload); err != nil {
		t.Fatal(err)
	}
	_, err = w.alice.ConfirmSeal(ctx, c2.ID, cred, company.ID, sxPIN, c2.Code)
	mustRefuse(t, err, "seal_not_active")

	// Audited: the operator's actions and the key use.
	found := map[string]bool{}
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	w.must(w.adminDo("GET", "/v1/admin/audit", nil), http.StatusOK).decode(t, &audit)
	for _, e := range audit.Entries {
		if d, _ := e["detail"].(string); strings.Contains(d, company.ID) || e["session"] == c.ID {
			found[e["action"].(string)+"/"+e["outcome"].(string)] = true
		}
	}
	for _, k := range []string{"seal.add/ok", "seal.revoke/ok", "seal/ok"} {
		if !found[k] {
			t.Errorf("no audit entry %s (have %v)", k, found)
		}
	}
}
