package browser_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/internal/pdfcorpus"
	"github.com/ukeygate/ukeygate/internal/sealimage"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPhoneSealChromiumPDF: a contract as a portal really sends it, printed
// to PDF by Chromium itself (four or more pages of Chinese and English with a
// table, its fonts embedded as CID TrueType subsets with Identity-H and
// /ToUnicode), is read by the gateway as written: on a 320 px phone the
// confirm screen shows the first lines of page 1 and, at the keyword on
// the last page, the line that holds it (what seal.ReadExcerpt reads,
// which package seal checks against poppler), and the page's sketch;
// confirmed with the PIN, the sealed PDF verifies with the chosen seal,
// and the sealed page is rendered by poppler for a person to look at.
func TestPhoneSealChromiumPDF(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	pctx, cancel := context.WithTimeout(browserCtx, tabTimeout)
	defer cancel()
	contract, err := pdfcorpus.PrintToPDF(pctx, pdfcorpus.ContractHTML(90))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := seal.PageCount(contract)
	if err != nil || pages < 4 {
		t.Fatalf("the printed contract has %d pages (%v)", pages, err)
	}
	want, err := seal.ReadExcerpt(contract, []seal.Placement{{Keyword: pdfcorpus.KeywordZH}}, nil)
	if err != nil || len(want.Spots) != 1 || want.Spots[0].Page != pages || len(want.First.Lines) != 3 {
		t.Fatalf("the gateway's reading of the contract: %v %+v", err, want)
	}

	pic, err := sealimage.Round("某某建设有限公司", "合同专用章", 400)
	if err != nil {
		t.Fatalf("drawing the seal (CI installs fonts-wqy-zenhei): %v", err)
	}
	p, sl, pc := contractSealer(t, w, "郑十", "seal-chromium", pic)
	s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal, Issuer: "sm2", Alg: "SM2",
		Display:   portal.Display{Title: "政府采购合同签章", Summary: "请在乙方盖章处盖合同专用章"},
		Documents: []portal.Document{{Name: "政府采购合同.pdf", PDF: contract, Placements: []portal.Placement{{Keyword: pdfcorpus.KeywordZH}}}}})
	if err != nil {
		t.Fatal(err)
	}

	step(t, p, "the gateway's reading of Chromium's PDF at 320 px, then seal", func(t *testing.T) {
		p.visit(s.QR.Payload)
		p.waitView("session")
		first := p.txt("ft-first")
		if wantFirst := "第 1 页开头" + strings.Join(want.First.Lines, ""); first != wantFirst || !strings.Contains(first, "政府采购合同 Government Procurement Contract") {
			t.Errorf("first lines %q, want %q", first, wantFirst)
		}
		if got := p.txt("ft-near"); got != want.Spots[0].Lines[want.Spots[0].Nearest] || !strings.HasPrefix(got, pdfcorpus.KeywordZH) {
			t.Errorf("nearest line %q, the gateway read %q", got, want.Spots[0].Lines)
		}
		spot := eval[string](p.tab, `(function () { var c = document.querySelector('[data-t=ft-spot]').cloneNode(true);
  Array.prototype.forEach.call(c.querySelectorAll('details'), function (x) { x.remove(); }); return c.textContent; })()`)
		if !strings.HasPrefix(spot, "盖章处 1：第 "+strconv.Itoa(pages)+" 页，文字“"+pdfcorpus.KeywordZH+"”处") {
			t.Errorf("spot %q", spot)
		}
		noOverflow320(t, p, "the reading of Chromium's PDF")
		p.center("file-text-label")
		p.shot("chromium-pdf-top")
		p.center("[data-t=ft-near]")
		p.shot("chromium-pdf-near")
		p.center("[data-t=ft-sketch] summary")
		p.tap("[data-t=ft-sketch] summary")
		p.wait(`(function () { var i = document.querySelector('[data-t=ft-sketch][open] img'); return !!i && i.complete && i.naturalWidth > 500; })()`, "the page sketch drawn")
		noOverflow320(t, p, "the sketch of Chromium's PDF")
		p.center("[data-t=ft-sketch-img]")
		p.shot("chromium-pdf-sketch")
		p.center(`[data-t=code-choice][data-code="` + s.Code + `"]`)
		p.confirmWith(s.Code, pinA)
		p.waitView("done")
		got, err := pc.GetSession(ctx(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := got.Seal()
		if err != nil || len(res.Documents) != 1 {
			t.Fatalf("seal result %+v %v", res, err)
		}
		sealed := res.Documents[0].PDF
		if len(sealed) <= len(contract) || string(sealed[:len(contract)]) != string(contract) {
			t.Fatal("the sealed PDF does not start with Chromium's bytes")
		}
		sigs, err := seal.Verify(sealed)
		if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].CoversWholeDocument || sigs[0].Seal == nil || sigs[0].Seal.ID != sl.ID {
			t.Fatalf("sealed PDF: %v %+v", err, sigs)
		}
		renderForPerson(t, sealed, pages, "chromium-pdf-sealed")
	})
}

// renderForPerson renders page nr of pdf with poppler's pdftoppm into the
// test's artifacts (and UKEYGATE_SHOTS), when pdftoppm is installed.
func renderForPerson(t *testing.T, pdf []byte, nr int, name string) {
	t.Helper()
	ppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		return
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := strconv.Itoa(nr)
	if out, err := exec.CommandContext(ctx, ppm, "-png", "-r", "60", "-f", n, "-l", n, "-singlefile", file, filepath.Join(t.ArtifactDir(), name)).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	if shots := os.Getenv("UKEYGATE_SHOTS"); shots != "" {
		if b, err := os.ReadFile(filepath.Join(t.ArtifactDir(), name+".png")); err == nil {
			_ = os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
		}
	}
}
