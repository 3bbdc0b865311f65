package seal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// contract is a two-page Chinese contract: the title and the parties on
// page 1, the parties' seal lines on page 2.
func contract() [][]string {
	return [][]string{
		{"政府采购合同", "合同编号：ZC-2026-017", "甲方（采购人）：某某市公共资源交易中心", "乙方（供应商）：某某建设有限公司", "合同金额：人民币壹佰贰拾叁万元整"},
		{"第十条 其他", "本合同一式四份，双方各执两份。", "", "甲方（盖章）：", "", "", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日"},
	}
}

// lineY is the baseline of line i of a TextPDF or UnicodePDF page, in
// millimetres from the top of the A4 page.
func lineY(i int) float64 { return (841.89 - 785 + 16*float64(i)) / ptPerMM }

// contentPDF is an A4 PDF whose page i has the content stream pages[i],
// with Helvetica as /F1 (WinAnsi).
func contentPDF(pages ...string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<</Type/Catalog/Pages 2 0 R>>")
	var kids []string
	for i := range pages {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<</Type/Pages/Count %d/Kids[%s]>>", len(pages), strings.Join(kids, " ")))
	obj("<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
	for i, c := range pages {
		obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R>>>>/Contents %d 0 R>>", 5+2*i))
		obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(c), c))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// noToUnicode is pdf (a UnicodePDF) without its /ToUnicode map, the
// bytes kept in place: a CID font whose codes cannot be read as text.
func noToUnicode(t *testing.T, pdf []byte) []byte {
	t.Helper()
	key := []byte("/ToUnicode 5 0 R")
	if !bytes.Contains(pdf, key) {
		t.Fatal("no /ToUnicode in the PDF")
	}
	return bytes.Replace(pdf, key, bytes.Repeat([]byte(" "), len(key)), 1)
}

func mustExcerpt(t *testing.T, pdf []byte, pl ...Placement) *Excerpt {
	t.Helper()
	e, err := ReadExcerpt(pdf, pl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("word ", 30) // 150 characters
	many := [][]string{{"Schedule"}, {"Sign: [S]", "Sign: [S]", "Sign: [S]"}, {"Sign: [S]", "Sign: [S]", "Sign: [S]", "Sign: [S]", "Sign: [S]", "Sign: [S]"}}
	cases := []struct {
		name  string
		pdf   []byte
		pl    []Placement
		want  string // the excerpt's JSON
		check func(t *testing.T, e *Excerpt)
	}{{
		name: "keyword on page 2, Chinese",
		pdf:  UnicodePDF(contract()),
		pl:   []Placement{{Keyword: "乙方（盖章）"}},
		check: func(t *testing.T, e *Excerpt) {
			if e.Pages != 2 || e.Seals != 1 || len(e.Spots) != 1 || e.SpotsLeftOut != 0 {
				t.Fatalf("%+v", e)
			}
			if got := strings.Join(e.First.Lines, "|"); got != "政府采购合同|合同编号：ZC-2026-017|甲方（采购人）：某某市公共资源交易中心" || e.First.NoText {
				t.Errorf("first lines %q", got)
			}
			s := e.Spots[0]
			if s.Page != 2 || s.Placement != 0 || s.NoText || s.NotFound || s.DistanceMM != 0 {
				t.Errorf("spot %+v", s)
			}
			// The seal's 40 mm would cover the lines around: the nearest
			// three, top to bottom, the keyword's line marked.
			if got := strings.Join(s.Lines, "|"); got != "甲方（盖章）：|乙方（盖章）：某某建设有限公司|日期：2026年12月5日" || s.Lines[s.Nearest] != "乙方（盖章）：某某建设有限公司" {
				t.Errorf("spot lines %q, nearest %d", got, s.Nearest)
			}
			// The keyword's middle: 6 characters of 12 pt from 56.7 pt,
			// 0.3 × 12 pt above line 6's baseline.
			if math.Abs(s.XMM-(56.7+36)/ptPerMM) > 0.05 || math.Abs(s.YMM-(lineY(6)-3.6/ptPerMM)) > 0.05 {
				t.Errorf("spot at %.2f, %.2f mm", s.XMM, s.YMM)
			}
		},
	}, {
		name: "coordinates on a line, and far from any",
		pdf:  TextPDF([][]string{{"Bid for lot 3", "Bidder: Example Co., Ltd.", "Price: 1,000 CNY"}}),
		pl:   []Placement{{Page: 1, XMM: 40, YMM: lineY(1) - 1}, {Page: 1, XMM: 30, YMM: 250}},
		check: func(t *testing.T, e *Excerpt) {
			if e.Seals != 2 || len(e.Spots) != 2 {
				t.Fatalf("%+v", e)
			}
			on, far := e.Spots[0], e.Spots[1]
			if on.Lines[on.Nearest] != "Bidder: Example Co., Ltd." || on.DistanceMM != 0 || on.XMM != 40 || on.Page != 1 {
				t.Errorf("on a line: %+v", on)
			}
			// 250 mm down, the last line is 80 mm above.
			if far.Lines[far.Nearest] != "Price: 1,000 CNY" || math.Abs(far.DistanceMM-(250-lineY(2)-0.2*12/ptPerMM)) > 0.1 {
				t.Errorf("far: %+v", far)
			}
		},
	}, {
		name: "a straddle seal alone: no spot",
		pdf:  TextPDF([][]string{{"one"}, {"two"}}),
		want: `{"pages":2,"seals":0,"first":{"lines":["one"]}}`,
	}, {
		name: "keyword everywhere: eight spots listed",
		pdf:  TextPDF(many),
		pl:   []Placement{{Keyword: "[S]"}, {Keyword: "absent"}},
		check: func(t *testing.T, e *Excerpt) {
			if e.Seals != 9 || len(e.Spots) != 8 || e.SpotsLeftOut != 2 {
				t.Fatalf("seals %d, %d spots, %d left out", e.Seals, len(e.Spots), e.SpotsLeftOut)
			}
			if e.Spots[0].Page != 2 || e.Spots[3].Page != 3 || e.Spots[0].YMM >= e.Spots[1].YMM {
				t.Errorf("order: %+v", e.Spots)
			}
			l := e.Limit(ExcerptLimits{FirstLines: 1, Spots: 2, SpotLines: 1, LineRunes: 12})
			if len(l.Spots) != 2 || l.SpotsLeftOut != 8 || len(l.Spots[0].Lines) != 1 || l.Spots[0].Lines[0] != "Sign: [S]" {
				t.Errorf("limited: %s", jsonOf(t, l))
			}
		},
	}, {
		name: "keyword not found",
		pdf:  TextPDF([][]string{{"one"}}),
		pl:   []Placement{{Keyword: "[SEAL HERE]"}},
		want: `{"pages":1,"seals":0,"first":{"lines":["one"]},"spots":[{"placement":0,"x_mm":0,"y_mm":0,"nearest":0,"distance_mm":0,"not_found":true}]}`,
	}, {
		name: "a picture, no text",
		pdf:  contentPDF("q 400 0 0 300 100 300 cm 0 0 1 rg 0 0 1 1 re f Q"),
		pl:   []Placement{{Page: 1, XMM: 100, YMM: 100}},
		want: `{"pages":1,"seals":1,"first":{"no_text":true},"spots":[{"placement":0,"page":1,"x_mm":100,"y_mm":100,"nearest":0,"distance_mm":0,"no_text":true}]}`,
	}, {
		name: "a CID font without /ToUnicode",
		pdf:  noToUnicode(t, UnicodePDF(contract())),
		pl:   []Placement{{Page: 2, XMM: 30, YMM: lineY(6)}},
		want: `{"pages":2,"seals":1,"first":{"no_text":true},"spots":[{"placement":0,"page":2,"x_mm":30,"y_mm":` + jsonOf(t, lineY(6)) + `,"nearest":0,"distance_mm":0,"no_text":true}]}`,
	}, {
		name: "hidden characters shown as markers",
		pdf:  UnicodePDF([][]string{{"合同\u202Etxt.exe", "\u200B\u200B", "乙方\u2028签字\t\u3000 处\u00A0\u00A0x"}}),
		want: `{"pages":1,"seals":0,"first":{"lines":["合同[U+202E]txt.exe","乙方[U+2028]签字 处 x"]}}`,
	}, {
		name: "invisible, off-page and tiny text left out",
		pdf: contentPDF("BT /F1 12 Tf 3 Tr 56 785 Td (Invisible title) Tj ET " +
			"BT /F1 12 Tf 700 700 Td (Off the page) Tj ET BT /F1 0.5 Tf 56 770 Td (tiny) Tj ET " +
			"BT /F1 12 Tf 0 Tr 56 760 Td (Shown) Tj ET"),
		want: `{"pages":1,"seals":0,"first":{"lines":["Shown"]}}`,
	}, {
		name: "long lines cut, two columns apart, bold drawn twice",
		pdf: contentPDF(fmt.Sprintf("BT /F1 12 Tf 56 785 Td (Party A: X) Tj 300 0 Td (Party B: Y) Tj ET "+
			"BT /F1 12 Tf 56 760 Td (Bold) Tj ET BT /F1 12 Tf 56.3 760 Td (Bold) Tj ET BT /F1 6 Tf 56 740 Td (%s) Tj ET", strings.Repeat("word ", 30))),
		check: func(t *testing.T, e *Excerpt) {
			if len(e.First.Lines) != 3 || e.First.Lines[0] != "Party A: X" || e.First.Lines[1] != "Party B: Y" || e.First.Lines[2] != "Bold" {
				t.Errorf("first %q", e.First.Lines)
			}
		},
	}, {
		name: "a line longer than the limit",
		pdf:  contentPDF(fmt.Sprintf("BT /F1 6 Tf 20 785 Td (%s) Tj ET", long)),
		check: func(t *testing.T, e *Excerpt) {
			l := e.First.Lines[0]
			if utf8.RuneCountInString(l) != DefaultExcerptLimits.LineRunes || !strings.HasSuffix(l, "…") || !strings.HasPrefix(long, strings.TrimSuffix(l, "…")) {
				t.Errorf("cut line %q", l)
			}
			if l := e.Limit(ExcerptLimits{LineRunes: 10}).First.Lines[0]; l != "word word…" {
				t.Errorf("limited to 10: %q", l)
			}
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := mustExcerpt(t, c.pdf, c.pl...)
			got := jsonOf(t, e)
			if c.want != "" && got != c.want {
				t.Errorf("excerpt\n got %s\nwant %s", got, c.want)
			}
			if c.check != nil {
				c.check(t, e)
			}
			if again := jsonOf(t, mustExcerpt(t, c.pdf, c.pl...)); again != got {
				t.Errorf("read again: %s", again)
			}
		})
	}
}

// TestExcerptKeywordWherePopplerSees: the spot of a keyword is where
// poppler's pdftotext finds it, and UnicodePDF's Chinese reads back the
// same with poppler.
func TestExcerptKeywordWherePopplerSees(t *testing.T) {
	pdf := UnicodePDF(contract())
	txt, err := runTool(t, "pdftotext", writeTemp(t, "c.pdf", pdf), "-")
	if err != nil || !strings.Contains(txt, "政府采购合同") || !strings.Contains(txt, "乙方（盖章）：某某建设有限公司") {
		t.Fatalf("pdftotext: %v %q", err, txt)
	}
	out, err := runTool(t, "pdftotext", "-bbox", "-f", "2", "-l", "2", writeTemp(t, "c.pdf", pdf), "-")
	if err != nil {
		t.Fatal(err)
	}
	x0, x1, y1 := popplerWord(t, out, "乙方（盖章）")
	if x1 == 0 {
		t.Fatalf("pdftotext -bbox does not find the keyword:\n%s", out)
	}
	s := mustExcerpt(t, pdf, Placement{Keyword: "乙方（盖章）"}).Spots[0]
	// poppler's word is the whole run (the keyword and the name after
	// it); the keyword's middle is 3 of its 15 characters in.
	if math.Abs(s.XMM-(x0+(x1-x0)*3/15)/ptPerMM) > 1 || math.Abs(s.YMM-y1/ptPerMM) > 3 {
		t.Fatalf("spot at %.1f, %.1f mm; poppler's word %.1f..%.1f, bottom %.1f mm", s.XMM, s.YMM, x0/ptPerMM, x1/ptPerMM, y1/ptPerMM)
	}
}

// TestExcerptHostile: the fuzz seeds and damaged PDFs read without a
// panic, as the same excerpt every time, or are refused as Seal refuses
// them.
func TestExcerptHostile(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	if len(names) == 0 {
		t.Fatal("no seeds")
	}
	inputs := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(n)] = b
		inputs[filepath.Base(n)+" cut"] = b[:len(b)*2/3]
	}
	deep := "BT /F1 12 Tf 56 785 Td " + strings.Repeat("[", 5000) + " (x) Tj ET " + strings.Repeat("q ", 10000) + "BT /F1 12 Tf 56 700 Td (after) Tj ET"
	inputs["deep nesting"] = contentPDF(deep)
	inputs["huge font size"] = contentPDF("BT /F1 1e300 Tf 56 785 Td (big) Tj ET BT /F1 12 Tf 1e300 0 0 1e300 0 0 Tm (far) Tj ET")
	inputs["not a number"] = contentPDF("BT /F1 12 Tf 0 0 0 0 0 0 Tm (flat) Tj /F1 -12 Tf 1 0 0 -1 56 700 Tm (upside) Tj ET")
	for name, pdf := range inputs {
		t.Run(name, func(t *testing.T) {
			pl := []Placement{{Keyword: "SEAL"}, {Page: 1, XMM: 100, YMM: 100}}
			e, err := ReadExcerpt(pdf, pl, nil)
			if err != nil {
				if _, serr := PageCount(pdf); serr == nil {
					t.Fatalf("refused %v, but PageCount reads it", err)
				}
				return
			}
			if again, _ := ReadExcerpt(pdf, pl, nil); jsonOf(t, again) != jsonOf(t, e) {
				t.Fatal("not the same excerpt twice")
			}
			checkExcerptBounds(t, e)
		})
	}
}

// checkExcerptBounds: e keeps its limits and shows no hidden character;
// its annotations index its lines, in order.
func checkExcerptBounds(t *testing.T, e *Excerpt) {
	t.Helper()
	lim := DefaultExcerptLimits
	annots := func(ls []string, at []int) {
		for i, a := range at {
			if a < 0 || a >= len(ls) || (i > 0 && a <= at[i-1]) {
				t.Fatalf("annotations %v of %d lines", at, len(ls))
			}
		}
	}
	lines := func(ls []string, max int) {
		if len(ls) > max {
			t.Fatalf("%d lines", len(ls))
		}
		for _, l := range ls {
			if utf8.RuneCountInString(l) > lim.LineRunes || !utf8.ValidString(l) || strings.IndexFunc(l, defaultHidden) >= 0 || l != strings.TrimSpace(l) || l == "" {
				t.Fatalf("line %q", l)
			}
		}
	}
	lines(e.First.Lines, lim.FirstLines)
	annots(e.First.Lines, e.First.Annotations)
	if len(e.Spots) > lim.Spots {
		t.Fatalf("%d spots", len(e.Spots))
	}
	for _, s := range e.Spots {
		lines(s.Lines, lim.SpotLines)
		annots(s.Lines, s.Annotations)
		if len(s.Lines) > 0 && (s.Nearest < 0 || s.Nearest >= len(s.Lines)) || math.IsNaN(s.DistanceMM) || math.IsInf(s.DistanceMM, 0) || math.IsNaN(s.XMM) || math.IsNaN(s.YMM) {
			t.Fatalf("spot %+v", s)
		}
	}
}

// popplerWord is the box (xMin, xMax, yMax, in points from the page's top
// left) of the last word of pdftotext -bbox's output whose line holds
// match; zeros if none does.
func popplerWord(t *testing.T, out, match string) (x0, x1, y1 float64) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, match) {
			if _, err := fmt.Sscanf(strings.TrimSpace(line), `<word xMin="%g" yMin="%g" xMax="%g" yMax="%g">`, &x0, new(float64), &x1, &y1); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
	}
	return x0, x1, y1
}
