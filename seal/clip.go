package seal

import "math"

// Clipping, as far as the text reader follows it: a viewer draws nothing
// outside the clipping path, so a glyph drawn wholly outside it is
// invisible (read for keyword placement, not shown). A clip is the
// intersection of the areas set since the page began: a form's /BBox,
// and each path made the clip by W or W* (applied at the operator that
// ends the path, n or a painting one) until the Q that restores the
// state saved before it. A path of one rectangle (re) is followed
// exactly, whatever the transformation it is drawn in; any other path by
// its bounding box (in user space), which holds the path: text inside
// the box but outside the path is read as visible.

// maxClipAreas bounds the turned or skewed areas followed exactly; past
// them an area narrows only the bounding box of the clip.
const maxClipAreas = 8

// clipArea is the rectangle r in the space that inv maps user space to
// (a rectangle drawn turned or skewed: one drawn upright is its box).
type clipArea struct {
	inv matrix
	r   rect
}

// clipState is the current clip: everything (the zero value), or the
// intersection of box (user space) and areas. empty: nothing is drawn (a
// clip drawn in a transformation that flattens the plane).
type clipState struct {
	set   bool
	empty bool
	box   rect
	areas []clipArea // shared with saved states: never changed in place
}

// inverse returns m's inverse; false when m flattens the plane (or is
// not finite).
func (m matrix) inverse() (matrix, bool) {
	det := m[0]*m[3] - m[1]*m[2]
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return matrix{}, false
	}
	a, b, c, d := m[3]/det, -m[1]/det, -m[2]/det, m[0]/det
	return matrix{a, b, c, d, -(m[4]*a + m[5]*c), -(m[4]*b + m[5]*d)}, true
}

// withRect returns c narrowed to the rectangle r drawn with the
// transformation m (r's space to user space).
func (c clipState) withRect(r rect, m matrix) clipState {
	box := r.box(m)
	inv, ok := m.inverse()
	if !ok || math.IsNaN(box[0]+box[1]+box[2]+box[3]) {
		c.set, c.empty = true, true
		return c
	}
	c = c.withBox(box)
	if (m[1] != 0 || m[2] != 0) && len(c.areas) < maxClipAreas {
		c.areas = append(c.areas[:len(c.areas):len(c.areas)], clipArea{inv: inv, r: r})
	}
	return c
}

// withBox returns c narrowed to the user-space box.
func (c clipState) withBox(box rect) clipState {
	if !c.set {
		c.set, c.box = true, box
		return c
	}
	c.box = c.box.intersect(box)
	return c
}

// shows reports whether a glyph whose box has the corners q (user
// space) is at least partly inside the clip.
func (c clipState) shows(q [4][2]float64) bool {
	if !c.set {
		return true
	}
	if c.empty || !overlaps(quadBox(q, identity), c.box) {
		return false
	}
	for _, a := range c.areas {
		if !overlaps(quadBox(q, a.inv), a.r) {
			return false
		}
	}
	return true
}

// quadBox is the smallest rectangle holding the points q transformed by m.
func quadBox(q [4][2]float64, m matrix) rect {
	out := rect{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, p := range q {
		x, y := m.apply(p[0], p[1])
		out = rect{min(out[0], x), min(out[1], y), max(out[2], x), max(out[3], y)}
	}
	return out
}

// overlaps: a and b share an area (touching is not enough). A rectangle
// of no width or height (a glyph of width 0) overlaps when it lies
// inside b.
func overlaps(a, b rect) bool {
	return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1] ||
		a[0] == a[2] && a[0] > b[0] && a[0] < b[2] && a[1] < b[3] && a[3] > b[1] ||
		a[1] == a[3] && a[1] > b[1] && a[1] < b[3] && a[0] < b[2] && a[2] > b[0]
}

// pathBox follows the path being built, for a clip: its bounding box in
// user space and, when it is one rectangle (re) and nothing else, that
// rectangle and its transformation.
type pathBox struct {
	box    rect
	points bool // box holds a point
	rects  int
	curves bool // m, l, c, v or y
	r      rect
	m      matrix
	clipOp bool // W or W* seen: the path becomes the clip when it ends
}

func (p *pathBox) add(m matrix, x, y float64) {
	ux, uy := m.apply(x, y)
	if !p.points {
		p.box, p.points = rect{ux, uy, ux, uy}, true
		return
	}
	p.box = rect{min(p.box[0], ux), min(p.box[1], uy), max(p.box[2], ux), max(p.box[3], uy)}
}

// op follows one path operator (pathOperands) with its numbers v, drawn
// with the transformation ctm.
func (p *pathBox) op(name string, v []float64, ctm matrix) {
	switch name {
	case "re":
		x, y, w, h := v[0], v[1], v[2], v[3]
		r := rect{min(x, x+w), min(y, y+h), max(x, x+w), max(y, y+h)}
		for _, c := range [4][2]float64{{r[0], r[1]}, {r[2], r[1]}, {r[0], r[3]}, {r[2], r[3]}} {
			p.add(ctm, c[0], c[1])
		}
		p.rects++
		p.r, p.m = r, ctm
	default: // m l c v y: their points, in pairs
		p.curves = true
		for i := 0; i+1 < len(v); i += 2 {
			p.add(ctm, v[i], v[i+1])
		}
	}
}

// end ends the path at a painting operator (or n): the clip narrowed by
// it when W or W* was given.
func (p *pathBox) end(c clipState) clipState {
	defer func() { *p = pathBox{} }()
	switch {
	case !p.clipOp:
		return c
	case p.rects == 1 && !p.curves:
		return c.withRect(p.r, p.m)
	case p.points:
		return c.withBox(p.box)
	}
	return c // W n without a path clips nothing (as poppler)
}

// pathOperands is how many numbers each path operator takes.
var pathOperands = map[string]int{"m": 2, "l": 2, "c": 6, "v": 4, "y": 4, "re": 4}
