package seal

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What the gateway itself reads in a PDF it is asked to seal, for the
// phone user to hold against the portal's own words: the page count, the
// first lines of page 1 (usually the title) and the text nearest to each
// place the seal lands. It is read with the text locator of keyword
// placements (pageGlyphs), within its limits (readLimits): text drawn by
// the page content streams and the form XObjects they draw (nested to
// formDepth, with their /Matrix and clipped to their /BBox), then by the
// appearances of the page's annotations (see annotAppearances; their
// runs are marked; a form field of a document that asks viewers to make
// its fields' appearances is read from its value: forms.go), with a
// /ToUnicode map or a simple encoding.
// Pictures (a scanned page), drawings, text drawn invisibly (render mode
// 3 or 7, as OCR layers are), text off the page or wholly outside the
// clip (its form's /BBox, a clipping path: see clipState), hidden
// annotations, an annotation's /Contents, content of optional content
// off by default (oc.go), and glyphs under MinGlyphPt
// are not read; a page with nothing else says so (NoText). Text drawn in
// the page's colour or covered by a picture is read although nobody sees
// it: the excerpt is what the file says, not a rendering.

// Excerpt is what the gateway read in a document to seal.
type Excerpt struct {
	// Pages is the document's page count.
	Pages int `json:"pages"`
	// Seals is how many seal images the placements draw: one per
	// coordinate placement, one per occurrence of each keyword (a straddle
	// seal's strips are not counted).
	Seals int `json:"seals"`
	// First is the first lines of page 1, top to bottom.
	First ExcerptLines `json:"first"`
	// Spots are where the seal lands, in the order of the placements (a
	// keyword's occurrences page by page, top to bottom), at most
	// ExcerptLimits.Spots; SpotsLeftOut counts the others.
	Spots        []Spot `json:"spots,omitempty"`
	SpotsLeftOut int    `json:"spots_left_out,omitempty"`
	// ViewerForms: a page read holds a form field whose display the
	// gateway cannot be sure of, in a document that asks viewers to make
	// its fields' appearances (rich text, a comb or password field, a
	// value that is not text or too long: see forms.go); the phone says
	// that what a viewer shows there may differ from what it reads.
	ViewerForms bool `json:"viewer_forms,omitempty"`

	// src is what was read, for Limit; not on the wire.
	src *excerptSource
}

// ExcerptLines are lines of text as read: each cut to
// ExcerptLimits.LineRunes with "…", an invisible or direction-changing
// character shown as "[U+XXXX]" (see ReadExcerpt's hidden), runs of
// spaces as one. NoText: the page holds no readable text (no letter,
// digit, punctuation or symbol besides U+FFFD, the replacement for a code
// without a /ToUnicode entry).
type ExcerptLines struct {
	Lines []string `json:"lines,omitempty"`
	// Annotations are the indexes in Lines of the runs an annotation
	// draws (a stamp, a note, a form field), not the page itself.
	Annotations []int `json:"annotations,omitempty"`
	NoText      bool  `json:"no_text,omitempty"`
}

// Spot is one place the seal lands and the text nearest to it.
type Spot struct {
	// Placement is the index of the placement in the document's.
	Placement int `json:"placement"`
	// Page is where the seal lands (0 with NotFound).
	Page int `json:"page,omitempty"`
	// XMM and YMM are the seal's centre in millimetres from the top-left
	// corner of the page as shown (a keyword's: the middle of the
	// occurrence, to 0.1 mm, before the seal is moved to stay on the
	// page).
	XMM float64 `json:"x_mm"`
	YMM float64 `json:"y_mm"`
	// Lines are the runs of text nearest to the centre, top to bottom;
	// Nearest is the index of the nearest, DistanceMM how far its box is
	// from the centre (0: the centre is on it).
	Lines      []string `json:"lines,omitempty"`
	Nearest    int      `json:"nearest"`
	DistanceMM float64  `json:"distance_mm"`
	// Annotations are the indexes in Lines of the runs an annotation
	// draws.
	Annotations []int `json:"annotations,omitempty"`
	// NoText: the page holds no readable text.
	NoText bool `json:"no_text,omitempty"`
	// NotFound: the keyword is on no page (sealing will fail).
	NotFound bool `json:"not_found,omitempty"`
}

// ExcerptLimits bound an Excerpt.
type ExcerptLimits struct {
	FirstLines int // lines of page 1
	Spots      int // spots listed
	SpotLines  int // lines per spot
	LineRunes  int // characters per line, markers and "…" included
}

// DefaultExcerptLimits are ReadExcerpt's, and the most Limit gives.
var DefaultExcerptLimits = ExcerptLimits{FirstLines: 3, Spots: 8, SpotLines: 3, LineRunes: 64}

// MinGlyphPt is the smallest glyph (points, as drawn) an excerpt reads.
const MinGlyphPt = 1.0

// excerptSource is what ReadExcerpt read, at DefaultExcerptLimits.
type excerptSource struct {
	hidden  func(rune) bool
	first   []rawLine
	noText  bool
	spots   []spotSource
	leftOut int // spots beyond DefaultExcerptLimits.Spots
}

type spotSource struct {
	Spot
	raw []rawLine
}

// ReadExcerpt parses pdf (ErrBadPDF, ErrTooLarge as Seal) and reads its
// excerpt for placements at DefaultExcerptLimits; a document whose
// content passes the reader's document limits (see readLimits) is
// ErrTooLarge. hidden reports the characters shown as "[U+XXXX]" (the
// gateway passes protocol.HiddenRune; nil: control and format
// characters, line and paragraph separators). The result depends on pdf
// and placements only.
func ReadExcerpt(pdf []byte, placements []Placement, hidden func(rune) bool) (*Excerpt, error) {
	d, err := readPDF(pdf)
	if err != nil {
		return nil, err
	}
	e := d.excerpt(placements, hidden)
	if d.budget.over {
		return nil, d.errTooMuchContent()
	}
	return e.Limit(DefaultExcerptLimits), nil
}

// pageLines are the runs of text of one page (see linesOf), or none.
type pageLines struct {
	lines []textLine
	ok    bool // the page could be read
}

// glyphsOf reads the glyphs of page nr, with the form XObjects it draws
// and its annotations' appearances (see pageGlyphs, annotAppearances);
// a page pdfcpu cannot read (or panics on) has none, and so has every
// page once the document's read limits are passed (d.budget.over).
func (d *doc) glyphsOf(nr int) (p *page, glyphs []glyph) {
	defer func() {
		if recover() != nil {
			p, glyphs = nil, nil
		}
	}()
	p, err := d.page(nr)
	if err != nil {
		return nil, nil
	}
	if d.budget.over {
		return p, nil
	}
	content := d.pageContent(p)
	annots := d.annotAppearances(p)
	if (len(content) == 0 && len(annots) == 0) || d.budget.over {
		return p, nil
	}
	return p, pageGlyphs(content, d.pageRes(p), &d.budget, annots...)
}

func (d *doc) excerpt(placements []Placement, hidden func(rune) bool) *Excerpt {
	if hidden == nil {
		hidden = defaultHidden
	}
	lim := DefaultExcerptLimits
	src := &excerptSource{}
	e := &Excerpt{Pages: d.ctx.PageCount, src: src}

	// Every occurrence of every keyword, page by page (as Seal finds them).
	found := make([][]Spot, len(placements))
	keywords := slices.ContainsFunc(placements, func(p Placement) bool { return p.Keyword != "" })
	total := 0
	for nr := 1; keywords && nr <= d.ctx.PageCount && total <= MaxPlacements && !d.budget.over; nr++ {
		p, glyphs := d.glyphsOf(nr)
		if p == nil {
			continue
		}
		for i, pl := range placements {
			if pl.Keyword == "" {
				continue
			}
			for _, m := range matchGlyphs(glyphs, pl.Keyword) {
				x, y := p.fromUser(m.centreX(), m.centreY())
				found[i] = append(found[i], Spot{Placement: i, Page: nr, XMM: roundMM(x / ptPerMM), YMM: roundMM(y / ptPerMM)})
				total++
			}
		}
	}
	var spots []Spot
	for i, pl := range placements {
		switch {
		case pl.Keyword == "":
			spots = append(spots, Spot{Placement: i, Page: pl.Page, XMM: pl.XMM, YMM: pl.YMM})
			e.Seals++
		case len(found[i]) == 0:
			spots = append(spots, Spot{Placement: i, NotFound: true})
		default:
			spots = append(spots, found[i]...)
			e.Seals += len(found[i])
		}
	}
	if len(spots) > lim.Spots {
		src.leftOut = len(spots) - lim.Spots
		spots = spots[:lim.Spots]
	}

	cache := map[int]pageLines{}
	linesOf := func(nr int) pageLines {
		if pl, ok := cache[nr]; ok {
			return pl
		}
		var pl pageLines
		if p, glyphs := d.glyphsOf(nr); p != nil {
			pl = pageLines{lines: linesOf(p, glyphs), ok: true}
		}
		cache[nr] = pl
		return pl
	}

	first := linesOf(1)
	for _, l := range first.lines {
		if len(src.first) == lim.FirstLines {
			break
		}
		if s, ok := l.raw(lim.LineRunes); ok {
			src.first = append(src.first, s)
		}
	}
	src.noText = len(src.first) == 0
	for _, s := range spots {
		ss := spotSource{Spot: s}
		if !s.NotFound {
			ss.raw, ss.Nearest, ss.DistanceMM = nearestLines(linesOf(s.Page).lines, s.XMM*ptPerMM, s.YMM*ptPerMM, lim)
			ss.NoText = len(ss.raw) == 0
		}
		src.spots = append(src.spots, ss)
	}
	src.hidden = hidden
	e.ViewerForms = d.viewerForms
	return e
}

// defaultHidden is ReadExcerpt's hidden when none is given.
func defaultHidden(r rune) bool {
	return r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r))
}

// Limit returns e at lim (each at most DefaultExcerptLimits), from what
// ReadExcerpt read; an Excerpt not made by ReadExcerpt is returned as it
// is.
func (e *Excerpt) Limit(lim ExcerptLimits) *Excerpt {
	if e == nil || e.src == nil {
		return e
	}
	def := DefaultExcerptLimits
	lim.FirstLines = min(max(lim.FirstLines, 1), def.FirstLines)
	lim.Spots = min(max(lim.Spots, 1), def.Spots)
	lim.SpotLines = min(max(lim.SpotLines, 1), def.SpotLines)
	lim.LineRunes = min(max(lim.LineRunes, 8), def.LineRunes)
	src := e.src
	out := &Excerpt{Pages: e.Pages, Seals: e.Seals, ViewerForms: e.ViewerForms, src: src}
	cut := func(raw []rawLine) (lines []string, annots []int) {
		for i, r := range raw {
			lines = append(lines, neutral(r, src.hidden, lim.LineRunes))
			if r.annot {
				annots = append(annots, i)
			}
		}
		return lines, annots
	}
	out.First = ExcerptLines{NoText: src.noText}
	out.First.Lines, out.First.Annotations = cut(src.first[:min(len(src.first), lim.FirstLines)])
	n := min(len(src.spots), lim.Spots)
	out.SpotsLeftOut = src.leftOut + len(src.spots) - n
	for _, ss := range src.spots[:n] {
		s := ss.Spot
		// A window of SpotLines lines around the nearest.
		from := max(0, min(s.Nearest-(lim.SpotLines-1)/2, len(ss.raw)-lim.SpotLines))
		to := min(len(ss.raw), from+lim.SpotLines)
		s.Lines, s.Annotations = cut(ss.raw[from:to])
		s.Nearest -= from
		out.Spots = append(out.Spots, s)
	}
	return out
}

// shownGlyph is a glyph in the page's shown coordinates (points from the
// top-left corner, y down, after /Rotate): x0..x1 along, baseline y.
type shownGlyph struct {
	text      string
	x0, x1, y float64
	size      float64
	annot     bool
}

// textLine is a run of text on one baseline of a page as shown, its
// glyphs left to right, and its box.
type textLine struct {
	glyphs              []shownGlyph
	x0, x1, top, bottom float64
	base, size          float64 // the first glyph's baseline, the largest size
	annot               bool    // drawn by an annotation
	// A run at an angle (see slantLine): it starts at ox, base and runs
	// length points at angle (radians, clockwise as shown); its glyphs'
	// x0 and x1 are along it. 0 for a run left to right.
	ox, angle, length float64
}

// Runs of text: glyphs whose baselines are within lineTolerance × their
// size of a line's first make one line; a gap wider than runGap × size
// splits a line into runs (two columns, 甲方 and 乙方 side by side); a gap
// wider than spaceGap × size reads as a space (producers that draw no
// space glyph, as Ghostscript does, leave a quarter of the size between
// words; poppler breaks words at a tenth).
const (
	lineTolerance = 0.35
	runGap        = 3.0
	spaceGap      = 0.15
	// dupGap: the same glyph again less than dupGap × size from the
	// first is the same character drawn twice (a faked bold).
	dupGap = 0.1
)

// fromUser maps a user-space point to the page as shown (points from the
// top-left corner of its box, y down): toUser's inverse.
func (p *page) fromUser(x, y float64) (vx, vy float64) {
	b := p.box
	switch p.rot {
	case 90:
		return y - b.LL.Y, x - b.LL.X
	case 180:
		return b.UR.X - x, y - b.LL.Y
	case 270:
		return b.UR.Y - y, b.UR.X - x
	default:
		return x - b.LL.X, b.UR.Y - y
	}
}

// linesOf groups the visible glyphs of page p into runs of text, top to
// bottom and left to right: the page's apart from the annotations' (a
// run is the one or the other), and text at an angle apart (see
// slantRuns). Glyphs drawn invisibly, smaller than MinGlyphPt or larger
// than the page, or whose start is off the page are left out.
func linesOf(p *page, glyphs []glyph) []textLine {
	w, h := p.visualSize()
	var gs, annots []shownGlyph
	var slants []slantGlyph
	for _, g := range glyphs {
		if g.invisible || g.text == "" || !(g.size >= MinGlyphPt) || g.size > w+h {
			continue
		}
		x, y := p.fromUser(g.x, g.y)
		xe, ye := p.fromUser(g.xEnd, g.yEnd)
		if !(x >= -1 && y >= -1 && x <= w+1 && y <= h+1) || math.IsNaN(xe) || math.IsInf(xe, 0) || math.IsNaN(ye) || math.IsInf(ye, 0) {
			continue
		}
		if slanted(x, y, xe, ye) {
			slants = append(slants, slantGlyph{text: g.text, x: x, y: y, xe: xe, ye: ye, size: g.size, annot: g.annot})
			continue
		}
		sg := shownGlyph{text: g.text, x0: min(x, xe), x1: max(x, xe), y: y, size: g.size, annot: g.annot}
		if g.annot {
			annots = append(annots, sg)
		} else {
			gs = append(gs, sg)
		}
	}
	out := append(append(runsOf(gs), runsOf(annots)...), slantRuns(slants)...)
	slices.SortStableFunc(out, func(a, b textLine) int {
		if c := cmpFloat(a.top, b.top); c != 0 {
			return c
		}
		return cmpFloat(a.x0, b.x0)
	})
	return out
}

// runsOf groups glyphs into runs of text (see linesOf).
func runsOf(gs []shownGlyph) []textLine {
	slices.SortStableFunc(gs, func(a, b shownGlyph) int {
		if c := cmpFloat(a.y, b.y); c != 0 {
			return c
		}
		return cmpFloat(a.x0, b.x0)
	})
	var out []textLine
	for i := 0; i < len(gs); {
		base, size := gs[i].y, gs[i].size
		j := i + 1
		for j < len(gs) && gs[j].y-base <= lineTolerance*max(size, gs[j].size) {
			j++
		}
		row := gs[i:j]
		slices.SortStableFunc(row, func(a, b shownGlyph) int { return cmpFloat(a.x0, b.x0) })
		start := 0
		for k := 1; k <= len(row); k++ {
			if k < len(row) && row[k].x0-row[k-1].x1 <= runGap*max(row[k].size, row[k-1].size) {
				continue
			}
			out = append(out, newLine(row[start:k]))
			start = k
		}
		i = j
	}
	return out
}

func newLine(gs []shownGlyph) textLine {
	l := textLine{glyphs: gs, x0: gs[0].x0, x1: gs[0].x1, top: gs[0].y, bottom: gs[0].y, base: gs[0].y, annot: gs[0].annot}
	for _, g := range gs {
		l.x0, l.x1, l.size = min(l.x0, g.x0), max(l.x1, g.x1), max(l.size, g.size)
		l.top, l.bottom = min(l.top, g.y-0.8*g.size), max(l.bottom, g.y+0.2*g.size)
	}
	l.ox, l.length = l.x0, l.x1-l.x0
	return l
}

// roundMM rounds to 0.1 mm.
func roundMM(v float64) float64 { return math.Round(v*10) / 10 }

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rawLine is a line's text as read, cut at maxRunes+1 characters.
type rawLine struct {
	text  string
	cut   bool
	annot bool // drawn by an annotation
}

// raw is the line's text, cut after maxRunes+1 characters, and whether
// it holds a readable character. A glyph drawn again over itself (a
// faked bold) counts once.
func (l textLine) raw(maxRunes int) (rawLine, bool) {
	var sb strings.Builder
	n := 0
	for i, g := range l.glyphs {
		if i > 0 {
			prev := l.glyphs[i-1]
			if g.text == prev.text && math.Abs(g.x0-prev.x0) < dupGap*g.size {
				continue
			}
			if g.x0-prev.x1 > spaceGap*max(g.size, prev.size) {
				sb.WriteByte(' ')
				n++
			}
		}
		for _, r := range g.text {
			if n > maxRunes {
				break
			}
			sb.WriteRune(r)
			n++
		}
		if n > maxRunes {
			break
		}
	}
	s := sb.String()
	return rawLine{text: s, cut: n > maxRunes, annot: l.annot}, strings.IndexFunc(s, readable) >= 0
}

// readable: a letter, digit, punctuation or symbol, but not U+FFFD (a
// code the font cannot map to text).
func readable(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSymbol(r))
}

// nearestLines returns up to lim.SpotLines readable runs of lines nearest
// to the point x, y (shown, points), top to bottom, the index of the
// nearest among them and its distance in millimetres (0.1 mm).
func nearestLines(lines []textLine, x, y float64, lim ExcerptLimits) (raw []rawLine, nearest int, distMM float64) {
	type cand struct {
		i    int
		d    float64
		line rawLine
	}
	var cs []cand
	for i, l := range lines {
		dx := max(l.x0-x, 0, x-l.x1)
		dy := max(l.top-y, 0, y-l.bottom)
		cs = append(cs, cand{i: i, d: math.Hypot(dx, dy)})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmpFloat(a.d, b.d) })
	var chosen []cand
	for _, c := range cs {
		if len(chosen) == lim.SpotLines {
			break
		}
		if s, ok := lines[c.i].raw(lim.LineRunes); ok {
			c.line = s
			chosen = append(chosen, c)
		}
	}
	if len(chosen) == 0 {
		return nil, 0, 0
	}
	distMM = roundMM(chosen[0].d / ptPerMM)
	best := chosen[0].i
	slices.SortFunc(chosen, func(a, b cand) int { return a.i - b.i })
	for k, c := range chosen {
		raw = append(raw, c.line)
		if c.i == best {
			nearest = k
		}
	}
	return raw, nearest, distMM
}

// neutral is l's text with runs of spaces as one, a hidden character as
// "[U+XXXX]", cut to maxRunes characters with "…" (also when l was cut).
func neutral(l rawLine, hidden func(rune) bool, maxRunes int) string {
	var toks []string
	space := true // no leading space
	for _, r := range l.text {
		switch {
		case r == '\t' || (unicode.IsSpace(r) && !hidden(r)):
			if !space {
				toks = append(toks, " ")
			}
			space = true
			continue
		case hidden(r):
			toks = append(toks, fmt.Sprintf("[U+%04X]", r))
		default:
			toks = append(toks, string(r))
		}
		space = false
	}
	if len(toks) > 0 && toks[len(toks)-1] == " " {
		toks = toks[:len(toks)-1]
	}
	n := 0
	for _, t := range toks {
		n += utf8.RuneCountInString(t)
	}
	if n <= maxRunes && !l.cut {
		return strings.Join(toks, "")
	}
	var sb strings.Builder
	n = 0
	for _, t := range toks {
		k := utf8.RuneCountInString(t)
		if n+k > maxRunes-1 {
			break
		}
		sb.WriteString(t)
		n += k
	}
	return strings.TrimRight(sb.String(), " ") + "…"
}
