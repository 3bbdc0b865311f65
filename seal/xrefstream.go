package seal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// An incremental update's cross-reference takes the form of the section
// it chains to: a document whose newest section is a cross-reference
// stream (PDF 1.5 and later, as Chromium with object streams, qpdf,
// Word, iText and others write them) gets a cross-reference stream, one
// with a classic table a classic table. A classic section chained to a
// stream is a mix the standard does not define: poppler and qpdf read
// it, Acrobat's preflight and pdfium call the file damaged.

// xrefStreamAt reports whether the cross-reference section at offset of
// raw is a stream ("n g obj" rather than "xref").
func xrefStreamAt(raw []byte, offset int64) bool {
	if offset < 0 || offset >= int64(len(raw)) {
		return false
	}
	b := bytes.TrimLeft(raw[offset:min(int64(len(raw)), offset+64)], " \t\r\n\f\x00")
	if bytes.HasPrefix(b, []byte("xref")) {
		return false
	}
	f := strings.Fields(string(b))
	if len(f) < 3 || f[2] != "obj" && !strings.HasPrefix(f[2], "obj") {
		return false
	}
	_, err1 := strconv.Atoi(f[0])
	_, err2 := strconv.Atoi(f[1])
	return err1 == nil && err2 == nil
}

// writeXRefStream writes the update's objects (offsets, gens) and
// itself as cross-reference stream object nr at the end of out, with
// the trailer's entries (trailer: /Size, /Root, /Info, /ID, /Prev), and
// returns its offset (for startxref). Entries are type 1: offset in 4
// bytes (a document is at most MaxPDFBytes), generation in 2.
func writeXRefStream(out *bytes.Buffer, nr int, offsets, gens map[int]int, trailer types.Dict) int {
	at := out.Len()
	offsets, gens = maps.Clone(offsets), maps.Clone(gens)
	offsets[nr], gens[nr] = at, 0
	nrs := make([]int, 0, len(offsets))
	for n := range offsets {
		nrs = append(nrs, n)
	}
	sort.Ints(nrs)
	var index []string
	var data []byte
	for i := 0; i < len(nrs); {
		j := i
		for j+1 < len(nrs) && nrs[j+1] == nrs[j]+1 {
			j++
		}
		index = append(index, strconv.Itoa(nrs[i]), strconv.Itoa(j-i+1))
		for k := i; k <= j; k++ {
			data = append(data, 1)
			data = binary.BigEndian.AppendUint32(data, uint32(offsets[nrs[k]]))
			data = binary.BigEndian.AppendUint16(data, uint16(gens[nrs[k]]))
		}
		i = j + 1
	}
	dict := trailer.Clone().(types.Dict)
	dict.Delete("Length")
	var d strings.Builder
	d.WriteString("/Type/XRef/W[1 4 2]/Index[" + strings.Join(index, " ") + "]")
	for _, k := range []string{"Size", "Root", "Info", "ID", "Prev"} {
		if v, ok := dict[k]; ok && v != nil {
			d.WriteString("/" + k + " " + v.PDFString())
		}
	}
	fmt.Fprintf(out, "%d 0 obj\n", nr)
	out.Write(stream(d.String(), data))
	out.WriteString("\nendobj\n")
	return at
}
