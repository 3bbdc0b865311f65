package seal

import "math"

// Text that does not run left to right along the page as shown (a
// stamp or a watermark drawn at an angle, text turned upside down or
// running up the margin) is read as drawn: a run is the glyphs drawn
// one after the other along one direction, each starting near where
// the one before ended, whatever the angle. Its box is the smallest
// rectangle holding its glyphs; a sketch draws it turned.

// slantTolerance: a glyph whose advance rises or falls by more than
// slantTolerance × its width (about 3°), or runs right to left, is
// slanted.
const slantTolerance = 0.05

// slantGlyph is a slanted glyph as shown: from x, y to xe, ye.
type slantGlyph struct {
	text               string
	x, y, xe, ye, size float64
	annot              bool
}

// slanted reports whether a glyph advancing from x, y to xe, ye (as
// shown) is; a glyph of no advance is not.
func slanted(x, y, xe, ye float64) bool {
	dx, dy := xe-x, ye-y
	if dx == 0 && dy == 0 {
		return false
	}
	return !(dx > 0 && math.Abs(dy) <= slantTolerance*dx)
}

// follows reports whether g continues the run whose last glyph is prev:
// the same kind (page or annotation), the same direction, and starting
// near prev's end, along the line.
func (g slantGlyph) follows(prev slantGlyph) bool {
	if g.annot != prev.annot {
		return false
	}
	ux, uy, _ := prev.dir()
	vx, vy, _ := g.dir()
	if ux*vx+uy*vy < 0.995 {
		return false
	}
	size := max(g.size, prev.size)
	gx, gy := g.x-prev.xe, g.y-prev.ye
	along, across := gx*ux+gy*uy, gx*uy-gy*ux
	return along >= -size && along <= runGap*size && math.Abs(across) <= lineTolerance*size
}

// dir is the unit vector of g's advance and its length.
func (g slantGlyph) dir() (ux, uy, l float64) {
	dx, dy := g.xe-g.x, g.ye-g.y
	l = math.Hypot(dx, dy)
	return dx / l, dy / l, l
}

// slantLine makes a run of gs (slanted, each following the one before):
// its glyphs placed along it from its start (x0..x1 as distances from
// the run's start, added to its x), its box, and its angle.
func slantLine(gs []slantGlyph) textLine {
	o := gs[0]
	ux, uy, _ := o.dir()
	// Up, for text running along (ux, uy) in y-down coordinates.
	upx, upy := uy, -ux
	l := textLine{base: o.y, ox: o.x, angle: math.Atan2(uy, ux), annot: o.annot,
		x0: math.Inf(1), top: math.Inf(1), x1: math.Inf(-1), bottom: math.Inf(-1)}
	for _, g := range gs {
		a0 := (g.x-o.x)*ux + (g.y-o.y)*uy
		a1 := (g.xe-o.x)*ux + (g.ye-o.y)*uy
		l.glyphs = append(l.glyphs, shownGlyph{text: g.text, x0: o.x + a0, x1: o.x + a1, y: o.y, size: g.size, annot: g.annot})
		l.size = max(l.size, g.size)
		l.length = max(l.length, a1)
		for _, p := range [2][2]float64{{g.x, g.y}, {g.xe, g.ye}} {
			for _, k := range []float64{0.8, -0.2} {
				px, py := p[0]+k*g.size*upx, p[1]+k*g.size*upy
				l.x0, l.x1, l.top, l.bottom = min(l.x0, px), max(l.x1, px), min(l.top, py), max(l.bottom, py)
			}
		}
	}
	return l
}

// slantRuns groups slanted glyphs, in the order drawn, into runs.
func slantRuns(gs []slantGlyph) []textLine {
	var out []textLine
	start := 0
	for i := 1; i <= len(gs); i++ {
		if i < len(gs) && gs[i].follows(gs[i-1]) {
			continue
		}
		out = append(out, slantLine(gs[start:i]))
		start = i
	}
	return out
}
