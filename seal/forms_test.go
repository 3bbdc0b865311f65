package seal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// needAppearances is the catalog entry of a document whose AcroForm asks
// viewers to make its fields' appearances.
const needAppearances = "/AcroForm<</Fields[]/NeedAppearances true/DA(/Helv 0 Tf 0 g)>>"

// utf16Hex is s as a UTF-16BE text string with its byte order mark, in
// hex.
func utf16Hex(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return b.String() + ">"
}

// fieldCase is a page of one widget of 200 × 20 points, its stored
// appearance "Stored text", in a document with catalog entries catalog
// and objects objs ({X0} …), and what the reader reads on it.
type fieldCase struct {
	name        string
	catalog     string
	widget      string
	objs        []string
	runs        []string
	viewerForms bool
	// notPoppler: why poppler reads otherwise ("": it reads runs).
	notPoppler string
}

var fieldCases = []fieldCase{{
	name:    "a text field's value, not its stale appearance",
	catalog: needAppearances,
	widget:  "/FT/Tx/T(price)/V(Value shown 90)/DA(/Helv 10 Tf 0 g)",
	runs:    []string{"@Value shown 90", "Contract for lot 7"},
}, {
	name:   "the stored appearance where the form does not need appearances",
	widget: "/FT/Tx/T(price)/V(Value shown 90)",
	runs:   []string{"@Stored text", "Contract for lot 7"},
}, {
	name:    "/NeedAppearances false",
	catalog: "/AcroForm<</Fields[]/NeedAppearances false>>",
	widget:  "/FT/Tx/T(price)/V(Value shown 90)",
	runs:    []string{"@Stored text", "Contract for lot 7"},
}, {
	name:    "type and value inherited from the parent field",
	catalog: needAppearances,
	widget:  "/Parent {X1}",
	objs:    []string{"<</FT/Tx/V(Grandparent value)/DA(/Helv 9 Tf 0 g)>>", "<</T(child)/Parent {X0}/Kids[]>>"},
	runs:    []string{"@Grandparent value", "Contract for lot 7"},
}, {
	name:    "no value: an empty field",
	catalog: needAppearances,
	widget:  "/FT/Tx/T(price)",
	runs:    []string{"Contract for lot 7"},
}, {
	name:    "a Chinese value, centred",
	catalog: needAppearances,
	widget:  "/FT/Tx/T(party)/Q 1/V" + utf16Hex("乙方：某某建设有限公司"),
	runs:    []string{"@乙方：某某建设有限公司", "Contract for lot 7"},
	// A viewer with a Chinese font shows it.
	notPoppler: "poppler finds no font for it in the test's resources",
}, {
	name:    "a multiline value",
	catalog: needAppearances,
	widget:  "/FT/Tx/Ff 4096/T(note)/DA(/Helv 6 Tf 0 g)/V(First line\\nSecond line)",
	runs:    []string{"@First line", "@Second line", "Contract for lot 7"},
}, {
	name:    "a choice field's display text for its export value",
	catalog: needAppearances,
	widget:  "/FT/Ch/Ff 131072/T(lot)/Opt[[(l7)(Lot 7 roads)][(l8)(Lot 8 bridges)]]/V(l8)",
	runs:    []string{"@Lot 8 bridges", "Contract for lot 7"},
}, {
	name:       "a list's selected values",
	catalog:    needAppearances,
	widget:     "/FT/Ch/Ff 2097152/T(lots)/DA(/Helv 6 Tf 0 g)/Opt[(Roads)(Bridges)(Tunnels)]/V[(Roads)(Tunnels)]",
	runs:       []string{"@Roads", "@Tunnels", "Contract for lot 7"},
	notPoppler: "poppler draws every option of a list, the selected ones highlighted",
}, {
	name:       "a check box keeps the state /AS names",
	catalog:    needAppearances,
	widget:     "/FT/Btn/T(agree)/V/Off",
	runs:       []string{"@Stored text", "Contract for lot 7"},
	notPoppler: "poppler draws its own mark for the state",
}, {
	name:        "rich text: the plain value, marked",
	catalog:     needAppearances,
	widget:      "/FT/Tx/T(price)/V(Plain value)/RV(<body><p>Rich value</p></body>)",
	runs:        []string{"@Plain value", "Contract for lot 7"},
	viewerForms: true,
}, {
	name:        "a comb field, marked",
	catalog:     needAppearances,
	widget:      "/FT/Tx/Ff 16777216/MaxLen 8/T(code)/V(ZC2026)",
	runs:        []string{"@ZC2026", "Contract for lot 7"},
	viewerForms: true,
	notPoppler:  "poppler spaces the characters into cells",
}, {
	name:        "a password field: dots, not read, marked",
	catalog:     needAppearances,
	widget:      "/FT/Tx/Ff 8192/T(pw)/V(secret)",
	runs:        []string{"Contract for lot 7"},
	viewerForms: true,
	notPoppler:  "poppler shows an asterisk for each character",
}, {
	name:        "a value longer than /MaxLen, marked",
	catalog:     needAppearances,
	widget:      "/FT/Tx/MaxLen 3/T(code)/V(ABCDEF)",
	runs:        []string{"@ABCDEF", "Contract for lot 7"},
	viewerForms: true,
}, {
	name:        "a value that is a stream: not read, marked",
	catalog:     needAppearances,
	widget:      "/FT/Tx/T(price)/V {X0}",
	objs:        []string{"<</Length 11>>\nstream\nStream text\nendstream"},
	runs:        []string{"Contract for lot 7"},
	viewerForms: true,
}, {
	name:    "a hidden field stays hidden",
	catalog: needAppearances,
	widget:  "/FT/Tx/F 2/T(price)/V(Value shown 90)",
	runs:    []string{"Contract for lot 7"},
}}

// fieldPDF is c's document.
func fieldPDF(c fieldCase) []byte {
	widget := "/Type/Annot/Subtype/Widget/Rect[56 700 256 720]/AS/Off/AP<</N {Fm0}>>" + c.widget
	if !strings.Contains(c.widget, "/FT/Btn") {
		widget = "/Type/Annot/Subtype/Widget/Rect[56 700 256 720]/AP<</N {Fm0}>>" + c.widget
	} else {
		widget = strings.Replace(widget, "/AP<</N {Fm0}>>", "/AP<</N<</On {Fm1}/Off {Fm0}>>>>", 1)
	}
	return extraPDF(pdfExtra{catalog: c.catalog, objs: c.objs},
		[]string{"BT /F1 12 Tf 56 300 Td (Contract for lot 7) Tj ET"}, [][]string{{widget}},
		testForm{dict: "/BBox[0 0 200 20]/Resources<</Font<</F2 3 0 R>>>>", content: "BT /F2 10 Tf 2 5 Td (Stored text) Tj ET"},
		appearance("On: agreed", ""))
}

// TestFormFieldValues: in a document whose AcroForm has /NeedAppearances
// true, a text field's widget reads as its value /V (inherited through
// /Parent), not its stored appearance, a choice field's as its selected
// values, a field without a value as nothing, a check box as its /AS
// state; what the reader cannot be sure of is marked (ViewerForms);
// without /NeedAppearances the stored appearance is read as before.
func TestFormFieldValues(t *testing.T) {
	for _, c := range fieldCases {
		t.Run(c.name, func(t *testing.T) {
			pdf := fieldPDF(c)
			got, _ := pageRuns(t, pdf)
			if !slices.Equal(got, c.runs) {
				t.Errorf("page 1 reads %q\n                want %q", got, c.runs)
			}
			e := mustExcerpt(t, pdf, Placement{Keyword: "lot 7"})
			if e.ViewerForms != c.viewerForms || e.Limit(ExcerptLimits{FirstLines: 1}).ViewerForms != c.viewerForms {
				t.Errorf("viewer_forms %v, want %v", e.ViewerForms, c.viewerForms)
			}
			checkExcerptBounds(t, e)
		})
	}
}

// TestFormFieldValueBounded: a value of a million characters is read up
// to maxFieldRunes (what fits in the field is shown, the rest of those
// is clipped) and marked; the page's glyphs stay within that.
func TestFormFieldValueBounded(t *testing.T) {
	for v, want := range map[string]string{"(" + strings.Repeat("Long value ", 100_000) + ")": "@Long value Long", utf16Hex(strings.Repeat("长", 1_000_000)): "@长长长长"} {
		c := fieldCase{catalog: needAppearances, widget: "/FT/Tx/T(price)/DA(/Helv 10 Tf 0 g)/V" + v}
		pdf := fieldPDF(c)
		got, b := pageRuns(t, pdf)
		if len(got) != 2 || !strings.HasPrefix(got[0], want) || got[1] != "Contract for lot 7" {
			t.Errorf("page 1 reads %q", got)
		}
		if b.lastGlyphs > maxFieldRunes+len("Contract for lot 7") {
			t.Errorf("%d glyphs read", b.lastGlyphs)
		}
		if e := mustExcerpt(t, pdf, Placement{Page: 1, XMM: 50, YMM: 50}); !e.ViewerForms {
			t.Error("a value cut is not marked")
		}
	}
}

// ocPDF is a page whose content draws text in marked content of the
// optional content groups {X0} (off by default), {X1} (on) and through a
// form whose /OC is off, with annotations in groups off and on, and
// memberships of both: what a viewer opening it shows is the text ending
// in "shown".
func ocPDF(baseOff bool) []byte {
	cfg := "/D<</OFF[{X0}]>>"
	if baseOff {
		cfg = "/D<</BaseState/OFF/ON[{X1}]>>"
	}
	page := "BT /F1 12 Tf 56 300 Td (Contract for lot 7 shown) Tj ET " +
		"/OC /MC0 BDC BT /F1 12 Tf 56 280 Td (Secret off layer) Tj ET /Span BMC BT /F1 12 Tf 56 260 Td (Nested off layer) Tj ET EMC EMC " +
		"/OC /MC1 BDC BT /F1 12 Tf 56 240 Td (Layer on shown) Tj ET EMC " +
		"BT /F1 12 Tf 56 220 Td (After layers shown) Tj ET /Fm2 Do"
	return extraPDF(pdfExtra{
		catalog: "/OCProperties<</OCGs[{X0} {X1}]" + cfg + ">>",
		pageRes: "/Properties<</MC0 {X0}/MC1 {X1}>>",
		objs: []string{"<</Type/OCG/Name(Off layer)>>", "<</Type/OCG/Name(On layer)>>",
			"<</Type/OCMD/OCGs[{X0} {X1}]/P/AllOn>>", "<</Type/OCMD/OCGs[{X0} {X1}]>>"},
	}, []string{page}, [][]string{{
		"/Type/Annot/Subtype/Stamp/Rect[56 740 156 760]/OC {X0}/AP<</N {Fm0}>>",
		"/Type/Annot/Subtype/Stamp/Rect[56 700 156 720]/OC {X1}/AP<</N {Fm1}>>",
		"/Type/Annot/Subtype/Stamp/Rect[56 660 156 680]/OC {X2}/AP<</N {Fm0}>>",
		"/Type/Annot/Subtype/Stamp/Rect[56 620 156 640]/OC {X3}/AP<</N {Fm1}>>",
	}}, appearance("Stamp off", ""), appearance("Stamp shown", ""),
		testForm{dict: formDict + "/OC {X0}", content: "BT /F2 12 Tf 56 200 Td (Form off layer) Tj ET"})
}

// TestOptionalContentOff: content of an optional content group off by
// default (/OCProperties /D /OFF, or /BaseState /OFF) is invisible, as
// a viewer opening the document hides it: marked content "/OC /name BDC
// … EMC" (nested marked content inside it too) is not shown but is
// found by a keyword, an annotation or a form XObject whose /OC is off
// (a group, or a membership of groups by its policy) is not drawn; the
// groups on are read as before.
func TestOptionalContentOff(t *testing.T) {
	want := []string{"@Stamp shown", "@Stamp shown", "Contract for lot 7 shown", "Layer on shown", "After layers shown"}
	for _, baseOff := range []bool{false, true} {
		pdf := ocPDF(baseOff)
		got, _ := pageRuns(t, pdf)
		if !slices.Equal(got, want) {
			t.Errorf("base state off %v: page 1 reads %q\n                want %q", baseOff, got, want)
		}
		e := mustExcerpt(t, pdf, Placement{Keyword: "Secret off"}, Placement{Keyword: "Nested off"}, Placement{Keyword: "Stamp off"})
		if e.Spots[0].NotFound || e.Spots[1].NotFound || !e.Spots[2].NotFound {
			t.Errorf("spots %s", jsonOf(t, e.Spots))
		}
		for _, s := range e.Spots[:2] {
			if slices.ContainsFunc(s.Lines, func(l string) bool { return strings.Contains(l, "off") }) {
				t.Errorf("an off layer's text shown: %q", s.Lines)
			}
		}
	}
}

// TestHiddenContentWherePopplerSees: the words the reader reads on pages
// of form fields that need appearances and of optional content off by
// default are those poppler's pdftotext reads (it makes the fields'
// appearances from their values and hides the groups off), where poppler
// does as the reader (see fieldCase.notPoppler).
func TestHiddenContentWherePopplerSees(t *testing.T) {
	pdfs := map[string][]byte{"optional content": ocPDF(false), "optional content, base state off": ocPDF(true)}
	for _, c := range fieldCases {
		if c.notPoppler == "" {
			pdfs[c.name] = fieldPDF(c)
		}
	}
	for name, pdf := range pdfs {
		out, err := runTool(t, "pdftotext", writeTemp(t, "a.pdf", pdf), "-")
		if err != nil {
			t.Fatal(err)
		}
		runs, _ := pageRuns(t, pdf)
		var ours []string
		for _, r := range runs {
			ours = append(ours, strings.Fields(strings.TrimPrefix(r, "@"))...)
		}
		theirs := strings.Fields(out)
		slices.Sort(ours)
		slices.Sort(theirs)
		if len(ours) == 0 || !slices.Equal(ours, theirs) {
			t.Errorf("%s: we read %q, poppler %q", name, ours, theirs)
		}
	}
}

// TestFormFieldLimits: a choice field whose value is looked up in a
// thousand options, shared by many widgets, costs what the document's
// read limits allow and no more: the document is refused (ErrTooLarge)
// rather than read for as long as it asks.
func TestFormFieldLimits(t *testing.T) {
	withReadLimits(t, readLimits{formDepth: defaultReadLimits.formDepth, pageOps: 1 << 16, pageBytes: 4 << 20, pageGlyphs: 1 << 12, docOps: 1 << 17, docBytes: 16 << 20, docGlyphs: 1 << 14})
	var opt, v strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&opt, "[(x%d)(Option %d)]", i, i)
	}
	for range 64 {
		v.WriteString("(none)")
	}
	widgets := make([]string, 300)
	for i := range widgets {
		widgets[i] = fmt.Sprintf("/Type/Annot/Subtype/Widget/Rect[56 %d 256 %d]/Parent {X0}", 800-i, 820-i)
	}
	pdf := extraPDF(pdfExtra{catalog: needAppearances, objs: []string{"<</FT/Ch/T(lots)/Opt[" + opt.String() + "]/V[" + v.String() + "]>>"}},
		[]string{"BT /F1 12 Tf 56 300 Td (SEAL) Tj ET"}, [][]string{widgets})
	if _, err := ReadExcerpt(pdf, []Placement{{Keyword: "SEAL"}}, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("excerpt: %v", err)
	}
}
