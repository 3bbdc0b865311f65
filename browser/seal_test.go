package browser_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/sealimage"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/seal"
)

// TestSealBid: the demo's sign page offers "盖章" on a sample bid PDF the
// demo makes itself. The operator made the user a seal; the phone sees
// the PDF, its page and placement and the seal, and confirms with the RSA
// credential; the page shows the signer and the seal and offers the
// sealed PDF, which poppler's pdfsig calls valid over the whole document.
func TestSealBid(t *testing.T) {
	t.Parallel()
	w := newWorld(t, true)
	op := &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
	// A realistic 公章 (package sealimage), as an operator would register.
	pic, err := sealimage.Round("示例建设有限公司", "投标专用章", 400)
	if err != nil {
		t.Fatalf("drawing the seal (CI installs fonts-wqy-zenhei): %v", err)
	}
	sl, err := op.AddSeal(w.ctx(), operator.SealRequest{Owner: w.user, Name: "示例建设有限公司 投标专用章", Kind: "official",
		ImagePNG: pic, WidthMM: 40, HeightMM: 40, Issuer: "rsa"})
	if err != nil {
		t.Fatal(err)
	}

	tb := w.newTab()
	tb.open("/demo/sign")
	tb.click("[data-demo=seal-start]")
	tb.waitState("waiting")
	res := w.scan(tb.qrFromImageBytes())
	if res.Session.Kind != "seal" || len(res.Session.Documents) != 1 || res.Session.Documents[0].Name != "bid-2026-017.pdf" ||
		res.Session.Documents[0].Pages != 1 || len(res.Session.Documents[0].Placements) != 1 || len(res.Seals) != 1 || res.Seals[0].ID != sl.ID {
		t.Fatalf("the phone sees %+v, seals %+v", res.Session, res.Seals)
	}
	tb.waitState("scanned")
	cred := ""
	for _, c := range res.Credentials {
		if c.Alg == "RSA" {
			cred = c.ID
		}
	}
	code := tb.code()
	if st, err := w.phone.ConfirmSeal(w.ctx(), res.Session.ID, cred, sl.ID, testPIN, code); err != nil || st != "completed" {
		t.Fatalf("phone confirm: %q %v", st, err)
	}
	tb.wait(`document.getElementById('demo').dataset.finished === `+jsString(res.Session.ID)+
		` && !document.querySelector('[data-demo=seal-result]').hidden`, "the sealed PDF")
	if s := tb.text("[data-demo=seal-signer]"); !strings.Contains(s, "CN="+userName) {
		t.Errorf("signer %q", s)
	}
	if s := tb.text("[data-demo=seal-name]"); !strings.Contains(s, sl.ID) || !strings.Contains(s, "投标专用章") {
		t.Errorf("seal %q", s)
	}
	tb.screenshot("sealed-bid")
	href := eval[string](tb, `document.querySelector('[data-demo=seal-download]').getAttribute('href')`)
	pdf := tb.fetchBytes(href)
	sigs, err := seal.Verify(pdf)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].CoversWholeDocument || sigs[0].Seal == nil || sigs[0].Seal.ID != sl.ID {
		t.Fatalf("downloaded PDF: %v %+v", err, sigs)
	}
	pdfsigValid(t, pdf) // poppler, a checker we did not write
	// The sealed page, rendered by poppler, for a person to look at.
	if ppm, err := exec.LookPath("pdftoppm"); err == nil {
		dir := t.ArtifactDir()
		file := filepath.Join(t.TempDir(), "sealed.pdf")
		if err := os.WriteFile(file, pdf, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, ppm, "-png", "-r", "60", "-singlefile", file, filepath.Join(dir, "sealed-bid-page")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
		t.Logf("rendered page %s", filepath.Join(dir, "sealed-bid-page.png"))
	}
	tb.clean(nil)
}
