package seal

import (
	"os"
	"path/filepath"
	"testing"
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
