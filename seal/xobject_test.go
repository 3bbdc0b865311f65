package seal

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// testForm is a form XObject of formPDF.
type testForm struct {
	// dict is its stream dictionary's entries after /Type/XObject
	// /Subtype/Form; "" is formDict. "{forms}" in it stands for every
	// form of the PDF, /Fm0 /Fm1 …
	dict    string
	content string
	flate   bool // the content compressed (/FlateDecode)
}

// formDict is a form's dictionary by default: the page's box, and its
// own resources: Helvetica as /F2, every form.
const formDict = "/BBox[0 0 595.276 841.89]/Resources<</Font<</F2 3 0 R>>/XObject<<{forms}>>>>"

// formPDF is a PDF of A4 pages whose page i has the content stream
// pages[i] and the resources /F1 Helvetica (WinAnsi), /F9 a font whose
// /ToUnicode reads A, B and C as 甲, 乙 and U+202E (the rest as
// WinAnsi), /Fm0, /Fm1 … the forms, /Im0 a one-pixel image.
func formPDF(pages []string, forms ...testForm) []byte {
	return annotPDF(pages, nil, forms...)
}

// annotPDF is formPDF whose page i has the annotations annots[i]: each
// the entries of an annotation dictionary, written as an object of its
// own, in which "{Fm0}", "{Fm1}" … stand for a reference to the forms.
func annotPDF(pages []string, annots [][]string, forms ...testForm) []byte {
	return extraPDF(pdfExtra{}, pages, annots, forms...)
}

// pdfExtra is what extraPDF adds to annotPDF's document: entries of the
// catalog and of each page's /Resources, and objects of their own after
// the annotations, to which "{X0}", "{X1}" … in any of these, in the
// annotations and in the forms' dictionaries refer.
type pdfExtra struct {
	catalog, pageRes string
	objs             []string
}

// extraPDF is annotPDF with x.
func extraPDF(x pdfExtra, pages []string, annots [][]string, forms ...testForm) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	stream := func(dict string, data []byte) string {
		return fmt.Sprintf("<<%s/Length %d>>\nstream\n%s\nendstream", dict, len(data), data)
	}
	// 1 catalog, 2 page tree, 3 Helvetica, 4 the mapped font, 5 its
	// ToUnicode, 6 the image, 7… the forms, then page p and its content
	// p+1 for each page, then the annotations.
	nf := len(forms)
	var names []string
	refs := strings.NewReplacer()
	var olds []string
	for i := range forms {
		names = append(names, fmt.Sprintf("/Fm%d %d 0 R", i, 7+i))
		olds = append(olds, fmt.Sprintf("{Fm%d}", i), fmt.Sprintf("%d 0 R", 7+i))
	}
	next := 7 + nf + 2*len(pages) // the first annotation's object
	nAnnots := 0
	for _, a := range annots {
		nAnnots += len(a)
	}
	for i := range x.objs {
		olds = append(olds, fmt.Sprintf("{X%d}", i), fmt.Sprintf("%d 0 R", next+nAnnots+i))
	}
	if len(olds) > 0 {
		refs = strings.NewReplacer(olds...)
	}
	var annotObjs []string
	all := strings.Join(names, "")
	b.WriteString("%PDF-1.7\n")
	obj("<</Type/Catalog/Pages 2 0 R" + refs.Replace(x.catalog) + ">>")
	var kids []string
	for i := range pages {
		kids = append(kids, fmt.Sprintf("%d 0 R", 7+nf+2*i))
	}
	obj(fmt.Sprintf("<</Type/Pages/Count %d/Kids[%s]>>", len(pages), strings.Join(kids, " ")))
	obj("<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
	obj("<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding/ToUnicode 5 0 R>>")
	obj(stream("", []byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n/CMapName /UKG-Test def /CMapType 2 def\n"+
		"1 begincodespacerange <00> <FF> endcodespacerange\n3 beginbfchar\n<41> <7532>\n<42> <4E59>\n<43> <202E>\nendbfchar\n"+
		"1 beginbfrange\n<20> <40> <0020>\nendbfrange\nendcmap CMapName currentdict /CMap defineresource pop end end\n")))
	obj(stream("/Type/XObject/Subtype/Image/Width 1/Height 1/ColorSpace/DeviceGray/BitsPerComponent 8", []byte{0x80}))
	for _, f := range forms {
		dict := f.dict
		if dict == "" {
			dict = formDict
		}
		dict = "/Type/XObject/Subtype/Form" + refs.Replace(strings.ReplaceAll(dict, "{forms}", all))
		data := []byte(f.content)
		if f.flate {
			data, dict = deflate(data), dict+"/Filter/FlateDecode"
		}
		obj(stream(dict, data))
	}
	for i, c := range pages {
		dict := ""
		if z, ok := strings.CutPrefix(c, flatePage); ok {
			c, dict = string(deflate([]byte(z))), "/Filter/FlateDecode"
		}
		var annotRefs []string
		if i < len(annots) {
			for _, a := range annots[i] {
				annotRefs = append(annotRefs, fmt.Sprintf("%d 0 R", next+len(annotObjs)))
				annotObjs = append(annotObjs, "<<"+refs.Replace(a)+">>")
			}
		}
		extra := ""
		if len(annotRefs) > 0 {
			extra = "/Annots[" + strings.Join(annotRefs, " ") + "]"
		}
		obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R/F9 4 0 R>>/XObject<<%s/Im0 6 0 R>>%s>>/Contents %d 0 R%s>>", all, refs.Replace(x.pageRes), 8+nf+2*i, extra))
		obj(stream(dict, []byte(c)))
	}
	for _, a := range annotObjs {
		obj(a)
	}
	for _, o := range x.objs {
		obj(refs.Replace(o))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// flatePage before a page's content in formPDF: the content stream is
// compressed (/FlateDecode).
const flatePage = "\x00flate:"

// pageTexts is every run of text the reader reads on page nr of pdf, top
// to bottom, and the document's read budget after it.
func pageTexts(t *testing.T, pdf []byte, nr int) ([]string, *readBudget) {
	t.Helper()
	d, err := readPDF(pdf)
	if err != nil {
		t.Fatal(err)
	}
	p, glyphs := d.glyphsOf(nr)
	if p == nil {
		t.Fatalf("page %d not read", nr)
	}
	var out []string
	for _, l := range linesOf(p, glyphs) {
		if r, ok := l.raw(DefaultExcerptLimits.LineRunes); ok {
			out = append(out, neutral(r, defaultHidden, DefaultExcerptLimits.LineRunes))
		}
	}
	return out, &d.budget
}

// chain is n forms, form i drawing "level i" 12 points under the one
// before and then form i+1.
func chain(n int) []testForm {
	var fs []testForm
	for i := range n {
		fs = append(fs, testForm{content: fmt.Sprintf("BT /F2 10 Tf 56 %d Td (level %d) Tj ET /Fm%d Do", 800-12*i, i, i+1)})
	}
	return fs
}

// TestExcerptXObjects: text drawn inside form XObjects is read where it
// shows: through nested forms and their /Matrix, with each form's own
// fonts and the page's for a name it does not hold; text a form's
// /Matrix moves off the page, text outside its /BBox, invisible and
// tiny text are not; a form drawing itself is drawn once, a chain of
// forms to formDepth; images are skipped.
func TestExcerptXObjects(t *testing.T) {
	levels := make([]string, defaultReadLimits.formDepth)
	for i := range levels {
		levels[i] = fmt.Sprintf("level %d", i)
	}
	cases := []struct {
		name  string
		pdf   []byte
		pl    []Placement
		lines []string // every run on page 1, top to bottom
		check func(t *testing.T, e *Excerpt)
	}{{
		name: "the title and the seal's line inside a form, bait in the page",
		pdf: formPDF([]string{"BT /F1 9 Tf 56 600 Td (Bait: a harmless form) Tj ET q 1 0 0 1 0 0 cm /Fm0 Do Q"}, testForm{
			content: "BT /F2 16 Tf 56 785 Td (Contract for lot 7) Tj ET BT /F2 12 Tf 56 400 Td (Seal of the supplier: Example Co.) Tj ET"}),
		pl:    []Placement{{Page: 1, XMM: 40, YMM: (841.89-400)/ptPerMM - 1}},
		lines: []string{"Contract for lot 7", "Bait: a harmless form", "Seal of the supplier: Example Co."},
		check: func(t *testing.T, e *Excerpt) {
			if got := strings.Join(e.First.Lines, "|"); got != "Contract for lot 7|Bait: a harmless form|Seal of the supplier: Example Co." || e.First.NoText {
				t.Errorf("first lines %q", got)
			}
			if s := e.Spots[0]; s.NoText || s.Lines[s.Nearest] != "Seal of the supplier: Example Co." || s.DistanceMM != 0 {
				t.Errorf("spot %+v", s)
			}
		},
	}, {
		name: "a keyword inside nested forms, moved and scaled",
		pdf: formPDF([]string{"q 1 0 0 1 100 0 cm /Fm0 Do Q"},
			testForm{dict: "/BBox[0 0 600 900]/Matrix[1 0 0 1 0 -100]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "/Fm1 Do"},
			testForm{dict: "/BBox[0 0 300 450]/Matrix[2 0 0 2 0 0]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 6 Tf 10 400 Td (Sign here: [S]) Tj ET"}),
		pl:    []Placement{{Keyword: "[S]"}},
		lines: []string{"Sign here: [S]"},
		check: func(t *testing.T, e *Excerpt) {
			// (10, 400) in the inner form: ×2, 100 down, 100 right: the
			// run starts at 120 pt, 141.9 pt from the top, 12 pt high.
			s := e.Spots[0]
			w := textWidth("Sign here: [S]", 12)
			x := (120 + w - textWidth("[S]", 12)/2) / ptPerMM
			if s.Page != 1 || math.Abs(s.XMM-x) > 0.1 || math.Abs(s.YMM-(841.89-700-3.6)/ptPerMM) > 0.1 || s.DistanceMM != 0 {
				t.Errorf("spot %+v, want x %.1f mm", s, x)
			}
		},
	}, {
		name: "off the page by a /Matrix, outside a /BBox, invisible, tiny",
		pdf: formPDF([]string{"/Fm0 Do /Fm1 Do /Fm2 Do /Fm3 Do BT /F1 12 Tf 56 100 Td (Shown) Tj ET"},
			testForm{dict: "/BBox[0 0 595.276 841.89]/Matrix[1 0 0 1 700 0]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 12 Tf 56 700 Td (Moved off the page) Tj ET"},
			testForm{dict: "/BBox[0 0 100 100]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 12 Tf 200 200 Td (Clipped away) Tj ET BT /F2 12 Tf 10 50 Td (Inside) Tj ET"},
			testForm{content: "BT /F2 12 Tf 3 Tr 56 600 Td (Invisible) Tj ET"},
			testForm{dict: "/BBox[0 0 595.276 841.89]/Matrix[0.05 0 0 0.05 0 0]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 12 Tf 56 500 Td (Tiny) Tj ET"}),
		lines: []string{"Shown", "Inside"},
	}, {
		name: "a form's own fonts, the page's for a name it does not hold",
		pdf: formPDF([]string{"/Fm0 Do /Fm1 Do"},
			testForm{dict: "/BBox[0 0 595.276 841.89]/Resources<</Font<</F2 3 0 R/F1 4 0 R>>>>",
				content: "BT /F1 12 Tf 56 785 Td (AB) Tj ET BT /F9 12 Tf 56 760 Td (BA and ACB) Tj ET BT /F2 12 Tf 56 740 Td (AB) Tj ET"},
			testForm{dict: "/BBox[0 0 595.276 841.89]", content: "BT /F1 12 Tf 56 700 Td (AB, the page's font) Tj ET"}),
		lines: []string{"甲乙", "乙甲 and 甲[U+202E]乙", "AB", "AB, the page's font"},
	}, {
		name: "a form drawing itself, directly and through another",
		pdf: formPDF([]string{"/Fm0 Do"},
			testForm{dict: "/BBox[0 0 595.276 841.89]/Matrix[1 0 0 1 0 -20]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 12 Tf 56 785 Td (Once) Tj ET /Fm0 Do /Fm1 Do"},
			testForm{content: "BT /F2 12 Tf 56 740 Td (Twice?) Tj ET /Fm0 Do /Fm1 Do"}),
		lines: []string{"Once", "Twice?"},
	}, {
		name:  "a chain of forms deeper than the limit",
		pdf:   formPDF([]string{"/Fm0 Do"}, chain(defaultReadLimits.formDepth+4)...),
		lines: levels,
	}, {
		name:  "an image and a missing name skipped",
		pdf:   formPDF([]string{"/Im0 Do /Nothing Do BT /F1 12 Tf 56 785 Td (After the picture) Tj ET"}),
		lines: []string{"After the picture"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, b := pageTexts(t, c.pdf, 1)
			if strings.Join(got, "|") != strings.Join(c.lines, "|") {
				t.Errorf("page 1 reads %q\n                want %q", got, c.lines)
			}
			// Every glyph read once: as many as the characters of the
			// lines (a form drawn again would add more).
			if c.name == "a form drawing itself, directly and through another" && b.lastGlyphs != len("Once")+len("Twice?") {
				t.Errorf("%d glyphs", b.lastGlyphs)
			}
			e := mustExcerpt(t, c.pdf, c.pl...)
			checkExcerptBounds(t, e)
			if c.check != nil {
				c.check(t, e)
			}
			if again := jsonOf(t, mustExcerpt(t, c.pdf, c.pl...)); again != jsonOf(t, e) {
				t.Errorf("read again: %s", again)
			}
		})
	}
}

// textWidth is s's width in Helvetica at size.
func textWidth(s string, size float64) float64 {
	f := &textFont{coreName: "Helvetica"}
	w := 0.0
	for _, r := range s {
		w += f.width(uint32(r), string(r)) / 1000 * size
	}
	return w
}

// TestExcerptXObjectLimits: a hostile PDF's forms cost what the read
// limits allow and no more. A form drawn again and again stops at the
// page's operators, bytes or glyphs, the page read up to there; a form
// whose content decodes past the page's bytes is not drawn; pages of
// bombs pass the document's limits and the document is refused
// (ErrTooLarge) by ReadExcerpt and by Seal's keyword search alike.
//
// The page's operators are tried at the real limits; the rest at smaller
// ones (a race-detector build reads a few hundred thousand operators a
// second).
func TestExcerptXObjectLimits(t *testing.T) {
	lim := defaultReadLimits
	small := readLimits{formDepth: lim.formDepth, pageOps: 1 << 16, pageBytes: 4 << 20, pageGlyphs: 1 << 16, docOps: 1 << 19, docBytes: 16 << 20, docGlyphs: 1 << 17}
	// A form of 3006 operators and one word, drawn n times.
	heavy := testForm{content: "BT /F2 12 Tf 56 785 Td (bomb) Tj ET " + strings.Repeat("0 0 m 1 1 l S ", 1000)}
	bombPage := func(n int) string {
		return "BT /F1 12 Tf 56 700 Td (before) Tj ET " + strings.Repeat("/Fm0 Do ", n) + "BT /F1 12 Tf 56 600 Td (after) Tj ET"
	}

	t.Run("operators", func(t *testing.T) {
		// 30 million operators unbounded.
		pdf := formPDF([]string{bombPage(10000)}, heavy)
		got, b := pageTexts(t, pdf, 1)
		if strings.Join(got, "|") != "bomb|before" {
			t.Errorf("reads %q", got)
		}
		if b.lastOps != lim.pageOps+1 || b.ops != lim.pageOps || b.over {
			t.Errorf("spent %d operators on the page, %+v", b.lastOps, b)
		}
		e := mustExcerpt(t, pdf, Placement{Page: 1, XMM: 20, YMM: 20})
		if strings.Join(e.First.Lines, "|") != "bomb|before" {
			t.Errorf("excerpt %s", jsonOf(t, e))
		}
	})
	t.Run("bytes", func(t *testing.T) {
		lim := withReadLimits(t, small)
		// 1 MiB of spaces, compressed, drawn 100 times.
		big := testForm{content: "BT /F2 12 Tf 56 785 Td (spaces) Tj ET" + strings.Repeat(" ", 1<<20), flate: true}
		got, b := pageTexts(t, formPDF([]string{strings.Repeat("/Fm0 Do ", 100) + "BT /F1 12 Tf 56 600 Td (after) Tj ET"}, big), 1)
		if strings.Join(got, "|") != "spaces" {
			t.Errorf("reads %q", got)
		}
		// The page's content, the form decoded once, then drawn as many
		// times as the page's bytes allow.
		if b.bytes > lim.pageBytes+2<<20 || b.bytes < lim.pageBytes || b.over {
			t.Errorf("spent %d bytes", b.bytes)
		}
	})
	t.Run("a form that decodes past the page's bytes", func(t *testing.T) {
		lim := withReadLimits(t, small)
		bomb := testForm{content: "BT /F2 12 Tf 56 785 Td (never read) Tj ET" + strings.Repeat(" ", lim.pageBytes), flate: true}
		pdf := formPDF([]string{"/Fm0 Do /Fm0 Do BT /F1 12 Tf 56 600 Td (after) Tj ET"}, bomb)
		if len(pdf) > 1<<20 {
			t.Fatalf("%d bytes", len(pdf))
		}
		got, b := pageTexts(t, pdf, 1)
		if strings.Join(got, "|") != "after" || b.bytes > lim.pageBytes+1<<10 || b.over {
			t.Errorf("reads %q, spent %d bytes", got, b.bytes)
		}
		// Past what the document has left: the document's limit passed.
		d, err := readPDF(pdf)
		if err != nil {
			t.Fatal(err)
		}
		d.budget.bytes = lim.docBytes - 1<<20
		if _, glyphs := d.glyphsOf(1); len(glyphs) != 0 || !d.budget.over {
			t.Errorf("%d glyphs, %+v", len(glyphs), d.budget)
		}
	})
	t.Run("a page's own content that decodes past the page's bytes", func(t *testing.T) {
		lim := withReadLimits(t, small)
		// A compressed page stream of 16 times the page's bytes, and a
		// /Contents array naming it again and again: before, pdfcpu
		// decoded every element whole (up to 512 MiB each).
		bomb := flatePage + "BT /F1 12 Tf 56 785 Td (never read) Tj ET" + strings.Repeat(" ", 16*lim.pageBytes)
		pdf := formPDF([]string{flatePage + "BT /F1 12 Tf 56 600 Td (first) Tj ET", bomb})
		if len(pdf) > 1<<20 {
			t.Fatalf("%d bytes", len(pdf))
		}
		if got, _ := pageTexts(t, pdf, 1); strings.Join(got, "|") != "first" {
			t.Errorf("page 1 reads %q", got)
		}
		d, err := readPDF(pdf)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, glyphs := d.glyphsOf(2); len(glyphs) != 0 || d.budget.bytes < lim.pageBytes || d.budget.over {
			t.Errorf("%d glyphs, %+v", len(glyphs), d.budget)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 12*uint64(lim.pageBytes) {
			t.Errorf("reading the page allocated %d MiB", n>>20)
		}
		// The same stream named by a page's /Contents array 40 times:
		// read up to the page's bytes once, then nothing more.
		arr := bytes.Replace(pdf, []byte("/Contents 10 0 R"), []byte("/Contents["+strings.Repeat("10 0 R ", 40)+"]"), 1)
		if bytes.Equal(arr, pdf) {
			t.Fatal("no /Contents 10 0 R in the test PDF")
		}
		if d, err = readPDF(arr); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&before)
		if _, glyphs := d.glyphsOf(2); len(glyphs) != 0 || d.budget.bytes > 2*lim.pageBytes {
			t.Errorf("%d glyphs, %+v", len(glyphs), d.budget)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 12*uint64(lim.pageBytes) {
			t.Errorf("reading the page allocated %d MiB", n>>20)
		}
	})
	t.Run("glyphs", func(t *testing.T) {
		many := testForm{content: "BT /F2 1.5 Tf 56 785 Td (" + strings.Repeat("x", 10000) + ") Tj ET"}
		pdf := formPDF([]string{"/Fm0 Do " + strings.Repeat("q 1 0 0 1 0 -1 cm /Fm0 Do ", 1000)}, many)
		d, err := readPDF(pdf)
		if err != nil {
			t.Fatal(err)
		}
		d.budget.lim.pageGlyphs = 50000
		if _, glyphs := d.glyphsOf(1); len(glyphs) != 50000 || d.budget.glyphs != 50000 {
			t.Errorf("%d glyphs, spent %d", len(glyphs), d.budget.glyphs)
		}
		d.budget.lim.docGlyphs = 80000
		if _, glyphs := d.glyphsOf(1); len(glyphs) != 80000-50000 || d.budget.glyphs != 80001 || !d.budget.over {
			t.Errorf("%d glyphs, spent %d", len(glyphs), d.budget.glyphs)
		}
		if _, glyphs := d.glyphsOf(1); len(glyphs) != 0 {
			t.Errorf("read past the document's limit: %d glyphs", len(glyphs))
		}
	})
	t.Run("pages of bombs: the document refused", func(t *testing.T) {
		lim := withReadLimits(t, small)
		// Pages of 3 million operators unbounded, each read to the
		// page's limit: one more page than the document's allow.
		pages := make([]string, lim.docOps/lim.pageOps+1)
		for i := range pages {
			pages[i] = bombPage(1000)
		}
		pages[len(pages)-1] += " BT /F1 12 Tf 56 500 Td (SEAL) Tj ET"
		pdf := formPDF(pages, heavy)
		// Page 1 and a spot on page 2 are read.
		if e := mustExcerpt(t, pdf, Placement{Page: 2, XMM: 20, YMM: 20}); strings.Join(e.First.Lines, "|") != "bomb|before" {
			t.Errorf("excerpt %s", jsonOf(t, e))
		}
		// A keyword: every page.
		if _, err := ReadExcerpt(pdf, []Placement{{Keyword: "SEAL"}}, nil); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("(%d operators, %d MiB, %d characters", lim.docOps, lim.docBytes>>20, lim.docGlyphs)) {
			t.Errorf("excerpt of every page: %v", err)
		}
		p := newPKI(t, "SM2")
		if _, err := Seal(pdf, sealOptions(t, p, Placement{Keyword: "SEAL"})); !errors.Is(err, ErrTooLarge) {
			t.Errorf("seal: %v", err)
		}
		if _, err := Sketches(pdf, []SketchPage{{Page: 1}}, nil); err != nil {
			t.Errorf("a sketch of page 1: %v", err)
		}
	})
}

// withReadLimits makes lim the read limits of the documents read until t
// ends (tests of this package do not run in parallel).
func withReadLimits(t *testing.T, lim readLimits) readLimits {
	saved := defaultReadLimits
	defaultReadLimits = lim
	t.Cleanup(func() { defaultReadLimits = saved })
	return lim
}

// TestExcerptXObjectsWherePopplerSees: what the reader reads through form
// XObjects is what poppler's pdftotext reads, at the same place.
func TestExcerptXObjectsWherePopplerSees(t *testing.T) {
	pdf := UnicodeFormPDF(contract())
	for nr := 1; nr <= 2; nr++ {
		txt, err := runTool(t, "pdftotext", "-f", strconv.Itoa(nr), "-l", strconv.Itoa(nr), writeTemp(t, "c.pdf", pdf), "-")
		if err != nil {
			t.Fatal(err)
		}
		var poppler []string
		for _, l := range strings.Split(txt, "\n") {
			if l = strings.TrimSpace(strings.Trim(l, "\f")); l != "" {
				poppler = append(poppler, l)
			}
		}
		ours, _ := pageTexts(t, pdf, nr)
		if len(ours) == 0 || strings.Join(ours, "|") != strings.Join(poppler, "|") {
			t.Errorf("page %d: we read %q, poppler %q", nr, ours, poppler)
		}
	}
	// The nested, moved and scaled form: poppler's word box and ours.
	nested := formPDF([]string{"q 1 0 0 1 100 0 cm /Fm0 Do Q"},
		testForm{dict: "/BBox[0 0 600 900]/Matrix[1 0 0 1 0 -100]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "/Fm1 Do"},
		testForm{dict: "/BBox[0 0 300 450]/Matrix[2 0 0 2 0 0]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 6 Tf 10 400 Td (Nested) Tj ET"})
	out, err := runTool(t, "pdftotext", "-bbox", writeTemp(t, "n.pdf", nested), "-")
	if err != nil {
		t.Fatal(err)
	}
	x0, x1, y1 := popplerWord(t, out, ">Nested<")
	if x1 == 0 {
		t.Fatalf("poppler does not read the nested form:\n%s", out)
	}
	d, _ := readPDF(nested)
	p, glyphs := d.glyphsOf(1)
	lines := linesOf(p, glyphs)
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	l := lines[0]
	// poppler's box runs from the font's descent; ours from the baseline.
	if math.Abs(l.x0-x0) > 0.5 || math.Abs(l.x1-x1) > 0.5 || math.Abs(l.base-y1) > 0.25*l.size || l.size != 12 {
		t.Errorf("ours %.1f..%.1f, baseline %.1f, %g pt; poppler's %.1f..%.1f, bottom %.1f", l.x0, l.x1, l.base, l.size, x0, x1, y1)
	}
}

// TestSketchesXObjects: a page whose text is inside form XObjects reads,
// sketches and takes a keyword's seal exactly as the same page drawn
// directly; the sketch draws a nested, scaled form's text where it
// shows.
func TestSketchesXObjects(t *testing.T) {
	direct, inForms := UnicodePDF(contract()), UnicodeFormPDF(contract())
	pl := []Placement{{Keyword: "乙方（盖章）"}, {Page: 1, XMM: 30, YMM: lineY(1)}}
	e := mustExcerpt(t, inForms, pl...)
	if got, want := jsonOf(t, e), jsonOf(t, mustExcerpt(t, direct, pl...)); got != want || e.First.NoText || len(e.Spots) != 2 {
		t.Errorf("excerpt in forms\n got %s\nwant %s", got, want)
	}
	pages := []SketchPage{{Page: 2, Seals: []SketchSeal{{XMM: e.Spots[0].XMM, YMM: e.Spots[0].YMM, WidthMM: 40, HeightMM: 40}}}, {Page: 1}}
	got, err := Sketches(inForms, pages, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Sketches(direct, pages, nil)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(parseSVG(t, got[0]).Texts) != 5 {
		t.Errorf("sketches in forms\n got %q\nwant %q", got, want)
	}
	// Seal puts the keyword's seal at the same place.
	o := &Options{WidthMM: 40, HeightMM: 40, Placements: pl[:1]}
	var rects [2][]widget
	for i, pdf := range [][]byte{direct, inForms} {
		d, err := readPDF(pdf)
		if err != nil {
			t.Fatal(err)
		}
		if rects[i], err = d.widgets(o); err != nil {
			t.Fatal(err)
		}
	}
	if len(rects[1]) != 1 || rects[1][0].page.nr != 2 || rects[1][0].rect != rects[0][0].rect {
		t.Errorf("the keyword's seal in forms %+v, drawn directly %+v", rects[1], rects[0])
	}

	nested := formPDF([]string{"q 1 0 0 1 100 0 cm /Fm0 Do Q"},
		testForm{dict: "/BBox[0 0 600 900]/Matrix[1 0 0 1 0 -100]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "/Fm1 Do"},
		testForm{dict: "/BBox[0 0 300 450]/Matrix[2 0 0 2 0 0]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 6 Tf 10 400 Td (Nested) Tj ET"})
	svg, err := Sketches(nested, []SketchPage{{Page: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if doc := parseSVG(t, svg[0]); len(doc.Texts) != 1 || doc.Texts[0].X != "120.0" || doc.Texts[0].Y != "141.9" || doc.Texts[0].Size != "12.0" || doc.Texts[0].Text != "Nested" {
		t.Errorf("nested form's text drawn at %+v", doc.Texts)
	}
}

// TestReadLimitsDocumented: the threat model and protocol.md state the
// reader's limits as they are.
func TestReadLimitsDocumented(t *testing.T) {
	l := defaultReadLimits
	n := func(v int) string { // 1048576 as 1,048,576
		s := strconv.Itoa(v)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	want := map[string][]string{
		"../docs/threat-model.md": {
			fmt.Sprintf("nested up to %d deep", l.formDepth),
			fmt.Sprintf("a page is read up to %s operators, %d MiB of content and %s characters", n(l.pageOps), l.pageBytes>>20, n(l.pageGlyphs)),
			fmt.Sprintf("a document up to %s operators, %d MiB and %s characters", n(l.docOps), l.docBytes>>20, n(l.docGlyphs)),
			fmt.Sprintf("decodes past %d MiB is not drawn", l.pageBytes>>20),
		},
		"../docs/protocol.md": {
			fmt.Sprintf("nested up to %d deep", l.formDepth),
			fmt.Sprintf("(%s operators, %d MiB or %s characters in all", n(l.docOps), l.docBytes>>20, n(l.docGlyphs)),
		},
	}
	for file, phrases := range want {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(b)), " ") // lines joined
		for _, p := range phrases {
			if !strings.Contains(text, p) {
				t.Errorf("%s does not say %q", file, p)
			}
		}
	}
}
