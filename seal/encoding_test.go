package seal

import (
	"fmt"
	"testing"
)

func TestGlyphText(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"A", "A"}, {"z", "z"}, {"space", " "}, {"zero", "0"}, {"quotedblleft", "“"}, {"emdash", "—"},
		{"eacute", "é"}, {"idieresis", "ï"}, {"Scaron", "Š"}, {"germandbls", "ß"}, {"Euro", "€"},
		{"fi", "fi"}, {"f_f_i", "ffi"}, {"a.sc", "a"}, {"uni4E2D", "中"}, {"uni4E2D6587", "中文"}, {"u1F600", "😀"},
		{"uniD800", ""}, {"g123", ""}, {"uniZZZZ", ""}, {"", ""},
	} {
		if got := glyphText(c.name); got != c.want {
			t.Errorf("glyphText(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestSimpleFontEncodings: a simple font without /ToUnicode reads through
// its /Encoding (WinAnsi's 0x93 is “, not U+0093; /Differences name
// glyphs over the base), ligature characters read as letters, and
// character spacing after a glyph is a gap, not part of it.
func TestSimpleFontEncodings(t *testing.T) {
	for _, c := range []struct {
		name, font, content, want string
	}{
		{"WinAnsi", "/BaseFont/Helvetica/Encoding/WinAnsiEncoding", `(\223Quoted\224 \227 na\357ve) Tj`, "“Quoted” — naïve"},
		{"MacRoman", "/BaseFont/Helvetica/Encoding/MacRomanEncoding", `(\322Q\323 \216t\216) Tj`, "“Q” été"},
		{"Standard", "/BaseFont/Times-Roman/Encoding/StandardEncoding", `(it\047s \252x\272 \256ne) Tj`, "it’s “x” fine"},
		{"Differences", "/BaseFont/ABCDEF+Times-Roman/FirstChar 32/Widths[250]/Encoding<</Type/Encoding/BaseEncoding/WinAnsiEncoding/Differences[138/emdash 140/fi 153/quotedblleft/quotedblright]>>",
			`(a \212 \231\214rm\232) Tj`, "a — “firm”"},
		{"Differences over Standard", "/BaseFont/ABCDEF+Times-Roman/Encoding<</Differences[1/uni4E2D/uni6587 39/quotesingle]>>",
			`(\001\002 \047) Tj`, "中文 '"},
		// Ghostscript spaces words with Tc after a word's last glyph.
		{"Tc between words", "/BaseFont/Helvetica/Encoding/WinAnsiEncoding", `(staf) Tj 3 Tc (f) Tj 0 Tc (are) Tj`, "staff are"},
		{"ToUnicode ligature", "/BaseFont/Helvetica/Encoding/WinAnsiEncoding/ToUnicode 5 0 R", `(\001nal) Tj`, "final"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pdf := oneFontPDF(t, c.font, c.content, "/CIDInit/ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00><FF> endcodespacerange 1 beginbfchar <01><FB01> endbfchar endcmap")
			d, err := readPDF(pdf)
			if err != nil {
				t.Fatal(err)
			}
			p, glyphs := d.glyphsOf(1)
			lines := linesOf(p, glyphs)
			if len(lines) != 1 {
				t.Fatalf("lines %+v", lines)
			}
			if got, _ := lines[0].raw(100); got.text != c.want {
				t.Errorf("read %q, want %q", got.text, c.want)
			}
		})
	}
}

// oneFontPDF is a one-page PDF drawing content (inside BT /F1 12 Tf 72
// 700 Td … ET) with the font whose dictionary entries are font, and a
// ToUnicode stream object 5 0 R holding cmap.
func oneFontPDF(t testing.TB, font, content, cmap string) []byte {
	t.Helper()
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Count 1/Kids[3 0 R]>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources<</Font<</F1 4 0 R>>>>/Contents 6 0 R>>",
		"<</Type/Font/Subtype/Type1" + font + ">>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(cmap), cmap),
	}
	c := "BT /F1 12 Tf 72 700 Td " + content + " ET"
	objs = append(objs, fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(c), c))
	return rawPDF(objs)
}

// rawPDF writes objects 1… with a classic cross-reference table.
func rawPDF(objs []string) []byte {
	var b []byte
	b = append(b, "%PDF-1.7\n"...)
	var offs []int
	for i, o := range objs {
		offs = append(offs, len(b))
		b = fmt.Appendf(b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := len(b)
	b = fmt.Appendf(b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		b = fmt.Appendf(b, "%010d 00000 n\r\n", o)
	}
	return fmt.Appendf(b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
}

// TestKeywordAcrossWordGap: a keyword with a space is found where the
// page has a gap between words but no space glyph; a kerning gap, and a
// gap between letter-spaced CJK characters, read as no space.
func TestKeywordAcrossWordGap(t *testing.T) {
	const cmap = "begincmap 1 begincodespacerange <00><FF> endcodespacerange 2 beginbfchar <01><5408> <02><540C> endbfchar endcmap"
	for _, c := range []struct {
		name, content, keyword string
		found                  int
	}{
		{"Tc gap", `(staf) Tj 3 Tc (f) Tj 0 Tc (are) Tj`, "staff are", 1},
		{"Tc gap, no space", `(staf) Tj 3 Tc (f) Tj 0 Tc (are) Tj`, "staffare", 0},
		{"TJ gap", `[(Bidder) -400 (seal)] TJ`, "Bidder seal", 1},
		{"space glyph", `(Bidder seal) Tj`, "Bidder seal", 1},
		{"kerning", `[(Wa) -100 (ter)] TJ`, "Water", 1},
		{"letter-spaced CJK", `6 Tc (\001\002) Tj`, "合同", 1},
		{"next line", `(Bidder) Tj 0 -20 Td (seal) Tj`, "Bidder seal", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := readPDF(oneFontPDF(t, "/BaseFont/Helvetica/Encoding/WinAnsiEncoding/ToUnicode 5 0 R", c.content, cmap))
			if err != nil {
				t.Fatal(err)
			}
			_, glyphs := d.glyphsOf(1)
			if got := len(matchGlyphs(glyphs, c.keyword)); got != c.found {
				t.Errorf("%q found %d times, want %d", c.keyword, got, c.found)
			}
		})
	}
}
