package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/portal"
)

// formFieldPDF is a one-page A4 PDF whose AcroForm asks viewers to make
// its fields' appearances (/NeedAppearances true): a text field that
// stores the appearance "报价：100 万元" but holds the value "报价：900
// 万元" (what a viewer shows), and a rich text field (/RV), whose display
// the gateway cannot be sure of, above the line "Contract for lot 7".
func formFieldPDF() []byte {
	utf16 := func(s string) string {
		var b strings.Builder
		b.WriteString("<FEFF")
		for _, r := range s {
			fmt.Fprintf(&b, "%04X", r)
		}
		return b.String() + ">"
	}
	ap := "BT /F1 10 Tf 2 5 Td (Price: 100) Tj ET"
	page := "BT /F1 12 Tf 56 600 Td (Contract for lot 7) Tj ET"
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[6 0 R 8 0 R]/NeedAppearances true/DA(/Helv 0 Tf 0 g)>>>>",
		"<</Type/Pages/Count 1/Kids[3 0 R]>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 5 0 R>>>>/Contents 4 0 R/Annots[6 0 R 8 0 R]>>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(page), page),
		"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>",
		"<</Type/Annot/Subtype/Widget/FT/Tx/T(price)/Rect[56 760 356 780]/DA(/Helv 12 Tf 0 g)/V" + utf16("报价：900 万元") + "/AP<</N 7 0 R>>>>",
		fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox[0 0 300 20]/Resources<</Font<</F1 5 0 R>>>>/Length %d>>\nstream\n%s\nendstream", len(ap), ap),
		"<</Type/Annot/Subtype/Widget/FT/Tx/T(note)/Rect[56 700 356 720]/DA(/Helv 12 Tf 0 g)/V(Plain note)/RV(<body><p>Rich note</p></body>)>>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offsets []int
	for i, o := range objs {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// TestPhoneSealViewerForms: on a 320 px phone, a document whose form
// fields a viewer draws from their values shows the field's value (what
// a viewer shows), not its stale stored appearance, marked 批注 /
// Annotation, and a warning under the document's name that a viewer may
// show other text in its fields than the gateway read, in Chinese and
// English; nothing is wider than the screen and axe finds nothing.
func TestPhoneSealViewerForms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	p, _, pc := contractSealer(t, w, "吴十", "seal-forms", sealPNG(t, false))
	s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal,
		Display:   portal.Display{Title: "报价确认", Summary: "请盖章确认报价"},
		Documents: []portal.Document{{Name: "报价单.pdf", PDF: formFieldPDF(), Placements: []portal.Placement{{Keyword: "lot 7"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	step(t, p, "the field's value and the warning, at 320 px", func(t *testing.T) {
		p.visit(s.QR.Payload)
		p.waitView("session")
		if got := p.txt("ft-first"); got != "第 1 页开头批注报价：900 万元批注Plain noteContract for lot 7" {
			t.Errorf("first lines %q", got)
		}
		if got := p.txt("ft-viewer-forms"); !strings.Contains(got, "表单栏") || !strings.Contains(got, "请打开文件核对") {
			t.Errorf("warning %q", got)
		}
		if !eval[bool](p.tab, `(function () {
  var d = document.querySelector('[data-t=ft-doc]'), w = d.querySelector('[data-t=ft-viewer-forms]');
  return !!w && w.getAttribute('role') === 'alert' && !!(w.compareDocumentPosition(d.querySelector('[data-t=ft-first]')) & Node.DOCUMENT_POSITION_FOLLOWING);
})()`) {
			t.Error("the warning is not an alert before the document's lines")
		}
		noOverflow320(t, p, "the warning")
		p.center("[data-t=ft-viewer-forms]")
		p.shot("viewer-forms")
		p.axe("the warning at 320 px")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en'`, "the English screen")
		if got := p.txt("ft-viewer-forms"); !strings.HasPrefix(got, "This file’s form fields are drawn by the PDF viewer") {
			t.Errorf("English warning %q", got)
		}
		noOverflow320(t, p, "the English warning")
		p.center("[data-t=ft-viewer-forms]")
		p.shot("viewer-forms-en")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese screen")
		p.tap("reject")
		p.waitView("rejected")
	})
}
