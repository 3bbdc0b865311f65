package seal

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pageRuns is every run of text the reader reads on page 1 of pdf, top
// to bottom, an annotation's marked "@", and the document's read budget
// after it.
func pageRuns(t *testing.T, pdf []byte) ([]string, *readBudget) {
	t.Helper()
	d, err := readPDF(pdf)
	if err != nil {
		t.Fatal(err)
	}
	p, glyphs := d.glyphsOf(1)
	if p == nil {
		t.Fatal("page 1 not read")
	}
	var out []string
	for _, l := range linesOf(p, glyphs) {
		if r, ok := l.raw(DefaultExcerptLimits.LineRunes); ok {
			s := neutral(r, defaultHidden, DefaultExcerptLimits.LineRunes)
			if l.annot {
				s = "@" + s
			}
			out = append(out, s)
		}
	}
	return out, &d.budget
}

// appearance is a form of 100 × 20 points drawing text at (10, 5) in
// Helvetica 10 pt, with extra dictionary entries (a /Matrix).
func appearance(text, extra string) testForm {
	return testForm{dict: "/BBox[0 0 100 20]" + extra + "/Resources<</Font<</F2 3 0 R>>/XObject<<{forms}>>>>",
		content: fmt.Sprintf("BT /F2 10 Tf 10 5 Td (%s) Tj ET", text)}
}

// hiddenAnnots are annotations a viewer draws or not, with hiddenForms
// as their appearances: each shows its own name.
var (
	hiddenAnnots = []string{
		"/Type/Annot/Subtype/FreeText/F 2/Rect[56 700 156 720]/AP<</N {Fm0}>>",
		"/Type/Annot/Subtype/Stamp/F 32/Rect[56 680 156 700]/AP<</N {Fm1}>>",
		"/Type/Annot/Subtype/Foo/F 1/Rect[56 660 156 680]/AP<</N {Fm2}>>",
		"/Type/Annot/Subtype/Popup/Rect[56 640 156 660]/AP<</N {Fm3}>>",
		"/Type/Annot/Subtype/Text/Rect[56 620 156 640]/Contents(A note nobody draws)",
		"/Type/Annot/Subtype/Stamp/F 1/Rect[56 600 156 620]/AP<</N {Fm4}>>",
		"/Type/Annot/Subtype/Stamp/Rect[56 560 156 560]/AP<</N {Fm5}>>",
	}
	hiddenForms = []testForm{appearance("Hidden", ""), appearance("No view", ""), appearance("Unknown, invisible", ""),
		appearance("Popup", ""), appearance("Stamp, invisible", ""), appearance("No size", "")}
)

// TestExcerptAnnotations: the annotations a viewer draws are read from
// their appearance, where it shows (its /BBox by its /Matrix onto
// /Rect), marked as an annotation's, and apart from the page's runs;
// the state /AS names is drawn, not the others; hidden and
// appearance-less annotations are not read; an appearance drawing
// itself is drawn once, a chain of forms to formDepth.
func TestExcerptAnnotations(t *testing.T) {
	page := "BT /F1 12 Tf 56 300 Td (Contract for lot 7) Tj ET"
	var levels []string
	for i := range defaultReadLimits.formDepth {
		levels = append(levels, fmt.Sprintf("@level %d", i))
	}
	levels = append(levels, "Contract for lot 7")
	cases := []struct {
		name   string
		annots []string
		forms  []testForm
		runs   []string
		check  func(t *testing.T, e *Excerpt)
	}{{
		name:   "a stamp's words",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[56 740 256 780]/AP<</N {Fm0}>>"},
		forms:  []testForm{appearance("PAID IN FULL", "")},
		runs:   []string{"@PAID IN FULL", "Contract for lot 7"},
		check: func(t *testing.T, e *Excerpt) {
			if !slices.Equal(e.First.Lines, []string{"PAID IN FULL", "Contract for lot 7"}) || !slices.Equal(e.First.Annotations, []int{0}) {
				t.Errorf("first lines %s", jsonOf(t, e.First))
			}
			// The stamp doubles its 100 × 20 box onto 200 × 40: its
			// text starts at 56 + 2·10, its baseline at 740 + 2·5, 20 pt.
			s := e.Spots[0]
			w := textWidth("PAID IN FULL", 20)
			if s.NotFound || math.Abs(s.XMM-(76+w/2)/ptPerMM) > 0.1 || math.Abs(s.YMM-(841.89-750-6)/ptPerMM) > 0.1 {
				t.Errorf("keyword at %+v, want x %.1f mm", s, (76+w/2)/ptPerMM)
			}
			if len(s.Lines) == 0 || s.Lines[s.Nearest] != "PAID IN FULL" || !slices.Contains(s.Annotations, s.Nearest) {
				t.Errorf("spot %s", jsonOf(t, s))
			}
		},
	}, {
		name: "the state /AS names among the appearances",
		annots: []string{"/Type/Annot/Subtype/Widget/FT/Btn/T(agree)/Rect[56 700 156 720]/AS/Off/AP<</N<</On {Fm0}/Off {Fm1}>>/D<</On {Fm2}/Off {Fm2}>>>>",
			"/Type/Annot/Subtype/Widget/FT/Btn/T(other)/Rect[56 600 156 620]/AP<</N<</On {Fm0}/Off {Fm1}>>>>"},
		forms: []testForm{appearance("On: I agree", ""), appearance("Off: not agreed", ""), appearance("Down", "")},
		runs:  []string{"@Off: not agreed", "Contract for lot 7"},
	}, {
		name:   "hidden, no view, no appearance, no size; a popup's and an unknown kind's drawn as poppler does",
		annots: hiddenAnnots,
		forms:  hiddenForms,
		runs:   []string{"@Unknown, invisible", "@Popup", "@Stamp, invisible", "Contract for lot 7"},
	}, {
		name:   "an appearance scaled and moved by its /Matrix onto its /Rect",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[300 600 400 620]/AP<</N {Fm0}>>"},
		// Its box doubled and moved to [30 40 230 80], halved onto the
		// Rect: (10, 5) → (50, 50) → (310, 605), 10 pt.
		forms: []testForm{appearance("SCALED", "/Matrix[2 0 0 2 30 40]")},
		runs:  []string{"@SCALED", "Contract for lot 7"},
		check: func(t *testing.T, e *Excerpt) {
			s := e.Spots[0]
			if x := (310 + textWidth("SCALED", 10)/2) / ptPerMM; math.Abs(s.XMM-x) > 0.1 || math.Abs(s.YMM-(841.89-608)/ptPerMM) > 0.1 || s.DistanceMM != 0 {
				t.Errorf("keyword at %+v, want x %.1f mm", s, x)
			}
		},
	}, {
		name:   "a stamp at 30°, read along its line",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[300 500 396.6 567.3]/AP<</N {Fm0}>>"},
		forms:  []testForm{appearance("APPROVED 7", "/Matrix[0.866 0.5 -0.5 0.866 0 0]")},
		runs:   []string{"@APPROVED 7", "Contract for lot 7"},
	}, {
		name:   "a stamp upside down, read as drawn",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[300 400 400 420]/AP<</N {Fm0}>>"},
		forms:  []testForm{appearance("ROTATED", "/Matrix[-1 0 0 -1 0 0]")},
		runs:   []string{"@ROTATED", "Contract for lot 7"},
	}, {
		name:   "an appearance drawing itself",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[56 600 156 620]/AP<</N {Fm0}>>"},
		forms:  []testForm{{dict: "/BBox[0 0 100 20]/Resources<</Font<</F2 3 0 R>>/XObject<<{forms}>>>>", content: "BT /F2 10 Tf 10 5 Td (Once) Tj ET /Fm0 Do"}},
		runs:   []string{"@Once", "Contract for lot 7"},
	}, {
		name:   "an appearance drawing a chain of forms deeper than the limit",
		annots: []string{"/Type/Annot/Subtype/Stamp/Rect[0 0 595.276 841.89]/AP<</N {Fm0}>>"},
		forms:  chain(defaultReadLimits.formDepth + 4),
		runs:   levels,
	}, {
		name:   "an appearance without /Subtype, a page font for a name it lacks",
		annots: []string{"/Type/Annot/Subtype/FreeText/Rect[56 600 156 620]/AP<</N {Fm0}>>"},
		forms:  []testForm{{dict: "/BBox[0 0 100 20]", content: "BT /F9 10 Tf 10 5 Td (AB) Tj ET"}},
		runs:   []string{"@甲乙", "Contract for lot 7"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pdf := annotPDF([]string{page}, [][]string{c.annots}, c.forms...)
			if c.name == "an appearance without /Subtype, a page font for a name it lacks" {
				pdf = []byte(strings.Replace(string(pdf), "/Type/XObject/Subtype/Form/BBox[0 0 100 20]", "/BBox[0 0 100 20]                        ", 1))
			}
			got, b := pageRuns(t, pdf)
			if !slices.Equal(got, c.runs) {
				t.Errorf("page 1 reads %q\n                want %q", got, c.runs)
			}
			if c.name == "an appearance drawing itself" && b.lastGlyphs != len("Contract for lot 7Once") {
				t.Errorf("%d glyphs", b.lastGlyphs)
			}
			pl := []Placement{{Keyword: strings.TrimPrefix(c.runs[0], "@")}}
			e := mustExcerpt(t, pdf, pl...)
			checkExcerptBounds(t, e)
			if c.check != nil {
				c.check(t, e)
			}
		})
	}
}

// TestExcerptAnnotationMatrix: an appearance whose /Matrix turns it a
// quarter is drawn where PDF 32000-1 12.5.5 puts it: each glyph at its
// place on the page (the text runs up), and its size.
func TestExcerptAnnotationMatrix(t *testing.T) {
	// Box [0 0 100 20] turned a quarter: [-20 0 0 100], moved onto the
	// Rect [300 300 320 400] (the same size). (10, 5) → (-5, 10) →
	// (315, 310), the text running up.
	pdf := annotPDF([]string{""}, [][]string{{"/Type/Annot/Subtype/Stamp/Rect[300 300 320 400]/AP<</N {Fm0}>>"}},
		appearance("UP", "/Matrix[0 1 -1 0 0 0]"))
	d, err := readPDF(pdf)
	if err != nil {
		t.Fatal(err)
	}
	_, glyphs := d.glyphsOf(1)
	if len(glyphs) != 2 || glyphs[0].text != "U" {
		t.Fatalf("glyphs %+v", glyphs)
	}
	g := glyphs[0]
	wU := textWidth("U", 10)
	if math.Abs(g.x-315) > 1e-9 || math.Abs(g.y-310) > 1e-9 || math.Abs(g.xEnd-315) > 1e-9 || math.Abs(g.yEnd-(310+wU)) > 1e-9 || g.size != 10 || !g.annot || g.invisible {
		t.Errorf("U at %+v", g)
	}
}

// TestExcerptAnnotationLimits: annotations cost what the read limits
// allow and no more: each is counted, each drawing of an appearance
// counts as a form's, a page of many stops at the page's limit and
// pages of them pass the document's (ErrTooLarge), for the excerpt and
// Seal's keyword search alike.
func TestExcerptAnnotationLimits(t *testing.T) {
	lim := withReadLimits(t, readLimits{formDepth: defaultReadLimits.formDepth, pageOps: 1 << 12, pageBytes: 4 << 20, pageGlyphs: 1 << 12, docOps: 1 << 14, docBytes: 16 << 20, docGlyphs: 1 << 14})
	heavy := testForm{dict: "/BBox[0 0 100 20]/Resources<</Font<</F2 3 0 R>>>>", content: "BT /F2 10 Tf 10 5 Td (bomb) Tj ET " + strings.Repeat("0 0 m 1 1 l S ", 100)}
	// 2000 annotations drawing the same heavy appearance: 200,000
	// operators unbounded.
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("/Type/Annot/Subtype/Stamp/Rect[56 %d 156 %d]/AP<</N {Fm0}>>", 800-i%700, 820-i%700)
		}
		return out
	}
	pdf := annotPDF([]string{"BT /F1 12 Tf 56 500 Td (page) Tj ET"}, [][]string{many(2000)}, heavy)
	got, b := pageRuns(t, pdf)
	if len(got) == 0 || b.lastOps != lim.pageOps+1 || b.over || b.ops > lim.pageOps+2000 {
		t.Errorf("reads %d runs, spent %d operators on the page, %+v", len(got), b.lastOps, b)
	}
	if !slices.Contains(got, "page") {
		t.Errorf("the page's own text not read: %q", got)
	}
	// Empty appearances: each annotation still counts.
	empty := testForm{dict: "/BBox[0 0 100 20]"}
	pages := make([]string, 5)
	annots := make([][]string, 5)
	for i := range pages {
		annots[i] = many(lim.docOps / 4)
	}
	pages[4] = "BT /F1 12 Tf 56 500 Td (SEAL) Tj ET"
	pdf = annotPDF(pages, annots, empty)
	if _, err := ReadExcerpt(pdf, []Placement{{Keyword: "SEAL"}}, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("excerpt of every page: %v", err)
	}
	if _, err := ReadExcerpt(pdf, []Placement{{Page: 1, XMM: 20, YMM: 20}}, nil); err != nil {
		t.Errorf("excerpt of page 1: %v", err)
	}
	p := newPKI(t, "SM2")
	if _, err := Seal(pdf, sealOptions(t, p, Placement{Keyword: "SEAL"})); !errors.Is(err, ErrTooLarge) {
		t.Errorf("seal: %v", err)
	}
	// Pages of heavy appearances: the document's operators.
	pdf = annotPDF([]string{"", "", "", "", "", "BT /F1 12 Tf 56 500 Td (SEAL) Tj ET"}, [][]string{many(200), many(200), many(200), many(200), many(200)}, heavy)
	if _, err := ReadExcerpt(pdf, []Placement{{Keyword: "SEAL"}}, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("excerpt of heavy pages: %v", err)
	}
}

// TestExcerptAnnotationsWherePopplerSees: the words the reader reads on
// a page of annotations are those poppler's pdftotext reads (it draws
// their appearances), at the same places.
func TestExcerptAnnotationsWherePopplerSees(t *testing.T) {
	annots := append(slices.Clone(hiddenAnnots),
		"/Type/Annot/Subtype/Stamp/Rect[56 740 256 780]/AP<</N {Fm6}>>",
		"/Type/Annot/Subtype/Widget/FT/Btn/T(agree)/Rect[300 450 400 470]/AS/Off/AP<</N<</On {Fm7}/Off {Fm8}>>>>",
		"/Type/Annot/Subtype/Stamp/Rect[300 600 400 620]/AP<</N {Fm9}>>")
	forms := append(slices.Clone(hiddenForms), appearance("PAID IN FULL", ""), appearance("Agreed", ""), appearance("Refused", ""),
		appearance("SCALED", "/Matrix[2 0 0 2 30 40]"))
	pdf := annotPDF([]string{"BT /F1 12 Tf 56 300 Td (Contract for lot 7) Tj ET"}, [][]string{annots}, forms...)
	out, err := runTool(t, "pdftotext", "-bbox", writeTemp(t, "a.pdf", pdf), "-")
	if err != nil {
		t.Fatal(err)
	}
	var poppler []string
	for _, l := range strings.Split(out, "\n") {
		if _, w, ok := strings.Cut(l, "<word "); ok {
			_, w, _ = strings.Cut(w, ">")
			w, _, _ = strings.Cut(w, "<")
			poppler = append(poppler, w)
		}
	}
	runs, _ := pageRuns(t, pdf)
	var ours []string
	for _, r := range runs {
		ours = append(ours, strings.Fields(strings.TrimPrefix(r, "@"))...)
	}
	slices.Sort(ours)
	slices.Sort(poppler)
	if len(ours) == 0 || !slices.Equal(ours, poppler) {
		t.Errorf("we read %q, poppler %q", ours, poppler)
	}
	d, _ := readPDF(pdf)
	p, glyphs := d.glyphsOf(1)
	for _, l := range linesOf(p, glyphs) {
		raw, _ := l.raw(64)
		first, _, _ := strings.Cut(raw.text, " ")
		x0, _, y1 := popplerWord(t, out, ">"+first+"<")
		// poppler's box runs from the font's descent; ours from the
		// baseline.
		if math.Abs(l.x0-x0) > 0.5 || math.Abs(l.base-y1) > 0.25*l.size {
			t.Errorf("%q: ours from %.1f, baseline %.1f; poppler's from %.1f, bottom %.1f", raw.text, l.x0, l.base, x0, y1)
		}
	}
}

// TestSketchesAnnotations: a sketch draws a stamp's words where the
// stamp shows them, at their size, in blue and boxed; the page's own
// words as before, and nothing of a hidden annotation.
func TestSketchesAnnotations(t *testing.T) {
	pdf := annotPDF([]string{"BT /F1 12 Tf 56 300 Td (Contract for lot 7) Tj ET"},
		[][]string{{"/Type/Annot/Subtype/Stamp/Rect[56 740 256 780]/AP<</N {Fm0}>>", "/Type/Annot/Subtype/FreeText/F 2/Rect[56 600 156 620]/AP<</N {Fm1}>>"}},
		appearance("PAID IN FULL", ""), appearance("Hidden", ""))
	svg, err := Sketches(pdf, []SketchPage{{Page: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, svg[0])
	if len(doc.Texts) != 2 {
		t.Fatalf("texts %+v", doc.Texts)
	}
	// The stamp: 2 × (10, 5) onto (56, 740), 20 pt; its run's box 2
	// points around it (from 0.8 × 20 above the baseline to 0.2 × 20
	// below).
	if s := doc.Texts[0]; s.Text != "PAID IN FULL" || s.X != "76.0" || s.Y != "91.9" || s.Size != "20.0" {
		t.Errorf("stamp drawn at %+v", s)
	}
	end := strings.Index(svg[0], ">PAID IN FULL</text>")
	stamp := svg[0][strings.LastIndex(svg[0][:max(end, 0)], "<text")+1 : max(end, 0)]
	if end < 0 || !strings.Contains(stamp, `fill="#1d4ed8" data-annot="1"`) || strings.Count(svg[0], `data-annot="1"`) != 2 {
		t.Errorf("the stamp's words are not the only blue ones:\n%s", svg[0])
	}
	var boxes []map[string]string
	for _, r := range doc.Rects {
		if r["data-annot"] == "1" {
			boxes = append(boxes, r)
		}
	}
	w := textWidth("PAID IN FULL", 20)
	if len(boxes) != 1 || boxes[0]["x"] != "74.0" || boxes[0]["y"] != "73.9" || boxes[0]["width"] != strconv.FormatFloat(w+4, 'f', 1, 64) || boxes[0]["height"] != "24.0" {
		t.Errorf("boxes %v, want 74.0 73.9 %.1f 24.0", boxes, w+4)
	}
}

// TestUnicodeStampPDF: the stamp of UnicodeStampPDF is read as an
// annotation's run just above lines[6] of its page, where poppler reads
// it, and the rest of the page as UnicodeFormPDF's.
func TestUnicodeStampPDF(t *testing.T) {
	pdf := UnicodeStampPDF(contract(), 2, "已付清 PAID")
	e := mustExcerpt(t, pdf, Placement{Keyword: "乙方（盖章）"})
	if s := e.Spots[0]; !slices.Equal(s.Lines, []string{"已付清 PAID", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日"}) || !slices.Equal(s.Annotations, []int{0}) || s.Nearest != 1 {
		t.Errorf("spot %s", jsonOf(t, s))
	}
	plain := mustExcerpt(t, UnicodeFormPDF(contract()), Placement{Keyword: "乙方（盖章）"})
	if e.Spots[0].XMM != plain.Spots[0].XMM || e.Spots[0].YMM != plain.Spots[0].YMM || jsonOf(t, e.First) != jsonOf(t, plain.First) {
		t.Errorf("stamped %s\n  plain %s", jsonOf(t, e), jsonOf(t, plain))
	}
	out, err := runTool(t, "pdftotext", "-f", "2", "-l", "2", "-bbox", writeTemp(t, "s.pdf", pdf), "-")
	if err != nil {
		t.Fatal(err)
	}
	x0, x1, y1 := popplerWord(t, out, ">PAID<")
	d, _ := readPDF(pdf)
	p, glyphs := d.glyphsOf(2)
	var stamp []textLine
	for _, l := range linesOf(p, glyphs) {
		if l.annot {
			stamp = append(stamp, l)
		}
	}
	if len(stamp) != 1 || math.Abs(stamp[0].x1-x1) > 0.5 || math.Abs(stamp[0].base-y1) > 0.25*stamp[0].size || stamp[0].size != 16 || x0 == 0 {
		t.Errorf("stamp %+v; poppler's PAID %.1f..%.1f, bottom %.1f", stamp, x0, x1, y1)
	}
}

// TestSketchesSlanted: text at an angle (a stamp at 30°, words running
// up the margin) is one run, drawn turned about its start where it
// starts, as long as it is; poppler reads the same words.
func TestSketchesSlanted(t *testing.T) {
	pdf := annotPDF([]string{"BT /F1 12 Tf 0 1 -1 0 40 300 Tm (Up the margin) Tj ET"},
		[][]string{{"/Type/Annot/Subtype/Stamp/Rect[300 500 396.6 567.3]/AP<</N {Fm0}>>"}},
		appearance("APPROVED 7", "/Matrix[0.866 0.5 -0.5 0.866 0 0]"))
	runs, _ := pageRuns(t, pdf)
	if !slices.Equal(runs, []string{"@APPROVED 7", "Up the margin"}) {
		t.Errorf("runs %q", runs)
	}
	svg, err := Sketches(pdf, []SketchPage{{Page: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The stamp's (10, 5) turned 30° and moved by (10, 0): (16.2, 9.3)
	// → (316.2, 509.3), 332.6 from the top; the margin's run starts at
	// (40, 300), 541.9 from the top, and runs up (-90°).
	w, wm := textWidth("APPROVED 7", 10), textWidth("Up the margin", 12)
	for _, want := range []string{
		fmt.Sprintf(`<text x="316.2" y="332.6" font-size="10.0" transform="rotate(-30.0 316.2 332.6)" fill="#1d4ed8" data-annot="1" textLength="%.1f"`, w),
		fmt.Sprintf(`<text x="40.0" y="541.9" font-size="12.0" transform="rotate(-90.0 40.0 541.9)" textLength="%.1f"`, wm),
	} {
		if !strings.Contains(svg[0], want) {
			t.Errorf("no %s in\n%s", want, svg[0])
		}
	}
	out, err := runTool(t, "pdftotext", "-raw", writeTemp(t, "s.pdf", pdf), "-")
	if err != nil {
		t.Fatal(err)
	}
	// poppler's plain reading breaks text at 30° apart; its raw reading
	// (in the order drawn) does not.
	var ours []string
	for _, r := range runs {
		ours = append(ours, strings.Fields(strings.TrimPrefix(r, "@"))...)
	}
	theirs := strings.Fields(out)
	slices.Sort(ours)
	slices.Sort(theirs)
	if !slices.Equal(ours, theirs) {
		t.Errorf("we read %q, poppler %q", ours, theirs)
	}
}
