package seal

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A page sketch is a picture the gateway draws of a page to seal from
// what it reads there (the runs of text of an Excerpt, at their places
// and sizes) with the page's box and the seal's rectangle: not a
// rendering. Pictures, drawings, colours and fonts are not drawn; the
// runs an annotation draws (a stamp, a note, a form field) are in blue,
// each in a dotted blue box; a run at an angle is drawn turned.

// Limits of a sketch.
const (
	// MaxSketchRuns bounds the runs of text a sketch draws (the first,
	// top to bottom).
	MaxSketchRuns = 150
	// SketchRunRunes bounds the characters of each run (cut with "…").
	SketchRunRunes = 48
)

// SketchPage asks for a sketch of one page with the seals on it.
type SketchPage struct {
	Page  int
	Seals []SketchSeal
}

// SketchSeal is a seal on a sketched page: its centre in millimetres from
// the top-left corner of the page as shown (Spot.XMM, Spot.YMM) and its
// size (0: only the centre is marked).
type SketchSeal struct {
	XMM, YMM          float64
	WidthMM, HeightMM float64
}

// Sketches parses pdf once (errors as ReadExcerpt, ErrTooLarge when
// the pages drawn pass the reader's document limits) and draws each of
// pages as an SVG document (UTF-8): the page's box as shown (after
// /Rotate), its runs of text as ReadExcerpt reads them (hidden characters
// as "[U+XXXX]", with hidden as there; an annotation's in blue, boxed),
// and each seal's rectangle, kept
// on the page as Seal keeps a keyword's, dashed, with its centre
// crossed. A page that cannot be read is drawn empty; one out of range
// is "". The same input draws the same bytes.
func Sketches(pdf []byte, pages []SketchPage, hidden func(rune) bool) ([]string, error) {
	d, err := readPDF(pdf)
	if err != nil {
		return nil, err
	}
	if hidden == nil {
		hidden = defaultHidden
	}
	out := make([]string, len(pages))
	for i, sp := range pages {
		if sp.Page < 1 || sp.Page > d.ctx.PageCount {
			continue
		}
		p, glyphs := d.glyphsOf(sp.Page)
		if p == nil {
			if p, err = d.page(sp.Page); err != nil {
				continue
			}
		}
		out[i] = sketch(p, linesOf(p, glyphs), sp.Seals, hidden)
	}
	if d.budget.over {
		return nil, d.errTooMuchContent()
	}
	return out, nil
}

func sketch(p *page, lines []textLine, seals []SketchSeal, hidden func(rune) bool) string {
	w, h := p.visualSize()
	n := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="%s" height="%s" font-family="sans-serif">`, n(w), n(h), n(w), n(h))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%s" height="%s" fill="#ffffff" stroke="#8b95a3" stroke-width="2"/>`, n(w), n(h))
	b.WriteString(`<g fill="#1f2937">`)
	drawn := 0
	for _, l := range lines {
		if drawn == MaxSketchRuns {
			break
		}
		raw, ok := l.raw(SketchRunRunes)
		if !ok {
			continue
		}
		drawn++
		text := neutral(raw, func(r rune) bool { return hidden(r) || !xmlChar(r) }, SketchRunRunes)
		// A run at an angle is drawn turned about its start.
		turn := ""
		if l.angle != 0 {
			turn = fmt.Sprintf(` transform="rotate(%s %s %s)"`, n(l.angle*180/math.Pi), n(l.ox), n(l.base))
		}
		if l.annot {
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s"%s fill="none" stroke="%s" stroke-width="1" stroke-dasharray="2 2" data-annot="1"/>`,
				n(l.ox-2), n(l.base-0.8*l.size-2), n(l.length+4), n(l.size+4), turn, annotBlue)
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" font-size="%s"%s`, n(l.ox), n(l.base), n(l.size), turn)
		if l.annot {
			fmt.Fprintf(&b, ` fill="%s" data-annot="1"`, annotBlue)
		}
		if l.length >= 1 && utf8.RuneCountInString(text) > 1 {
			fmt.Fprintf(&b, ` textLength="%s" lengthAdjust="spacingAndGlyphs"`, n(l.length))
		}
		b.WriteString(">")
		xmlEscape(&b, text)
		b.WriteString("</text>")
	}
	b.WriteString(`</g><g fill="none" stroke="#c81e1e" stroke-width="2">`)
	for _, s := range seals {
		cx, cy := s.XMM*ptPerMM, s.YMM*ptPerMM
		if sw, sh := s.WidthMM*ptPerMM, s.HeightMM*ptPerMM; sw > 0 && sh > 0 {
			x0, y0 := min(max(cx-sw/2, 0), w-sw), min(max(cy-sh/2, 0), h-sh)
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" stroke-dasharray="8 5"/>`, n(x0), n(y0), n(sw), n(sh))
		}
		fmt.Fprintf(&b, `<path d="M%s %sh20M%s %sv20"/>`, n(cx-10), n(cy), n(cx), n(cy-10))
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

// annotBlue is the colour of an annotation's runs in a sketch.
const annotBlue = "#1d4ed8"

// xmlChar: r may stand in XML 1.0 text.
func xmlChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

func xmlEscape(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
}
