package seal

import (
	"math"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// matrix is a PDF transformation [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (m applied first).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// textFont decodes a font's codes to text and gives their widths.
type textFont struct {
	codeLen  int               // bytes per code: 1 simple fonts, 2 Type0 (or from the CMap)
	toUni    map[uint32]string // from /ToUnicode
	widths   map[uint32]float64
	dw       float64         // default width (glyph units)
	coreName string          // a standard 14 font without /Widths
	enc      *simpleEncoding // a simple font's /Encoding (encoding.go), or nil
}

func (f *textFont) width(code uint32, text string) float64 {
	if w, ok := f.widths[code]; ok {
		return w
	}
	if f.coreName != "" && text != "" {
		if w, err := font.CharWidth(f.coreName, []rune(text)[0]); err == nil && w > 0 {
			return float64(w)
		}
	}
	return f.dw
}

func (f *textFont) decode(code uint32) string {
	if s, ok := f.toUni[code]; ok {
		return plainText(s)
	}
	if f.codeLen == 1 && f.enc != nil && code < 256 && f.enc[code] != "" {
		return f.enc[code]
	}
	if f.codeLen == 1 {
		return string(rune(code)) // Latin-1 for WinAnsi's common range
	}
	return "\uFFFD"
}

// glyph is one shown code: its text and where it starts and ends on the
// page (user space).
type glyph struct {
	text       string
	x, y, xEnd float64
	yEnd       float64
	size       float64
	// invisible: drawn with text render mode 3 or 7 (neither filled nor
	// stroked), as OCR layers and hidden markers are, or wholly outside
	// the clip (see clipState).
	invisible bool
	// annot: drawn by an annotation's appearance (see annotAppearance),
	// not by the page's content.
	annot bool
}

// textMatch is one occurrence of a keyword.
type textMatch struct {
	x0, x1, y, size float64
}

func (m textMatch) centreX() float64 { return (m.x0 + m.x1) / 2 }
func (m textMatch) centreY() float64 { return m.y + 0.3*m.size }

func matchGlyphs(glyphs []glyph, keyword string) []textMatch {
	if keyword == "" {
		return nil
	}
	var sb strings.Builder
	var owner []int // byte offset -> glyph index
	for i, g := range glyphs {
		if i > 0 && wordGap(glyphs[i-1], g) { // wordgap.go
			sb.WriteByte(' ')
			owner = append(owner, i-1)
		}
		sb.WriteString(g.text)
		for range len(g.text) {
			owner = append(owner, i)
		}
	}
	text := sb.String()
	var out []textMatch
	for from := 0; from < len(text); {
		k := strings.Index(text[from:], keyword)
		if k < 0 {
			break
		}
		a, b := owner[from+k], owner[from+k+len(keyword)-1]
		out = append(out, textMatch{x0: glyphs[a].x, x1: glyphs[b].xEnd, y: glyphs[a].y, size: glyphs[a].size})
		from += k + len(keyword)
	}
	return out
}

// contentRes is what the names of one content stream refer to (its
// /Resources): fonts and XObjects. found is false when the name is not
// there; the reader then looks in the resources of the stream that drew
// this one, out to the page's (as poppler does).
type contentRes interface {
	font(name string) (f *textFont, found bool)
	// xobject returns the form XObject name is, or nil (an image, a
	// stream that cannot be read) with found true.
	xobject(name string) (f *form, found bool)
	// ocOff reports whether the optional content name (in /Properties)
	// is off by default (oc.go).
	ocOff(name string) (off, found bool)
}

// fontsOnly is a contentRes without XObjects.
type fontsOnly func(name string) *textFont

func (r fontsOnly) font(name string) (*textFont, bool) {
	f := r(name)
	return f, f != nil
}

func (fontsOnly) xobject(string) (*form, bool) { return nil, false }

func (fontsOnly) ocOff(string) (bool, bool) { return false, false }

// form is a form XObject, ready to draw.
type form struct {
	id      int    // its object number, for cycles (0: not an indirect object)
	content []byte // decoded
	matrix  matrix // /Matrix, else identity
	bbox    rect   // /BBox in form space
	hasBBox bool
	res     contentRes // its own /Resources, or nil
	// subtyped: the stream says /Subtype/Form (one without may be an
	// annotation's appearance, not an XObject).
	subtyped bool
	// off: its /OC is off by default (oc.go): it is not drawn.
	off bool
}

// rect is an axis-aligned rectangle llx lly urx ury.
type rect [4]float64

// box is the smallest rectangle holding r transformed by m.
func (r rect) box(m matrix) rect {
	out := rect{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, c := range [4][2]float64{{r[0], r[1]}, {r[2], r[1]}, {r[0], r[3]}, {r[2], r[3]}} {
		x, y := m.apply(c[0], c[1])
		out = rect{min(out[0], x), min(out[1], y), max(out[2], x), max(out[3], y)}
	}
	return out
}

func (r rect) intersect(o rect) rect {
	return rect{max(r[0], o[0]), max(r[1], o[1]), min(r[2], o[2]), min(r[3], o[3])}
}

// readLimits bound what the text reader does for the keyword search, the
// excerpt and the sketches alike. A page is read with the form XObjects
// its content draws (Do), each as often as it is drawn: operators, bytes
// of content scanned and glyphs are counted for the page and for the
// document. At a page's limit the rest of that page is not read (as a
// longer content stream always was); at the document's, reading stops
// and the document is refused (ErrTooLarge): a hostile PDF cannot make
// the gateway spend more than the document's limits, whatever it nests
// or repeats.
type readLimits struct {
	formDepth                      int // forms inside forms (the page's content is depth 0)
	pageOps, pageBytes, pageGlyphs int
	docOps, docBytes, docGlyphs    int
}

// defaultReadLimits: one page is at most a million operators, 32 MiB
// of content and a million glyphs; a document eight million operators,
// 128 MiB (form XObjects' decoded content counted once more) and two
// million glyphs, about a 700-page contract.
var defaultReadLimits = readLimits{
	formDepth: 8,
	pageOps:   1 << 20, pageBytes: 32 << 20, pageGlyphs: 1 << 20,
	docOps: 1 << 23, docBytes: 128 << 20, docGlyphs: 1 << 21,
}

// readBudget is what a document's reads have spent of lim.
type readBudget struct {
	lim                 readLimits
	ops, bytes, glyphs  int
	over                bool // a document limit was reached
	lastOps, lastGlyphs int  // spent by the last page read (tests)
}

// spend counts n operators, bytes and glyphs against the document; false
// once a limit is passed.
func (b *readBudget) spend(ops, bytes, glyphs int) bool {
	b.ops, b.bytes, b.glyphs = b.ops+ops, b.bytes+bytes, b.glyphs+glyphs
	if b.ops > b.lim.docOps || b.bytes > b.lim.docBytes || b.glyphs > b.lim.docGlyphs {
		b.over = true
	}
	return !b.over
}

// maxMarked bounds the nested marked content followed in one stream.
const maxMarked = 256

// pageGlyphs follows the graphics and text state through a page's
// content stream and the form XObjects it draws (each with its /Matrix,
// clipped to its /BBox; with its own /Resources, a name it does not hold
// looked up in the drawing stream's), within b's limits (nil: a budget
// of its own at defaultReadLimits), then draws the annotations'
// appearances annots as forms drawn by the page (their glyphs marked
// annot). Text wholly outside the clip (a form's /BBox, a clipping path:
// see clipState) is invisible. A form drawn inside itself, directly or
// through others, or deeper than formDepth, is not drawn again; images
// are skipped.
func pageGlyphs(content []byte, res contentRes, b *readBudget, annots ...annotAppearance) []glyph {
	if b == nil {
		b = &readBudget{lim: defaultReadLimits}
	}
	lim := b.lim
	type gstate struct {
		ctm                    matrix
		font                   *textFont
		size, tc, tw, th, lead float64
		render                 float64 // Tr
		clip                   clipState
	}
	gs := gstate{ctm: identity, th: 1}
	var tm, tlm matrix = identity, identity
	var out []glyph
	fallback := &textFont{codeLen: 1, dw: 500}
	resStack := []contentRes{res}
	var drawing []int // object numbers of the forms being drawn
	pageOps, pageBytes := 0, 0
	stop := false
	var path pathBox // the path being built
	inAnnot := false
	offMC := 0 // marked content of optional content off by default being drawn (oc.go)

	fontFor := func(name string) *textFont {
		return lookup(resStack, func(r contentRes) (*textFont, bool) { return r.font(name) })
	}
	formFor := func(name string) *form {
		return lookup(resStack, func(r contentRes) (*form, bool) { return r.xobject(name) })
	}
	show := func(s []byte) {
		f := gs.font
		if f == nil {
			f = fallback
		}
		n := f.codeLen
		if n < 1 || n > 4 {
			n = 1
		}
		for i := 0; i+n <= len(s) && !stop; i += n {
			if len(out) >= lim.pageGlyphs || !b.spend(0, 0, 1) {
				stop = true
				break
			}
			var code uint32
			for k := 0; k < n; k++ {
				code = code<<8 | uint32(s[i+k])
			}
			text := f.decode(code)
			trm := tm.mul(gs.ctm)
			x, y := trm.apply(0, 0)
			// The glyph's box ends at its width; the character and word
			// spacing after it (Tc, Tw) are a gap, as between words
			// that Ghostscript spaces with Tc rather than a space glyph.
			w0 := f.width(code, text) / 1000
			// The glyph's box in text space: its width, from the
			// descent to the ascent of a usual font.
			wx, lo, hi := w0*gs.size*gs.th, -0.2*gs.size, 0.8*gs.size
			quad := [4][2]float64{{0, lo}, {wx, lo}, {0, hi}, {wx, hi}}
			for k, c := range quad {
				quad[k][0], quad[k][1] = trm.apply(c[0], c[1])
			}
			xe, ye := trm.apply(wx, 0)
			tx := (w0*gs.size + gs.tc) * gs.th
			if n == 1 && code == 32 {
				tx += gs.tw * gs.th
			}
			tm = matrix{1, 0, 0, 1, tx, 0}.mul(tm)
			size := abs(gs.size) * math.Hypot(trm[2], trm[3])
			out = append(out, glyph{text: text, x: x, y: y, xEnd: xe, yEnd: ye, size: size,
				invisible: gs.render == 3 || gs.render == 7 || offMC > 0 || !gs.clip.shows(quad), annot: inAnnot})
		}
	}
	nums := func(args []operand, n int) ([]float64, bool) {
		if len(args) < n {
			return nil, false
		}
		v := make([]float64, n)
		for i := 0; i < n; i++ {
			a := args[len(args)-n+i]
			if a.kind != opNumber {
				return nil, false
			}
			v[i] = a.num
		}
		return v, true
	}
	td := func(tx, ty float64) {
		tlm = matrix{1, 0, 0, 1, tx, ty}.mul(tlm)
		tm = tlm
	}
	lastString := func(args []operand) ([]byte, bool) {
		if len(args) == 0 || args[len(args)-1].kind != opString {
			return nil, false
		}
		return args[len(args)-1].str, true
	}
	var run func(content []byte, depth int)
	// drawForm draws the form f at depth.
	drawForm := func(f *form, depth int) {
		if f == nil || f.off || depth >= lim.formDepth || (f.id != 0 && slices.Contains(drawing, f.id)) {
			return
		}
		saved, savedTm, savedTlm := gs, tm, tlm
		gs.ctm = f.matrix.mul(gs.ctm)
		if f.hasBBox {
			gs.clip = gs.clip.withRect(f.bbox, gs.ctm)
		}
		resStack = append(resStack, f.res)
		drawing = append(drawing, f.id)
		run(f.content, depth+1)
		resStack, drawing = resStack[:len(resStack)-1], drawing[:len(drawing)-1]
		gs, tm, tlm = saved, savedTm, savedTlm
	}
	// draw draws the form XObject named by args at depth.
	draw := func(args []operand, depth int) {
		if len(args) == 0 || args[len(args)-1].kind != opName {
			return
		}
		drawForm(formFor(string(args[len(args)-1].str)), depth)
	}
	run = func(content []byte, depth int) {
		if pageBytes += len(content); pageBytes > lim.pageBytes || !b.spend(0, len(content), 0) {
			stop = true
			return
		}
		var stack []gstate // this stream's q
		var marked []bool  // this stream's marked content: off or not
		extraMC := 0       // past maxMarked: not followed, each ended by an EMC
		defer func() {
			for _, off := range marked {
				if off {
					offMC--
				}
			}
		}()
		scanContent(content, func(name string, args []operand) bool {
			if pageOps++; pageOps > lim.pageOps || !b.spend(1, 0, 0) {
				stop = true
				return false
			}
			switch name {
			case "q":
				if len(stack) < 64 {
					stack = append(stack, gs)
				}
			case "Q":
				if len(stack) > 0 {
					gs = stack[len(stack)-1]
					stack = stack[:len(stack)-1]
				}
			case "cm":
				if v, ok := nums(args, 6); ok {
					gs.ctm = matrix{v[0], v[1], v[2], v[3], v[4], v[5]}.mul(gs.ctm)
				}
			case "Do":
				draw(args, depth)
			case "BMC", "BDC":
				if len(marked) >= maxMarked {
					extraMC++
					break
				}
				off := false
				if name == "BDC" && len(args) >= 2 && args[len(args)-2].kind == opName && string(args[len(args)-2].str) == "OC" && args[len(args)-1].kind == opName {
					pn := string(args[len(args)-1].str)
					off = lookup(resStack, func(r contentRes) (bool, bool) { return r.ocOff(pn) })
				}
				marked = append(marked, off)
				if off {
					offMC++
				}
			case "EMC":
				if extraMC > 0 {
					extraMC--
				} else if len(marked) > 0 {
					if marked[len(marked)-1] {
						offMC--
					}
					marked = marked[:len(marked)-1]
				}
			case "m", "l", "c", "v", "y", "re":
				if v, ok := nums(args, pathOperands[name]); ok {
					path.op(name, v, gs.ctm)
				}
			case "W", "W*":
				path.clipOp = true
			case "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n":
				gs.clip = path.end(gs.clip)
			case "BT":
				tm, tlm = identity, identity
			case "Tf":
				if len(args) >= 2 && args[len(args)-2].kind == opName && args[len(args)-1].kind == opNumber {
					gs.font = fontFor(string(args[len(args)-2].str))
					gs.size = args[len(args)-1].num
				}
			case "Tc":
				if v, ok := nums(args, 1); ok {
					gs.tc = v[0]
				}
			case "Tw":
				if v, ok := nums(args, 1); ok {
					gs.tw = v[0]
				}
			case "Tz":
				if v, ok := nums(args, 1); ok {
					gs.th = v[0] / 100
				}
			case "TL":
				if v, ok := nums(args, 1); ok {
					gs.lead = v[0]
				}
			case "Tr":
				if v, ok := nums(args, 1); ok {
					gs.render = v[0]
				}
			case "Td":
				if v, ok := nums(args, 2); ok {
					td(v[0], v[1])
				}
			case "TD":
				if v, ok := nums(args, 2); ok {
					gs.lead = -v[1]
					td(v[0], v[1])
				}
			case "Tm":
				if v, ok := nums(args, 6); ok {
					tlm = matrix{v[0], v[1], v[2], v[3], v[4], v[5]}
					tm = tlm
				}
			case "T*":
				td(0, -gs.lead)
			case "Tj":
				if s, ok := lastString(args); ok {
					show(s)
				}
			case "'":
				td(0, -gs.lead)
				if s, ok := lastString(args); ok {
					show(s)
				}
			case "\"":
				if len(args) >= 3 {
					if v, ok := nums(args[:len(args)-1], 2); ok {
						gs.tw, gs.tc = v[0], v[1]
					}
				}
				td(0, -gs.lead)
				if s, ok := lastString(args); ok {
					show(s)
				}
			case "TJ":
				if len(args) == 0 || args[len(args)-1].kind != opArray {
					break
				}
				for _, e := range args[len(args)-1].arr {
					switch e.kind {
					case opString:
						show(e.str)
					case opNumber:
						tx := -e.num / 1000 * gs.size * gs.th
						tm = matrix{1, 0, 0, 1, tx, 0}.mul(tm)
					}
				}
			}
			return !stop
		})
	}
	run(content, 0)
	// The annotations, each as a form the page draws in a fresh state.
	inAnnot = true
	for _, a := range annots {
		if stop {
			break
		}
		gs, tm, tlm, path = gstate{ctm: a.m, th: 1}, identity, identity, pathBox{}
		resStack, drawing = []contentRes{res}, nil
		drawForm(a.f, 0)
	}
	b.lastOps, b.lastGlyphs = pageOps, len(out)
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func (d *doc) textFont(fd types.Dict) *textFont {
	f := &textFont{codeLen: 1, dw: 500, widths: map[uint32]float64{}}
	subtype := fd.NameEntry("Subtype")
	if subtype != nil && *subtype == "Type0" {
		f.codeLen, f.dw = 2, 1000
		if a, err := d.ctx.DereferenceArray(fd["DescendantFonts"]); err == nil && len(a) > 0 {
			if cid, err := d.resolveDict(a[0]); err == nil {
				if dw, err := d.ctx.DereferenceNumber(cid["DW"]); err == nil && cid["DW"] != nil {
					f.dw = dw
				}
				if w, err := d.ctx.DereferenceArray(cid["W"]); err == nil {
					d.cidWidths(f, w)
				}
			}
		}
	} else {
		first := 0.0
		if fc, err := d.ctx.DereferenceNumber(fd["FirstChar"]); err == nil && fd["FirstChar"] != nil {
			first = fc
		}
		if w, err := d.ctx.DereferenceArray(fd["Widths"]); err == nil && len(w) > 0 {
			for i, o := range w {
				if i > 256 {
					break
				}
				if v, err := d.ctx.DereferenceNumber(o); err == nil {
					f.widths[uint32(first)+uint32(i)] = v
				}
			}
		} else if bf := fd.NameEntry("BaseFont"); bf != nil && font.IsCoreFont(*bf) {
			f.coreName = *bf
		}
		f.enc = d.fontEncoding(fd)
	}
	if o, ok := fd.Find("ToUnicode"); ok && o != nil {
		if sd, _, err := d.ctx.DereferenceStreamDict(o); err == nil && sd != nil {
			if err := sd.Decode(); err == nil {
				cm := parseToUnicode(sd.Content)
				f.toUni = cm.m
				if cm.codeLen > 0 {
					f.codeLen = cm.codeLen
				}
			}
		}
	}
	return f
}

// cidWidths reads a CIDFont /W array: c [w1 w2 …] or cfirst clast w.
func (d *doc) cidWidths(f *textFont, w types.Array) {
	n := 0
	for i := 0; i < len(w) && n < 1<<16; {
		c, err := d.ctx.DereferenceNumber(w[i])
		if err != nil || i+1 >= len(w) {
			return
		}
		if arr, err := d.ctx.DereferenceArray(w[i+1]); err == nil && arr != nil {
			for k, o := range arr {
				if v, err := d.ctx.DereferenceNumber(o); err == nil {
					f.widths[uint32(c)+uint32(k)] = v
					n++
				}
			}
			i += 2
			continue
		}
		if i+2 >= len(w) {
			return
		}
		last, err1 := d.ctx.DereferenceNumber(w[i+1])
		v, err2 := d.ctx.DereferenceNumber(w[i+2])
		if err1 != nil || err2 != nil || last < c || last-c > 1<<16 {
			return
		}
		for k := uint32(c); k <= uint32(last) && n < 1<<16; k++ {
			f.widths[k] = v
			n++
		}
		i += 3
	}
}

// cmap is a parsed /ToUnicode CMap.
type cmap struct {
	codeLen int
	m       map[uint32]string
}

// maxCMapEntries bounds a ToUnicode map.
const maxCMapEntries = 1 << 16

// parseToUnicode reads bfchar and bfrange entries of a ToUnicode CMap.
func parseToUnicode(b []byte) cmap {
	out := cmap{m: map[uint32]string{}}
	var args []operand
	mode := ""
	l := &lexer{b: b}
	for n := 0; n < maxOperations; n++ {
		t, o, name := l.next(0)
		if t == tokEOF {
			break
		}
		switch t {
		case tokOperand:
			switch mode {
			case "codespace":
				if o.kind == opString && out.codeLen == 0 && len(o.str) >= 1 && len(o.str) <= 4 {
					out.codeLen = len(o.str)
				}
			case "bfchar":
				args = append(args, o)
				if len(args) == 2 {
					if args[0].kind == opString && args[1].kind == opString {
						out.set(codeOf(args[0].str), utf16Text(args[1].str))
					}
					args = args[:0]
				}
			case "bfrange":
				args = append(args, o)
				if len(args) == 3 {
					out.bfrange(args)
					args = args[:0]
				}
			}
		case tokOperator:
			args = args[:0]
			switch name {
			case "begincodespacerange":
				mode = "codespace"
			case "beginbfchar":
				mode = "bfchar"
			case "beginbfrange":
				mode = "bfrange"
			default:
				if strings.HasPrefix(name, "end") {
					mode = ""
				}
			}
		}
		if len(out.m) >= maxCMapEntries {
			break
		}
	}
	return out
}

func (c *cmap) set(code uint32, s string) {
	if len(c.m) < maxCMapEntries {
		c.m[code] = s
	}
}

func (c *cmap) bfrange(a []operand) {
	if a[0].kind != opString || a[1].kind != opString {
		return
	}
	lo, hi := codeOf(a[0].str), codeOf(a[1].str)
	if hi < lo || hi-lo > maxCMapEntries {
		return
	}
	switch a[2].kind {
	case opString:
		dst := []rune(utf16Text(a[2].str))
		if len(dst) == 0 {
			return
		}
		for k := uint32(0); k <= hi-lo && len(c.m) < maxCMapEntries; k++ {
			r := append([]rune(nil), dst...)
			r[len(r)-1] += rune(k)
			c.set(lo+k, string(r))
		}
	case opArray:
		for k, e := range a[2].arr {
			if uint32(k) > hi-lo {
				break
			}
			if e.kind == opString {
				c.set(lo+uint32(k), utf16Text(e.str))
			}
		}
	}
}

func codeOf(b []byte) uint32 {
	var c uint32
	for i := 0; i < len(b) && i < 4; i++ {
		c = c<<8 | uint32(b[i])
	}
	return c
}

func utf16Text(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

// lookup finds a resource by get in the innermost resources of stack
// that hold it (a name a form's /Resources lack is looked up in the
// drawing stream's, out to the page's); the zero T if none does.
func lookup[T any](stack []contentRes, get func(contentRes) (T, bool)) T {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i] == nil {
			continue
		}
		if v, ok := get(stack[i]); ok {
			return v
		}
	}
	var zero T
	return zero
}
