package seal

import (
	"encoding/xml"
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
		glyphs := pageGlyphs(content, func(string) *textFont { return font })
		_ = matchGlyphs(glyphs, "A")
	})
}

// FuzzExcerptLines runs the excerpt's line reader (runs of text on an A4
// page, the nearest to a point, hidden characters made visible) and the
// page sketch on the glyphs of arbitrary content streams and ToUnicode
// maps.
func FuzzExcerptLines(f *testing.F) {
	for _, s := range readSeeds(f, "*.content") {
		f.Add(s, []byte("begincodespacerange <0000> <FFFF> endcodespacerange beginbfchar <0041> <202E> <0042> <4E59> endbfchar"), 100.0, 30.0)
	}
	f.Add([]byte("BT /F1 12 Tf 3 Tr 56 785 Td <00410042> Tj 0 Tr 1 0 0 -1 56 700 Tm <0042> Tj ET"), []byte("begincodespacerange <0000> <FFFF> endcodespacerange beginbfrange <0000> <00FF> <2028> endbfrange"), 20.0, 20.0)
	p := &page{nr: 1, box: types.Rectangle{LL: types.Point{}, UR: types.Point{X: 595.276, Y: 841.89}}}
	f.Fuzz(func(t *testing.T, content, cmapData []byte, xmm, ymm float64) {
		cm := parseToUnicode(cmapData)
		font := &textFont{codeLen: max(cm.codeLen, 1), toUni: cm.m, dw: 500}
		lines := linesOf(p, pageGlyphs(content, func(string) *textFont { return font }))
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
