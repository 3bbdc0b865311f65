package seal

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Form fields whose appearance a viewer makes itself. A document whose
// AcroForm says /NeedAppearances true asks every viewer to make its
// fields' appearances from their values, whatever appearance streams the
// widgets hold: a portal could store one text in a text field's
// appearance and give it another value. So, in such a document, a text
// field's widget (/FT /Tx, inherited through /Parent) is read as its
// value /V, laid out in the widget's /Rect (its /DA font size, else a
// size that fits; its /Q alignment; one line, or lines from the top for
// a multiline field), a choice field's (/Ch) as its selected value or
// values (an option's display text for its export value), and a field
// without a value as nothing; check boxes, radio buttons and signature
// fields keep their /AS appearance. Where the reader cannot be sure what
// a viewer shows, it reads what it can and marks the document
// (Excerpt.ViewerForms): rich text (/RV, which viewers may draw instead
// of /V), a comb field (its characters in cells), a password field (a
// viewer shows dots: its value is not read), a value that is not a text
// string (a stream), longer than the field's /MaxLen or than
// maxFieldRunes (the rest is not read).

// maxFieldRunes bounds the characters of a field's value read.
const maxFieldRunes = 4096

// maxFieldBytes bounds the bytes of a field's value looked at (a UTF-16
// string of maxFieldRunes and its escapes).
const maxFieldBytes = 4 * maxFieldRunes

// Field flags (/Ff) the reader follows.
const (
	fieldMultiline = 1 << 12
	fieldPassword  = 1 << 13
	fieldComb      = 1 << 24
)

// needAppearances reports whether the document's AcroForm says
// /NeedAppearances true (read once).
func (d *doc) needAppearances() bool {
	if d.need == 0 {
		d.need = -1
		if af, err := d.resolveDict(d.ctx.RootDict["AcroForm"]); err == nil {
			if o, err := d.ctx.Dereference(af["NeedAppearances"]); err == nil {
				if b, ok := o.(types.Boolean); ok && b.Value() {
					d.need = 1
				}
			}
		}
	}
	return d.need == 1
}

// fieldEntry finds the field entry key of the widget ad, in it or
// inherited from its /Parent fields (at most 32 up).
func (d *doc) fieldEntry(ad types.Dict, key string) types.Object {
	for i := 0; i < 32 && ad != nil; i++ {
		if o, ok := ad.Find(key); ok && o != nil {
			if v, err := d.ctx.Dereference(o); err == nil {
				return v
			}
			return nil
		}
		p, ok := ad.Find("Parent")
		if !ok || p == nil {
			return nil
		}
		ad, _ = d.resolveDict(p)
	}
	return nil
}

// fieldAppearance is the appearance a viewer makes for the widget ad at
// r of a document that needs appearances; handled false for a widget
// whose stored appearance is read (a button, a signature, not a field).
func (d *doc) fieldAppearance(ad types.Dict, r rect) (a annotAppearance, ok, handled bool) {
	ft, _ := d.fieldEntry(ad, "FT").(types.Name)
	if ft != "Tx" && ft != "Ch" {
		return annotAppearance{}, false, false
	}
	flags := 0
	if f, ok := d.fieldEntry(ad, "Ff").(types.Integer); ok && f > 0 {
		flags = int(f)
	}
	var lines []string
	switch ft {
	case "Tx":
		if d.fieldEntry(ad, "RV") != nil || flags&fieldComb != 0 {
			d.viewerForms = true
		}
		v, sure := d.fieldText(d.fieldEntry(ad, "V"))
		if !sure {
			d.viewerForms = true
		}
		if m, ok := d.fieldEntry(ad, "MaxLen").(types.Integer); ok && int(m) >= 0 && len([]rune(v)) > int(m) {
			d.viewerForms = true
		}
		if flags&fieldPassword != 0 {
			d.viewerForms, v = true, ""
		}
		if flags&fieldMultiline != 0 {
			lines = strings.FieldsFunc(strings.ReplaceAll(v, "\r\n", "\n"), func(r rune) bool { return r == '\n' || r == '\r' })
		} else if v != "" {
			lines = []string{strings.NewReplacer("\r", " ", "\n", " ").Replace(v)}
		}
	case "Ch":
		lines = d.choiceValues(ad)
	}
	if len(lines) == 0 {
		return annotAppearance{}, false, true
	}
	w, h := r[2]-r[0], r[3]-r[1]
	if !(w > 0 && h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return annotAppearance{}, false, true
	}
	size := d.fieldFontSize(ad)
	if size <= 0 {
		size = min(12, max(h-4, 1))
		if flags&fieldMultiline != 0 || len(lines) > 1 {
			size = 12
		}
	}
	q := 0
	if v, ok := d.fieldEntry(ad, "Q").(types.Integer); ok {
		q = int(v)
	}
	f := valueLayout(lines, w, h, size, q, len(lines) > 1 || flags&fieldMultiline != 0)
	return annotAppearance{f: f, m: matrix{1, 0, 0, 1, r[0], r[1]}}, true, true
}

// fieldText reads a field's value: a text string (at most maxFieldRunes
// characters); sure is false when it is something else or was cut. The
// bytes looked at count against the document's read limits, as each
// option a choice field's value is looked up in counts as an operator:
// a field shared by many widgets costs each time it is drawn.
func (d *doc) fieldText(o types.Object) (s string, sure bool) {
	sure = true
	var p *string
	var err error
	switch v := o.(type) {
	case nil:
		return "", true
	case types.StringLiteral:
		if !d.budget.spend(0, min(len(v), maxFieldBytes), 0) {
			return "", false
		}
		if len(v) > maxFieldBytes {
			// Cut before an escape the cut would break.
			v, sure = v[:maxFieldBytes], false
			if i := strings.LastIndexByte(string(v), '\\'); i >= maxFieldBytes-4 {
				v = v[:i]
			}
		}
		p, err = types.StringOrHexLiteral(v)
	case types.HexLiteral:
		if !d.budget.spend(0, min(len(v), 2*maxFieldBytes), 0) {
			return "", false
		}
		if len(v) > 2*maxFieldBytes {
			v, sure = v[:2*maxFieldBytes], false
		}
		p, err = types.StringOrHexLiteral(v)
	default:
		return "", false
	}
	if err != nil || p == nil {
		return "", false
	}
	if r := []rune(*p); len(r) > maxFieldRunes {
		return string(r[:maxFieldRunes]), false
	}
	return *p, sure
}

// choiceValues are the selected values of the choice field ad: /V, a
// text string or an array of them, each shown as the display text /Opt
// pairs with it as its export value.
func (d *doc) choiceValues(ad types.Dict) []string {
	var vs []types.Object
	switch v := d.fieldEntry(ad, "V").(type) {
	case nil:
		return nil
	case types.Array:
		vs = v
	default:
		vs = []types.Object{v}
	}
	opts, _ := d.fieldEntry(ad, "Opt").(types.Array)
	var out []string
	for i, o := range vs {
		if i >= 64 {
			d.viewerForms = true
			break
		}
		o, _ = d.ctx.Dereference(o)
		s, sure := d.fieldText(o)
		if !sure {
			d.viewerForms = true
		}
		for k, opt := range opts {
			if k >= 1024 || !d.budget.spend(1, 0, 0) {
				break
			}
			pair, err := d.ctx.DereferenceArray(opt)
			if err != nil || len(pair) != 2 {
				continue
			}
			e0, _ := d.ctx.Dereference(pair[0])
			e1, _ := d.ctx.Dereference(pair[1])
			if ex, ok := d.fieldText(e0); ok && ex == s {
				if disp, ok := d.fieldText(e1); ok {
					s = disp
				}
				break
			}
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// fieldFontSize is the font size the field's default appearance (/DA,
// inherited, else the AcroForm's) sets with Tf; 0: automatic or none.
func (d *doc) fieldFontSize(ad types.Dict) float64 {
	da := d.fieldEntry(ad, "DA")
	if da == nil {
		if af, err := d.resolveDict(d.ctx.RootDict["AcroForm"]); err == nil {
			da, _ = d.ctx.Dereference(af["DA"])
		}
	}
	s, sure := d.fieldText(da)
	if !sure || s == "" {
		return 0
	}
	size := 0.0
	scanContent([]byte(s), func(name string, args []operand) bool {
		if name == "Tf" && len(args) >= 2 && args[len(args)-1].kind == opNumber {
			size = args[len(args)-1].num
		}
		return true
	})
	if size < 0 || size > 1000 {
		return 0
	}
	return size
}

// valueLayout is the form a viewer's appearance of lines in a field w ×
// h comes close to: Helvetica's widths for Latin text, a full em for
// wide characters, size points, 2 points in from the edges, aligned by
// q (0 left, 1 centred, 2 right); one line centred on the height, or
// lines from the top.
func valueLayout(lines []string, w, h, size float64, q int, multi bool) *form {
	f := &textFont{codeLen: 2, toUni: map[uint32]string{}, widths: map[uint32]float64{}}
	codes := map[rune]uint32{}
	var b strings.Builder
	for i, l := range lines {
		var hex strings.Builder
		width := 0.0
		for _, r := range l {
			c, ok := codes[r]
			if !ok {
				c = uint32(len(codes) + 1)
				codes[r] = c
				f.toUni[c] = string(r)
				f.widths[c] = runeWidth(r)
			}
			width += f.widths[c] * size / 1000
			fmt.Fprintf(&hex, "%04X", c)
		}
		x := 2.0
		switch q {
		case 1:
			x = (w - width) / 2
		case 2:
			x = w - 2 - width
		}
		y := (h-size)/2 + 0.2*size
		if multi {
			y = h - 2 - size*float64(i+1) + 0.2*size
		}
		fmt.Fprintf(&b, "BT /V %g Tf %g %g Td <%s> Tj ET\n", size, x, y, hex.String())
		if len(codes) >= 1<<16-1 {
			break
		}
	}
	return &form{content: []byte(b.String()), matrix: identity, bbox: rect{0, 0, w, h}, hasBBox: true,
		res: fontsOnly(func(string) *textFont { return f }), subtyped: true}
}

// runeWidth is the width of r in a field's appearance (glyph units).
func runeWidth(r rune) float64 {
	if r < 0x1100 || !unicode.In(r, unicode.Han, unicode.Hangul, unicode.Hiragana, unicode.Katakana) && (r < 0xFF00 || r > 0xFFEF) && (r < 0x3000 || r > 0x303F) {
		if w, err := font.CharWidth("Helvetica", r); err == nil && w > 0 {
			return float64(w)
		}
		return 556
	}
	return 1000
}
