package seal

import (
	"bytes"
	"fmt"
	"strings"
)

// TextPDF writes a plain A4 PDF (PDF 1.7, classic cross-reference table,
// Helvetica, WinAnsi text) whose page i shows the lines of pages[i], 12 pt
// with 16 pt leading from the top-left margin. It is for sample documents
// (the demo portal's bid) and tests: characters outside Latin-1 are
// written as '?'.
func TextPDF(pages [][]string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// 1 catalog, 2 page tree, 3 font, then page 4+2i and its content 5+2i.
	obj("<</Type/Catalog/Pages 2 0 R>>")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj(fmt.Sprintf("<</Type/Pages/Count %d/Kids[%s]>>", len(pages), strings.Join(kids, " ")))
	obj("<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
	for i, lines := range pages {
		obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R>>>>/Contents %d 0 R>>", 5+2*i))
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 56.7 785 Td 16 TL\n")
		for _, l := range lines {
			c.WriteString("(")
			c.WriteString(pdfLiteral(l))
			c.WriteString(") Tj T*\n")
		}
		c.WriteString("ET\n")
		obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", c.Len(), c.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// pdfLiteral escapes s for a literal string in WinAnsi (Latin-1 subset).
func pdfLiteral(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			sb.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&sb, "\\%03o", r)
		default:
			sb.WriteByte('?')
		}
	}
	return sb.String()
}

// UnicodePDF is TextPDF for any text in the Basic Multilingual Plane
// (Chinese included; other characters are written as '?'), for tests of
// what is read back from a PDF's text (keywords, excerpts): the lines are
// drawn with a Type0 font, Identity-H, every code its character's UTF-16
// unit and 1000 units wide, with a /ToUnicode map. No font program is
// embedded: text extractors read it, but readers draw the codes with a
// substitute font, not as the characters. Control and format characters
// are written as they are (hostile text).
func UnicodePDF(pages [][]string) []byte { return unicodePDF(pages, false, 0, "") }

// UnicodeFormPDF is UnicodePDF with each page's text inside form
// XObjects, as many producers write pages: the page draws a form (moved
// 20 points up by the page's cm, back down by its /Matrix, clipped to the
// page) that draws another holding the text with its own font resource.
// The text shows where UnicodePDF's does.
func UnicodeFormPDF(pages [][]string) []byte { return unicodePDF(pages, true, 0, "") }

// UnicodeStampPDF is UnicodeFormPDF whose page nr (from 1) also carries
// a stamp annotation drawing stamp in a red frame, 16 pt, from the left
// margin, its baseline where lines[5] would be (the excerpt reads it as
// an annotation's). The stamp's appearance is twice its size, halved
// onto the annotation's /Rect by its /Matrix.
func UnicodeStampPDF(pages [][]string, nr int, stamp string) []byte {
	return unicodePDF(pages, true, nr, stamp)
}

func unicodePDF(pages [][]string, forms bool, stampPage int, stamp string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	used := map[rune]bool{}
	var codes []rune
	code := func(r rune) rune {
		if r > 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			r = '?'
		}
		if !used[r] {
			used[r] = true
			codes = append(codes, r)
		}
		return r
	}
	contents := make([]string, len(pages))
	for i, lines := range pages {
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 56.7 785 Td 16 TL\n")
		for _, l := range lines {
			c.WriteString("<")
			for _, r := range l {
				fmt.Fprintf(&c, "%04X", code(r))
			}
			c.WriteString("> Tj T*\n")
		}
		c.WriteString("ET\n")
		contents[i] = c.String()
	}
	// The stamp's appearance, drawn at twice its size.
	var stampContent strings.Builder
	width := 16.0*float64(len([]rune(stamp))) + 12
	if stampPage > 0 {
		fmt.Fprintf(&stampContent, "q 0.8 0.1 0.1 RG 0.8 0.1 0.1 rg 4 w 2 2 %.1f 52 re S BT /F1 32 Tf 12 16 Td <", 2*width-4)
		for _, r := range stamp {
			fmt.Fprintf(&stampContent, "%04X", code(r))
		}
		stampContent.WriteString("> Tj ET Q\n")
	}
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n" +
		"/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def\n" +
		"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n" +
		"1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for i := 0; i < len(codes); i += 100 {
		block := codes[i:min(i+100, len(codes))]
		fmt.Fprintf(&cm, "%d beginbfchar\n", len(block))
		for _, r := range block {
			fmt.Fprintf(&cm, "<%04X> <%04X>\n", r, r)
		}
		cm.WriteString("endbfchar\n")
	}
	cm.WriteString("endcmap CMapName currentdict /CMap defineresource pop end end\n")

	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	// 1 catalog, 2 page tree, 3 font, 4 its CID font, 5 its ToUnicode,
	// then page 6+k·i and its content 7+k·i (k = 2), with forms (k = 4)
	// the outer form 8+4i and the inner 9+4i.
	k := 2
	if forms {
		k = 4
	}
	// The stamp annotation and its appearance after the pages.
	annots := func(i int) string {
		if i+1 != stampPage {
			return ""
		}
		return fmt.Sprintf("/Annots[%d 0 R]", 6+k*len(pages))
	}
	obj("<</Type/Catalog/Pages 2 0 R>>")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 6+k*i)
	}
	obj(fmt.Sprintf("<</Type/Pages/Count %d/Kids[%s]>>", len(pages), strings.Join(kids, " ")))
	obj("<</Type/Font/Subtype/Type0/BaseFont/UKGText/Encoding/Identity-H/DescendantFonts[4 0 R]/ToUnicode 5 0 R>>")
	obj("<</Type/Font/Subtype/CIDFontType2/BaseFont/UKGText/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>/DW 1000/CIDToGIDMap/Identity" +
		"/FontDescriptor<</Type/FontDescriptor/FontName/UKGText/Flags 4/FontBBox[0 -120 1000 880]/ItalicAngle 0/Ascent 880/Descent -120/CapHeight 700/StemV 80>>>>")
	obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", cm.Len(), cm.String()))
	for i := range pages {
		if !forms {
			obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R>>>>/Contents %d 0 R%s>>", 7+2*i, annots(i)))
			obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(contents[i]), contents[i]))
			continue
		}
		page := "q 1 0 0 1 0 20 cm /Pg Do Q\n"
		outer := "/Body Do\n"
		obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</XObject<</Pg %d 0 R>>>>/Contents %d 0 R%s>>", 8+4*i, 7+4*i, annots(i)))
		obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(page), page))
		obj(fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox[0 0 595.276 841.89]/Matrix[1 0 0 1 0 -20]/Resources<</XObject<</Body %d 0 R>>>>/Length %d>>\nstream\n%s\nendstream", 9+4*i, len(outer), outer))
		obj(fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R>>>>/Length %d>>\nstream\n%s\nendstream", len(contents[i]), contents[i]))
	}
	if stampPage > 0 {
		base := 785 - 16*5.0 // where lines[5] would be
		obj(fmt.Sprintf("<</Type/Annot/Subtype/Stamp/F 4/Rect[56.7 %.1f %.1f %.1f]/AP<</N %d 0 R>>>>", base-8, 56.7+width, base+20, 7+k*len(pages)))
		obj(fmt.Sprintf("<</Type/XObject/Subtype/Form/BBox[0 0 %.1f 56]/Matrix[0.5 0 0 0.5 0 0]/Resources<</Font<</F1 3 0 R>>>>/Length %d>>\nstream\n%s\nendstream",
			2*width, stampContent.Len(), stampContent.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}
