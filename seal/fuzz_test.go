package seal

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Seeds live in testdata/: a plain PDF, one sealed with RSA, one sealed
// with SM2 and a ToUnicode CMap (regenerate with UKEYGATE_SEAL_SEEDS=1).

func readSeeds(f *testing.F, pattern string) [][]byte {
	f.Helper()
	names, _ := filepath.Glob(filepath.Join("testdata", pattern))
	if len(names) == 0 {
		f.Fatalf("no seeds testdata/%s", pattern)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzVerify(f *testing.F) {
	for _, s := range readSeeds(f, "*.pdf") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pdf []byte) {
		sigs, err := Verify(pdf)
		if err != nil && len(sigs) != 0 {
			t.Fatal("signatures with an error")
		}
		for _, s := range sigs {
			if s.Valid && s.Signer == nil {
				t.Fatal("valid without a signer")
			}
		}
	})
}

func FuzzCheckPNG(f *testing.F) {
	for _, s := range readSeeds(f, "*.png") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := CheckPNG(data)
		if err == nil && (img.Width < MinImageSide || img.Width > MaxImageSide) {
			t.Fatal("accepted out-of-range size")
		}
	})
}

func FuzzParseSES(f *testing.F) {
	for _, s := range readSeeds(f, "*.ses") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := Parse(der)
		if err == nil {
			_ = s.Verify()
		}
	})
}

// FuzzContentText runs the content-stream reader and the ToUnicode parser
// (both written here) on arbitrary bytes.
func FuzzContentText(f *testing.F) {
	for _, s := range readSeeds(f, "*.content") {
		f.Add(s, []byte("begincodespacerange <00> <FF> endcodespacerange beginbfchar <41> <0042> endbfchar beginbfrange <61> <7a> <0061> endbfrange"))
	}
	f.Fuzz(func(t *testing.T, content, cmapData []byte) {
		cm := parseToUnicode(cmapData)
		font := &textFont{codeLen: cm.codeLen, toUni: cm.m, dw: 500}
		if font.codeLen == 0 {
			font.codeLen = 1
		}
		glyphs := pageGlyphs(content, fontsOnly(func(string) *textFont { return font }), nil)
		_ = matchGlyphs(glyphs, "A")
	})
}

// fuzzRes is the resources of FuzzExcerptLines: every font name is
// font, and /Fm0, /Fm1, … are the parts of the input after the first
// (split at formSplit), form XObjects with a /BBox of the page's left
// half, form i moved i×100 points up, that may draw each other and
// themselves; the optional content /Off is off by default, every other
// name on.
type fuzzRes struct {
	f     *textFont
	forms []*form
}

const formSplit = "\n%%form\n"

func newFuzzRes(content []byte, font *textFont) ([]byte, *fuzzRes) {
	parts := bytes.Split(content, []byte(formSplit))
	r := &fuzzRes{f: font}
	for i, c := range parts[1:] {
		r.forms = append(r.forms, &form{id: i + 1, content: c, matrix: matrix{1, 0, 0, 1, 0, 100 * float64(i)}, bbox: rect{0, 0, 297, 842}, hasBBox: true, res: r})
	}
	return parts[0], r
}

func (r *fuzzRes) font(string) (*textFont, bool) { return r.f, true }

func (r *fuzzRes) ocOff(name string) (bool, bool) { return name == "Off", true }

func (r *fuzzRes) xobject(name string) (*form, bool) {
	var i int
	if _, err := fmt.Sscanf(name, "Fm%d", &i); err != nil || i < 0 || i >= len(r.forms) {
		return nil, false
	}
	return r.forms[i], true
}

// fuzzLimits are small read limits, for quick runs.
var fuzzLimits = readLimits{formDepth: 8, pageOps: 1 << 14, pageBytes: 1 << 20, pageGlyphs: 1 << 12, docOps: 1 << 16, docBytes: 1 << 22, docGlyphs: 1 << 14}

// FuzzExcerptLines runs the excerpt's line reader (runs of text on an A4
// page, the nearest to a point, hidden characters made visible) and the
// page sketch on the glyphs of arbitrary content streams, with form
// XObjects (see fuzzRes; the last drawn again as an annotation's
// appearance), clipping paths and ToUnicode maps; the reader keeps to
// its limits.
func FuzzExcerptLines(f *testing.F) {
	for _, s := range readSeeds(f, "*.content") {
		f.Add(s, []byte("begincodespacerange <0000> <FFFF> endcodespacerange beginbfchar <0041> <202E> <0042> <4E59> endbfchar"), 100.0, 30.0)
	}
	f.Add([]byte("BT /F1 12 Tf 3 Tr 56 785 Td <00410042> Tj 0 Tr 1 0 0 -1 56 700 Tm <0042> Tj ET"), []byte("begincodespacerange <0000> <FFFF> endcodespacerange beginbfrange <0000> <00FF> <2028> endbfrange"), 20.0, 20.0)
	p := &page{nr: 1, box: types.Rectangle{LL: types.Point{}, UR: types.Point{X: 595.276, Y: 841.89}}}
	f.Fuzz(func(t *testing.T, content, cmapData []byte, xmm, ymm float64) {
		cm := parseToUnicode(cmapData)
		font := &textFont{codeLen: max(cm.codeLen, 1), toUni: cm.m, dw: 500}
		pageContent, res := newFuzzRes(content, font)
		b := &readBudget{lim: fuzzLimits}
		// The last form is also an annotation's appearance, halved onto
		// the page's top right quarter.
		var annots []annotAppearance
		if n := len(res.forms); n > 0 {
			annots = append(annots, annotAppearance{f: res.forms[n-1], m: matrix{0.5, 0, 0, 0.5, 297, 421}})
		}
		glyphs := pageGlyphs(pageContent, res, b, annots...)
		if len(glyphs) > fuzzLimits.pageGlyphs || b.lastOps > fuzzLimits.pageOps+1 || b.ops > fuzzLimits.docOps+1 || b.glyphs > fuzzLimits.docGlyphs+1 {
			t.Fatalf("past the limits: %d glyphs, %d operators on the page; %+v", len(glyphs), b.lastOps, b)
		}
		lines := linesOf(p, glyphs)
		raw, nearest, dist := nearestLines(lines, xmm*ptPerMM, ymm*ptPerMM, DefaultExcerptLimits)
		if len(raw) > DefaultExcerptLimits.SpotLines || (len(raw) > 0 && (nearest < 0 || nearest >= len(raw))) || dist < 0 {
			t.Fatalf("%d lines, nearest %d, %g mm", len(raw), nearest, dist)
		}
		for _, r := range raw {
			s := neutral(r, defaultHidden, DefaultExcerptLimits.LineRunes)
			if utf8.RuneCountInString(s) > DefaultExcerptLimits.LineRunes || strings.IndexFunc(s, defaultHidden) >= 0 || !utf8.ValidString(s) {
				t.Fatalf("line %q", s)
			}
		}
		// The sketch of those lines is well-formed XML.
		svg := sketch(p, lines, []SketchSeal{{XMM: xmm, YMM: ymm, WidthMM: 40, HeightMM: 40}}, defaultHidden)
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("sketch: %v\n%s", err, svg)
			}
		}
	})
}

// FuzzReadExcerpt reads the excerpt and the sketch of page 1 of arbitrary
// PDFs (from the seeds: plain, sealed, form XObjects nested and drawing
// themselves, a bomb, annotations and clips) at fuzzLimits: bounded, or
// refused.
func FuzzReadExcerpt(f *testing.F) {
	for _, s := range readSeeds(f, "*.pdf") {
		f.Add(s)
	}
	saved := defaultReadLimits
	defaultReadLimits = fuzzLimits
	f.Cleanup(func() { defaultReadLimits = saved })
	f.Fuzz(func(t *testing.T, pdf []byte) {
		e, err := ReadExcerpt(pdf, []Placement{{Keyword: "SEAL"}, {Page: 1, XMM: 100, YMM: 100}}, nil)
		if err != nil {
			return
		}
		checkExcerptBounds(t, e)
		if _, err := Sketches(pdf, []SketchPage{{Page: 1}}, nil); err != nil {
			t.Fatalf("read, but no sketch: %v", err)
		}
	})
}
