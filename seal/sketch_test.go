package seal

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what a test reads of a sketch.
type svgDoc struct {
	ViewBox string `xml:"viewBox,attr"`
	Texts   []struct {
		X, Y, Size string
		Text       string
	}
	Rects []map[string]string
}

// parseSVG reads sketch as XML (it must be well-formed), its text
// elements and rectangles.
func parseSVG(t *testing.T, sketch string) svgDoc {
	t.Helper()
	var doc svgDoc
	dec := xml.NewDecoder(strings.NewReader(sketch))
	var inText bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v\n%s", err, sketch)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range e.Attr {
				attrs[a.Name.Local] = a.Value
			}
			switch e.Name.Local {
			case "svg":
				doc.ViewBox = attrs["viewBox"]
			case "text":
				inText = true
				doc.Texts = append(doc.Texts, struct{ X, Y, Size, Text string }{attrs["x"], attrs["y"], attrs["font-size"], ""})
			case "rect":
				doc.Rects = append(doc.Rects, attrs)
			}
		case xml.CharData:
			if inText {
				doc.Texts[len(doc.Texts)-1].Text += string(e)
			}
		case xml.EndElement:
			inText = false
		}
	}
	return doc
}

func TestSketches(t *testing.T) {
	pdf := UnicodePDF([][]string{contract()[0], append(contract()[1], "<&> \u202E'\"")})
	spot := mustExcerpt(t, pdf, Placement{Keyword: "乙方（盖章）"}).Spots[0]
	pages := []SketchPage{
		{Page: 2, Seals: []SketchSeal{{XMM: spot.XMM, YMM: spot.YMM, WidthMM: 40, HeightMM: 40}, {XMM: 5, YMM: 290, WidthMM: 40, HeightMM: 40}}},
		{Page: 1},
		{Page: 3},
	}
	got, err := Sketches(pdf, pages, nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d sketches, %v", len(got), err)
	}
	if got[2] != "" {
		t.Errorf("a page out of range is drawn: %s", got[2])
	}
	doc := parseSVG(t, got[0])
	if doc.ViewBox != "0 0 595.3 841.9" {
		t.Errorf("viewBox %q", doc.ViewBox)
	}
	var texts []string
	for _, x := range doc.Texts {
		texts = append(texts, x.Text)
	}
	want := []string{"第十条 其他", "本合同一式四份，双方各执两份。", "甲方（盖章）：", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日", `<&> [U+202E]'"`}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts %q", texts)
	}
	// Line 6's baseline, 12 pt.
	if k := doc.Texts[3]; k.X != "56.7" || k.Size != "12.0" || k.Y != strconv.FormatFloat(lineY(6)*ptPerMM, 'f', 1, 64) {
		t.Errorf("the keyword's line at %+v", k)
	}
	// The page, the seal centred on the keyword, the one in the corner
	// kept on the page.
	if len(doc.Rects) != 3 {
		t.Fatalf("rects %v", doc.Rects)
	}
	side := strconv.FormatFloat(40*ptPerMM, 'f', 1, 64)
	if r := doc.Rects[1]; r["width"] != side || r["x"] != strconv.FormatFloat(spot.XMM*ptPerMM-20*ptPerMM, 'f', 1, 64) {
		t.Errorf("the seal at the keyword: %v", r)
	}
	if r := doc.Rects[2]; r["x"] != "0.0" || r["y"] != strconv.FormatFloat(841.89-40*ptPerMM, 'f', 1, 64) {
		t.Errorf("the seal in the corner: %v", r)
	}
	if strings.ContainsRune(got[0], '\u202E') {
		t.Error("the sketch holds the override itself")
	}
	if p1 := parseSVG(t, got[1]); len(p1.Texts) != 5 || len(p1.Rects) != 1 {
		t.Errorf("page 1: %d texts, %d rects", len(p1.Texts), len(p1.Rects))
	}
	if again, _ := Sketches(pdf, pages, nil); strings.Join(again, "") != strings.Join(got, "") {
		t.Error("not the same sketches twice")
	}
	// No text: the box and the seal only.
	blank, err := Sketches(contentPDF("q 400 0 0 300 100 300 cm 0 0 1 rg 0 0 1 1 re f Q"), []SketchPage{{Page: 1, Seals: []SketchSeal{{XMM: 100, YMM: 100, WidthMM: 40, HeightMM: 40}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := parseSVG(t, blank[0]); len(b.Texts) != 0 || len(b.Rects) != 2 {
		t.Errorf("blank page: %+v", b)
	}
}

// emptyMediaBox is a PDF pdfcpu parses but panics on when asked for
// its page.
var emptyMediaBox = []byte("%PDF-1.0\n1 0 obj<</Type/Catalog/Pages 2 0 R00endobj\n2 0 obj<</Count 1/MediaBox[]00endobj 0")

// TestSketchesHostile: the seeds and damaged PDFs draw well-formed,
// bounded sketches or are refused as ReadExcerpt refuses them.
func TestSketchesHostile(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	inputs := map[string][]byte{
		"hidden and XML characters": UnicodePDF([][]string{{"\uFFFE\u0001\u0000<]]>&amp;", strings.Repeat("长", 200)}}),
		"huge sizes":                contentPDF("BT /F1 1e300 Tf 56 785 Td (big) Tj ET BT /F1 12 Tf 56 700 Td 1e300 Tz (wide) Tj ET"),
		"an empty /MediaBox":        emptyMediaBox,
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(n)] = b
	}
	for name, pdf := range inputs {
		t.Run(name, func(t *testing.T) {
			got, err := Sketches(pdf, []SketchPage{{Page: 1, Seals: []SketchSeal{{XMM: 1e9, YMM: -5, WidthMM: 40, HeightMM: 40}}}}, nil)
			if err != nil {
				if _, e := ReadExcerpt(pdf, nil, nil); e == nil {
					t.Fatalf("refused %v, but ReadExcerpt reads it", err)
				}
				return
			}
			doc := parseSVG(t, got[0])
			if len(doc.Texts) > MaxSketchRuns || len(got[0]) > 64<<10 {
				t.Fatalf("%d texts, %d bytes", len(doc.Texts), len(got[0]))
			}
			for _, x := range doc.Texts {
				if strings.IndexFunc(x.Text, defaultHidden) >= 0 || len([]rune(x.Text)) > SketchRunRunes {
					t.Fatalf("text %q", x.Text)
				}
			}
		})
	}
}
