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
