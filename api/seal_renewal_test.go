package api_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/ukeygate/ukeygate/internal/seed"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/seal"
	"github.com/ukeygate/ukeygate/storage"
)

// pdfsigCheck has poppler's pdfsig (a checker we did not write) check a
// sealed PDF: a valid signature over the whole document. Poppler cannot
// check SM2 signatures: use it on RSA ones.
func pdfsigCheck(t *testing.T, pdf []byte) {
	t.Helper()
	pdfsig, err := exec.LookPath("pdfsig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdfsig is required when CI=true (apt-get install poppler-utils)")
		}
		t.Log("pdfsig not installed: only the gateway's own checks")
		return
	}
	file := filepath.Join(t.TempDir(), "sealed.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, pdfsig, file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature is Valid") || !strings.Contains(string(out), "Total document signed") {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
}

// rnSeal is a seal as GET /v1/admin/seals shows it.
type rnSeal struct {
	ID                string                 `json:"id"`
	State             string                 `json:"state"`
	SESSeal           []byte                 `json:"ses_seal"`
	Version           int                    `json:"version"`
	ReissuedAt        time.Time              `json:"reissued_at"`
	SignerCredentials []string               `json:"signer_credentials"`
	ReissuePending    bool                   `json:"reissue_pending"`
	PreviousVersions  []protocol.SealVersion `json:"previous_versions"`
}

// adminSeal reads one seal of owner from the operator's listing.
func (w *sxWorld) adminSeal(t *testing.T, owner, id string) rnSeal {
	t.Helper()
	var list struct{ Seals []rnSeal }
	w.must(w.adminDo("GET", "/v1/admin/seals?owner="+owner, nil), http.StatusOK).decode(t, &list)
	for _, s := range list.Seals {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("seal %s not listed for %s", id, owner)
	return rnSeal{}
}

// sealWith has phone p seal a new one-page PDF (text) with seal sealID and
// credential cred; it returns the sealed PDF, or the refusal.
func (w *sxWorld) sealWith(t *testing.T, p *phone.Client, cred, sealID, pin, text string) ([]byte, error) {
	t.Helper()
	return w.sealWithAlg(t, p, "SM2", cred, sealID, pin, text)
}

func (w *sxWorld) sealWithAlg(t *testing.T, p *phone.Client, alg, cred, sealID, pin, text string) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	pdf := seal.TextPDF([][]string{{text, "Bidder (seal): [SEAL HERE]"}})
	c := w.create(map[string]any{"kind": "seal", "alg": alg, "seal": sealID, "display": map[string]string{"title": "投标文件盖章"},
		"documents": []map[string]any{{"name": "bid.pdf", "pdf": pdf, "placements": []map[string]any{{"keyword": "[SEAL HERE]"}}}}})
	var sc sxScannedSeal
	if err := p.Do(ctx, "POST", "/v1/scan", map[string]string{"payload": c.QR.Payload}, &sc); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ConfirmSeal(ctx, c.ID, cred, sealID, pin, c.Code); err != nil {
		return nil, err
	}
	var res protocol.SealResult
	if err := json.Unmarshal(w.view(c.ID).Result, &res); err != nil || len(res.Documents) != 1 {
		t.Fatalf("seal result: %v", err)
	}
	return res.Documents[0].PDF, nil
}

// verifySealed checks a sealed PDF: package seal (the signature and the
// SES_Seal it carries), POST /v1/verify (valid, trusted, the seal valid
// and not revoked) and, for an RSA signature (rsa), pdfsig.
func (w *sxWorld) verifySealed(t *testing.T, pdf []byte, sealID, cred string, rsa bool) {
	t.Helper()
	sigs, err := seal.Verify(pdf)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].SealValid || sigs[0].Seal.ID != sealID {
		t.Fatalf("package seal: %v %+v", err, sigs)
	}
	var va protocol.VerifyResponse
	w.must(w.app("POST", "/v1/verify", map[string]any{"pdf": pdf}), http.StatusOK).decode(t, &va)
	if !va.Valid || len(va.PDFSignatures) != 1 || va.PDFSignatures[0].Seal == nil || !va.PDFSignatures[0].Seal.Valid ||
		va.PDFSignatures[0].Seal.Revoked || va.PDFSignatures[0].Seal.ID != sealID || va.PDFSignatures[0].Signer == nil || va.PDFSignatures[0].Signer.Credential != cred {
		b, _ := json.Marshal(va)
		t.Fatalf("/v1/verify: %s", b)
	}
	if rsa {
		pdfsigCheck(t, pdf)
	}
}

// actionAudit lists the audit entries of action about user.
func (w *sxWorld) actionAudit(t *testing.T, user, action string) []protocol.AuditEntry {
	t.Helper()
	var page protocol.AuditPage
	w.must(w.adminDo("GET", "/v1/admin/audit?user="+user+"&action="+action, nil), http.StatusOK).decode(t, &page)
	return page.Entries
}

// TestSealAfterRenewal: an organisation's official seal keeps working
// through the yearly renewal of its signing credential, for the
// organisation and for its delegate: the renewal re-issues the seal
// (same id, version 2, bound to the new certificate, audited as
// seal.reissue), both seal again with the same seal id, and the PDFs
// sealed before and after the renewal all verify (package seal,
// /v1/verify, pdfsig). A staff member's hand-drawn signature follows her
// own renewal the same way.
func TestSealAfterRenewal(t *testing.T) {
	t.Parallel()
	w := newDlgWorld(t)
	ctx := context.Background()
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()

	var company rnSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": w.orgID, "name": dlgOrgName + " 公章", "kind": "official",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}), http.StatusCreated).decode(t, &company)
	if company.Version != 1 || !slices.Equal(company.SignerCredentials, []string{w.orgSignCred.ID}) {
		t.Fatalf("new seal: version %d signers %v", company.Version, company.SignerCredentials)
	}
	var drawn rnSeal
	if err := w.alice.Do(ctx, "POST", "/v1/me/seals", map[string]any{"image_png": drawingPNG(t, 600, 240, true)}, &drawn); err != nil {
		t.Fatal(err)
	}
	w.grantActive(t, []string{"seal"}, nil)
	aliceCred := w.creds["alice/sm2/sign"].ID

	// Before the renewals: the organisation, its delegate and alice herself.
	orgBefore, err := w.sealWith(t, w.bob, w.orgSignCred.ID, company.ID, sxPIN, "before, by the organisation")
	if err != nil {
		t.Fatal(err)
	}
	delBefore, err := w.sealWith(t, w.alice, w.orgSignCred.ID, company.ID, dlgStaffPIN, "before, by the delegate")
	if err != nil {
		t.Fatal(err)
	}
	drawnBefore, err := w.sealWith(t, w.alice, aliceCred, drawn.ID, dlgStaffPIN, "before, signed by hand")
	if err != nil {
		t.Fatal(err)
	}

	// The renewals (same key at this issuer: only the certificate is new).
	orgNew, err := w.bob.RenewCredential(ctx, w.orgSignCred.ID, sxPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	aliceNew, err := w.alice.RenewCredential(ctx, aliceCred, dlgStaffPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		owner string
		old   rnSeal
		from  string
		to    *phone.Credential
	}{{w.orgID, company, w.orgSignCred.ID, orgNew}, {w.aliceID, drawn, aliceCred, aliceNew}} {
		got := w.adminSeal(t, tc.owner, tc.old.ID)
		ses, err := seal.Parse(got.SESSeal)
		if err != nil || ses.Verify() != nil || ses.ID != tc.old.ID {
			t.Fatalf("re-issued SES_Seal of %s: %v", tc.old.ID, err)
		}
		newCert := mustCertDER(t, tc.to.CertificatePEM)
		if got.State != "active" || got.Version != 2 || got.ReissuedAt.IsZero() || got.ReissuePending ||
			!slices.Equal(got.SignerCredentials, []string{tc.to.ID}) || !ses.AllowsSigner(newCert) {
			t.Fatalf("after the renewal %s: %+v", tc.old.ID, got)
		}
		oldSES, _ := seal.Parse(tc.old.SESSeal)
		if ses.AllowsSigner(oldSES.SignerCerts[0]) {
			t.Errorf("%s still lists the superseded certificate", tc.old.ID)
		}
		fp := sm3.Sum(tc.old.SESSeal)
		if len(got.PreviousVersions) != 1 || got.PreviousVersions[0].Version != 1 || got.PreviousVersions[0].SESSM3 != hex.EncodeToString(fp[:]) {
			t.Errorf("previous versions of %s: %+v", tc.old.ID, got.PreviousVersions)
		}
		es := w.actionAudit(t, tc.owner, "seal.reissue")
		if len(es) != 1 || es[0].Actor != "gateway" || es[0].CredentialID != tc.to.ID || es[0].Outcome != "ok" ||
			es[0].Detail != "seal="+tc.old.ID+" version=2 replaced="+tc.from+" by="+tc.to.ID+" after=renew" {
			t.Errorf("audit of the re-issue of %s: %+v", tc.old.ID, es)
		}
	}

	// After: the same seal ids, with the new credentials.
	orgAfter, err := w.sealWith(t, w.bob, orgNew.ID, company.ID, sxPIN, "after, by the organisation")
	if err != nil {
		t.Fatal(err)
	}
	delAfter, err := w.sealWith(t, w.alice, orgNew.ID, company.ID, dlgStaffPIN, "after, by the delegate")
	if err != nil {
		t.Fatal(err)
	}
	drawnAfter, err := w.sealWith(t, w.alice, aliceNew.ID, drawn.ID, dlgStaffPIN, "after, signed by hand")
	if err != nil {
		t.Fatal(err)
	}
	// The superseded credential seals no more.
	_, err = w.sealWith(t, w.bob, w.orgSignCred.ID, company.ID, sxPIN, "with the old credential")
	mustRefuse(t, err, protocol.CodeCredentialNotActive)

	for _, tc := range []struct {
		name         string
		pdf          []byte
		sealID, cred string
	}{
		{"organisation before", orgBefore, company.ID, w.orgSignCred.ID},
		{"delegate before", delBefore, company.ID, w.orgSignCred.ID},
		{"drawn before", drawnBefore, drawn.ID, aliceCred},
		{"organisation after", orgAfter, company.ID, orgNew.ID},
		{"delegate after", delAfter, company.ID, orgNew.ID},
		{"drawn after", drawnAfter, drawn.ID, aliceNew.ID},
	} {
		t.Run(tc.name, func(t *testing.T) { w.verifySealed(t, tc.pdf, tc.sealID, tc.cred, false) })
	}
	// Revoking the seal revokes every version: the PDFs sealed before the
	// renewal are reported revoked too.
	w.must(w.adminDo("POST", "/v1/admin/seals/"+company.ID+"/revoke", map[string]string{"reason": "cessationOfOperation"}), http.StatusOK)
	for _, pdf := range [][]byte{orgBefore, orgAfter} {
		var va protocol.VerifyResponse
		w.must(w.app("POST", "/v1/verify", map[string]any{"pdf": pdf}), http.StatusOK).decode(t, &va)
		if va.Valid || va.PDFSignatures[0].Seal == nil || !va.PDFSignatures[0].Seal.Revoked {
			t.Fatalf("after revoking the seal: %+v", va)
		}
	}
}

func mustCertDER(t *testing.T, certPEM string) []byte {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("certificate PEM %q", certPEM)
	}
	return b.Bytes
}

// TestSealReissueAfterCrash: a crash right after a renewal's write leaves
// the seal bound to the superseded certificate and the renewal's marker
// (made here by writing back the seal's earlier record and the marker).
// The operator sees reissue_pending; the seal is re-issued when it is
// used (a confirm, after the scan saw it as it was) and at the next
// start, each time audited with what triggered it; the marker goes once
// nothing is left; the PDFs sealed before and after (RSA, so that
// poppler's pdfsig checks them too) verify.
func TestSealReissueAfterCrash(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{
		Issuers: []operator.IssuerRequest{seed.Generated("rsa", "RSA", "rn RSA Root")},
		Users:   []seed.User{{Name: "alice", Credentials: []seed.Credential{seed.Sign("rsa", "RSA")}}},
	})
	ctx := context.Background()
	st := w.ts.Server.Store()
	cred := w.creds["alice/rsa/sign"]
	var sl rnSeal
	w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": cred.User, "name": "某某有限公司 合同章", "kind": "contract",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40}), http.StatusCreated).decode(t, &sl)
	before, err := w.sealWithAlg(t, w.alice, "RSA", cred.ID, sl.ID, sxPIN, "sealed before the renewal")
	if err != nil {
		t.Fatal(err)
	}
	v1, err := st.Get(ctx, "seals/"+sl.ID)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := w.alice.RenewCredential(ctx, cred.ID, sxPIN, false)
	if err != nil {
		t.Fatal(err)
	}
	marker := "sealreissues/" + cred.User + "/" + cred.ID
	if _, err := st.Get(ctx, marker); err == nil {
		t.Fatal("the marker stayed after the re-issue")
	}
	// crash puts back what a crash after the renewal's write leaves.
	crash := func() {
		t.Helper()
		if _, err := st.Txn(ctx, storage.Put("seals/"+sl.ID, v1.Value, 0),
			storage.Put(marker, []byte(`{"successor":"`+renewed.ID+`","at":"2026-01-01T00:00:00Z"}`), 0)); err != nil {
			t.Fatal(err)
		}
		if got := w.adminSeal(t, cred.User, sl.ID); got.Version != 1 || !got.ReissuePending {
			t.Fatalf("after the crash: version %d pending %v", got.Version, got.ReissuePending)
		}
	}
	check := func(after string, wantEntries int) {
		t.Helper()
		got := w.adminSeal(t, cred.User, sl.ID)
		ses, err := seal.Parse(got.SESSeal)
		if err != nil || ses.Verify() != nil || got.Version != 2 || got.ReissuePending || !ses.AllowsSigner(mustCertDER(t, renewed.CertificatePEM)) {
			t.Fatalf("after the repair (%s): %+v %v", after, got, err)
		}
		es := w.actionAudit(t, cred.User, "seal.reissue")
		if len(es) != wantEntries || !strings.HasSuffix(es[len(es)-1].Detail, " after="+after) {
			t.Fatalf("audit after %s: %+v", after, es)
		}
	}
	check("renew", 1)

	// Used: the scan saw the seal before the crash's state came back; the
	// confirm re-issues it, then seals.
	pdf := seal.TextPDF([][]string{{"sealed at the repair", "[SEAL HERE]"}})
	c := w.create(map[string]any{"kind": "seal", "alg": "RSA", "seal": sl.ID,
		"documents": []map[string]any{{"name": "a.pdf", "pdf": pdf, "placements": []map[string]any{{"keyword": "[SEAL HERE]"}}}}})
	if _, err := w.scan(w.alice, c.QR.Payload); err != nil {
		t.Fatal(err)
	}
	crash()
	if _, err := w.alice.ConfirmSeal(ctx, c.ID, renewed.ID, sl.ID, sxPIN, c.Code); err != nil {
		t.Fatalf("confirm after the crash: %v", err)
	}
	check("use", 2)
	var res protocol.SealResult
	if err := json.Unmarshal(w.view(c.ID).Result, &res); err != nil || len(res.Documents) != 1 {
		t.Fatal(err)
	}
	w.verifySealed(t, res.Documents[0].PDF, sl.ID, renewed.ID, true)
	// The marker of the crash stays until a start (or a renewal) clears
	// it; it does no harm.

	// Started again after a crash: repaired before the node serves.
	crash()
	w.ts.Restart()
	check("start", 3)
	st = w.ts.Server.Store() // the restarted server's
	if _, err := st.Get(ctx, marker); err == nil {
		t.Fatal("the marker stayed after the start")
	}
	after, err := w.sealWithAlg(t, w.alice, "RSA", renewed.ID, sl.ID, sxPIN, "sealed after the start")
	if err != nil {
		t.Fatal(err)
	}
	w.verifySealed(t, before, sl.ID, cred.ID, true)
	w.verifySealed(t, after, sl.ID, renewed.ID, true)
}

// TestDrawnSignatureCap: the cap of 32 seals counts active seals only: a
// phone user draws their signature again and again, far beyond 32 times
// (each drawing supersedes the earlier one in its own write, audited in
// its seal.add), with one drawing active at a time; at 32 active seals a
// drawing of the same name still replaces the earlier one, while a new
// name, and the operator's new seal, are seal_limit (409) naming no
// field, nothing stored.
func TestDrawnSignatureCap(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	ctx := context.Background()
	w.ts.Config.Seals.DrawnSignatures = true
	w.ts.Restart()
	alice := w.creds["alice/sm2/sign"].User
	draw := func(name string) (rnSeal, error) {
		var out rnSeal
		body := map[string]any{"image_png": drawingPNG(t, 600, 240, true)}
		if name != "" {
			body["name"] = name
		}
		err := w.alice.Do(ctx, "POST", "/v1/me/seals", body, &out)
		return out, err
	}
	countActive := func() (active, all int) {
		var list struct{ Seals []rnSeal }
		w.must(w.adminDo("GET", "/v1/admin/seals?owner="+alice, nil), http.StatusOK).decode(t, &list)
		for _, s := range list.Seals {
			if s.State == "active" {
				active++
			}
		}
		return active, len(list.Seals)
	}
	var last rnSeal
	const redraws = 34 // the 33rd was refused when revoked seals counted
	for i := range redraws {
		sl, err := draw("")
		if err != nil {
			t.Fatalf("drawing %d: %v", i+1, err)
		}
		last = sl
	}
	if active, all := countActive(); active != 1 || all != redraws {
		t.Fatalf("after %d drawings: %d active of %d", redraws, active, all)
	}
	es := w.actionAudit(t, alice, "seal.add")
	if len(es) != redraws || !strings.Contains(es[len(es)-1].Detail, "supersedes=sel_") || strings.Contains(es[0].Detail, "supersedes") {
		t.Fatalf("%d seal.add entries: first %q, last %q", len(es), es[0].Detail, es[len(es)-1].Detail)
	}

	// The operator fills the cap.
	for i := range 31 {
		w.must(w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": alice, "name": "合同章 " + string(rune('A'+i)), "kind": "contract",
			"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"}), http.StatusCreated)
	}
	if active, _ := countActive(); active != 32 {
		t.Fatalf("%d active seals", active)
	}
	again, err := draw("")
	if err != nil {
		t.Fatalf("drawing again at the cap: %v", err)
	}
	if got := w.adminSeal(t, alice, last.ID); got.State != "revoked" || again.State != "active" {
		t.Fatalf("at the cap: the earlier drawing is %s, the new one %s", got.State, again.State)
	}
	before, _, _ := w.ts.Server.Store().List(ctx, "seals/")
	_, err = draw("另一个签名")
	ae := mustRefuse(t, err, protocol.CodeSealLimit)
	if ae.Field != "" || !strings.Contains(ae.Message, "32 active seals") {
		t.Fatalf("the refusal: field %q message %q", ae.Field, ae.Message)
	}
	r := w.adminDo("POST", "/v1/admin/seals", map[string]any{"owner": alice, "name": "财务章", "kind": "finance",
		"image_png": sealTestPNG(t), "width_mm": 40, "height_mm": 40, "issuer": "sm2"})
	w.refused(r, http.StatusConflict, protocol.CodeSealLimit)
	if r.field != "" {
		t.Errorf("the operator's refusal names field %q", r.field)
	}
	if after, _, _ := w.ts.Server.Store().List(ctx, "seals/"); len(after) != len(before) {
		t.Fatalf("refusals stored seals: %d, then %d", len(before), len(after))
	}
	// Revoking one makes room.
	w.must(w.adminDo("POST", "/v1/admin/seals/"+again.ID+"/revoke", nil), http.StatusOK)
	if _, err := draw("另一个签名"); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
}
