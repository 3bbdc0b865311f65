package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/storage"
)

// TestSealReissueAfterCertificateEnd: an organisation's seal made without
// validity_days ends with its signing certificate (10 days at this
// issuer). The certificate is renewed on day 2, but the seal's re-issue
// is lost (a crash after the renewal's write: the seal's first record
// and the renewal's marker put back) and nothing re-issues it before the
// old certificate ends. On day 11 the seal is expired, and the operator
// sees its re-issue pending; a portal may still name it in a seal
// session, whose scan re-issues it under the successor (seal.reissue,
// expired= since when, after=use), active until the successor's end;
// lost again after the scan, the confirm re-issues it and seals (the PDF
// verifies); lost again, the next start re-issues it (after=start) and
// clears the marker. A seal of the same owner with validity_days, lost
// the same way, stays expired, pending nothing.
func TestSealReissueAfterCertificateEnd(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOpts{adminToken: testAdminToken, maxBody: 1 << 20, audit: true, sessions: true})
	ctx := context.Background()
	const pin = "135790"
	e.must(e.admin("POST", "/v1/admin/issuers", map[string]any{"id": "short", "name": "Short SM2 CA", "mode": "internal", "alg": "SM2", "generate": true,
		"subject": map[string]string{"common_name": "ukeygate short SM2 Root"}, "profile": map[string]any{"algs": []string{"SM2"}, "validity_days": 10}}),
		http.StatusCreated)
	var app struct {
		APIKey string `json:"api_key"`
	}
	e.must(e.admin("POST", "/v1/admin/apps", map[string]any{"name": "招标平台", "origins": []string{"https://bid.example.cn"}}), http.StatusCreated).decode(t, &app)
	var user struct {
		ID             string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	e.must(e.admin("POST", "/v1/admin/users", map[string]string{"name": "某某建设有限公司"}), http.StatusCreated).decode(t, &user)
	ph := e.phone()
	if _, err := ph.Enroll(ctx, user.ActivationCode, "Test phone", pin); err != nil {
		t.Fatal(err)
	}
	cred, err := ph.RequestCredential(ctx, "short", "SM2", "sign", pin)
	if err != nil {
		t.Fatal(err)
	}
	addSeal := func(name string, validityDays int) protocol.Seal {
		var sl protocol.Seal
		e.must(e.admin("POST", "/v1/admin/seals", map[string]any{"owner": user.ID, "name": name, "kind": "official",
			"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "validity_days": validityDays}), http.StatusCreated).decode(t, &sl)
		return sl
	}
	company := addSeal("某某建设有限公司 公章", 0)
	fixed := addSeal("某某建设有限公司 合同章", 10)
	var v1 []storage.Op
	for _, id := range []string{company.ID, fixed.ID} {
		kv, err := e.store.Get(ctx, "seals/"+id)
		if err != nil {
			t.Fatal(err)
		}
		v1 = append(v1, storage.Put(kv.Key, kv.Value, 0))
	}

	e.clock.Advance(2 * 24 * time.Hour)
	renewed, err := ph.RenewCredential(ctx, cred.ID, pin, false)
	if err != nil {
		t.Fatal(err)
	}
	marker := "sealreissues/" + user.ID + "/" + cred.ID
	lose := func() {
		t.Helper()
		ops := append(slices.Clone(v1), storage.Put(marker, []byte(`{"successor":"`+renewed.ID+`","at":"2026-01-01T00:00:00Z"}`), 0))
		if _, err := e.store.Txn(ctx, ops...); err != nil {
			t.Fatal(err)
		}
	}
	lose()
	e.clock.Advance(9 * 24 * time.Hour)
	listed := func() map[string]protocol.Seal {
		t.Helper()
		var list protocol.SealList
		e.must(e.admin("GET", "/v1/admin/seals?owner="+user.ID, nil), http.StatusOK).decode(t, &list)
		out := map[string]protocol.Seal{}
		for _, s := range list.Seals {
			out[s.ID] = s
		}
		return out
	}
	seals := listed()
	if c, f := seals[company.ID], seals[fixed.ID]; c.State != "expired" || !c.ReissuePending || f.State != "expired" || f.ReissuePending {
		t.Fatalf("on day 11: company %s pending %v, fixed %s pending %v", c.State, c.ReissuePending, f.State, f.ReissuePending)
	}
	succEnd := renewed.NotAfter.UTC().Truncate(time.Second)
	check := func(after string, entries int) {
		t.Helper()
		seals := listed()
		c, f := seals[company.ID], seals[fixed.ID]
		ses, err := seal.Parse(c.SESSeal)
		if err != nil || ses.Verify() != nil || c.State != "active" || c.ReissuePending || c.Version != 2 || !c.NotAfter.Equal(succEnd) ||
			!ses.AllowsSigner(mustCertDER(t, renewed.CertificatePEM)) {
			t.Fatalf("after %s: %+v %v", after, c, err)
		}
		if f.State != "expired" || f.Version != 1 || f.ReissuePending {
			t.Fatalf("after %s, the seal with validity_days: %s version %d pending %v", after, f.State, f.Version, f.ReissuePending)
		}
		var page protocol.AuditPage
		e.must(e.admin("GET", "/v1/admin/audit?user="+user.ID+"&action=seal.reissue", nil), http.StatusOK).decode(t, &page)
		want := "seal=" + company.ID + " version=2 replaced=" + cred.ID + " by=" + renewed.ID +
			" expired=" + company.NotAfter.UTC().Format(time.RFC3339) + " after=" + after
		// Both seals were re-issued at the renewal (after=renew).
		if n := len(page.Entries); n != entries || page.Entries[n-1].Detail != want || page.Entries[n-1].Actor != "gateway" {
			t.Fatalf("seal.reissue entries %+v, the last one's detail want %q", page.Entries, want)
		}
	}

	// The scan offers it again, re-issued; the confirm seals with it.
	pdf := seal.TextPDF([][]string{{"Bidder (seal): [SEAL HERE]"}})
	var c sxCreated
	e.must(e.do("POST", "/v1/sessions", map[string]any{"kind": "seal", "alg": "SM2", "seal": company.ID,
		"display":   map[string]string{"title": "投标文件盖章"},
		"documents": []map[string]any{{"name": "bid.pdf", "pdf": pdf, "placements": []map[string]any{{"keyword": "[SEAL HERE]"}}}}},
		map[string]string{"Authorization": "Bearer " + app.APIKey}), http.StatusCreated).decode(t, &c)
	var sc protocol.ScanResponse
	if err := ph.Do(ctx, "POST", "/v1/scan", map[string]string{"payload": c.QR.Payload}, &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Seals) != 1 || sc.Seals[0].ID != company.ID || !slices.Equal(sc.Seals[0].Credentials, []string{renewed.ID}) {
		t.Fatalf("scanned seals %+v", sc.Seals)
	}
	check("use", 3)
	// Lost again after the scan: the confirm re-issues it, then seals.
	lose()
	if _, err := ph.ConfirmSeal(ctx, c.ID, renewed.ID, company.ID, pin, c.Code); err != nil {
		t.Fatal(err)
	}
	check("use", 4)
	var res protocol.SealResult
	var view struct{ Result json.RawMessage }
	e.must(e.do("GET", "/v1/sessions/"+c.ID, nil, map[string]string{"Authorization": "Bearer " + app.APIKey}), http.StatusOK).decode(t, &view)
	if err := json.Unmarshal(view.Result, &res); err != nil || len(res.Documents) != 1 {
		t.Fatalf("seal result: %v", err)
	}
	if sigs, err := seal.Verify(res.Documents[0].PDF); err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].SealValid || sigs[0].Seal.ID != company.ID {
		t.Fatalf("the sealed PDF: %v %+v", err, sigs)
	}

	// Lost again: the start re-issues it and clears the marker.
	lose()
	if n, err := e.api.ResumeSealReissues(ctx); err != nil || n != 1 {
		t.Fatalf("resumed %d: %v", n, err)
	}
	check("start", 5)
	if _, err := e.store.Get(ctx, marker); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the marker after the start: %v", err)
	}
}
