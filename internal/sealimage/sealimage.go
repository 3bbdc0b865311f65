package sealimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// FontPaths are the font files tried in order (after $UKEYGATE_CJK_FONT).
var FontPaths = []string{
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
}

var (
	fontOnce sync.Once
	theFont  *opentype.Font
	fontErr  error
)

// Font returns the CJK font the seals are set in (the first font of the
// first file found).
func Font() (*opentype.Font, error) {
	fontOnce.Do(func() {
		paths := FontPaths
		if p := os.Getenv("UKEYGATE_CJK_FONT"); p != "" {
			paths = append([]string{p}, paths...)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if f, err := opentype.Parse(data); err == nil {
				theFont = f
				return
			}
			if c, err := opentype.ParseCollection(data); err == nil && c.NumFonts() > 0 {
				if f, err := c.Font(0); err == nil {
					theFont = f
					return
				}
			}
			// x/image/font/sfnt refuses tables that do not start on a
			// four-byte boundary, as in wqy-zenhei.ttc: copy the first
			// font of the collection into a file of its own, aligned.
			if one, err := firstFontAligned(data); err == nil {
				if f, err := opentype.Parse(one); err == nil {
					theFont = f
					return
				}
			}
		}
		fontErr = fmt.Errorf("%w: none of %v (install fonts-wqy-zenhei or set UKEYGATE_CJK_FONT)", ErrNoFont, paths)
	})
	return theFont, fontErr
}

// Red is the seal ink.
var Red = color.NRGBA{R: 222, G: 24, B: 28, A: 255}

// canvas is a coverage map of a square picture, 0..1 per pixel.
type canvas struct {
	n   int
	cov []float32
}

func newCanvas(n int) *canvas { return &canvas{n: n, cov: make([]float32, n*n)} }

// fill adds the coverage of the shape inside(x, y) (pixel coordinates,
// 4×4 samples per pixel) over the pixel box x0..x1, y0..y1.
func (c *canvas) fill(x0, y0, x1, y1 int, inside func(x, y float64) bool) {
	const ss = 4
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, c.n), min(y1, c.n)
	for py := y0; py < y1; py++ {
		for px := x0; px < x1; px++ {
			hit := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					if inside(float64(px)+(float64(sx)+0.5)/ss, float64(py)+(float64(sy)+0.5)/ss) {
						hit++
					}
				}
			}
			if hit > 0 {
				i := py*c.n + px
				c.cov[i] = max(c.cov[i], float32(hit)/ss/ss)
			}
		}
	}
}

// glyph is one character drawn in its em box (advance × line height),
// as coverage 0..1, with the box's centre.
type glyph struct {
	w, h   int
	a      []float32
	cx, cy float64
}

func renderGlyph(face font.Face, r rune) (*glyph, error) {
	m := face.Metrics()
	asc, desc := m.Ascent.Ceil(), m.Descent.Ceil()
	adv, ok := face.GlyphAdvance(r)
	if !ok {
		return nil, fmt.Errorf("%w: the font has no %q", ErrBadText, r)
	}
	w, h := adv.Ceil(), asc+desc
	dst := image.NewAlpha(image.Rect(0, 0, w, h))
	dr, mask, mp, _, ok := face.Glyph(fixed.P(0, asc), r)
	if !ok {
		return nil, fmt.Errorf("%w: the font has no %q", ErrBadText, r)
	}
	draw.DrawMask(dst, dr, image.Opaque, image.Point{}, mask, mp, draw.Over)
	g := &glyph{w: w, h: h, a: make([]float32, w*h), cx: float64(w) / 2, cy: float64(h) / 2}
	for i, v := range dst.Pix {
		g.a[i] = float32(v) / 255
	}
	return g, nil
}

// at samples g bilinearly at (x, y) in its own pixels.
func (g *glyph) at(x, y float64) float32 {
	x, y = x-0.5, y-0.5
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	px := func(x, y int) float32 {
		if x < 0 || y < 0 || x >= g.w || y >= g.h {
			return 0
		}
		return g.a[y*g.w+x]
	}
	top := px(x0, y0)*(1-fx) + px(x0+1, y0)*fx
	bot := px(x0, y0+1)*(1-fx) + px(x0+1, y0+1)*fx
	return top*(1-fy) + bot*fy
}

// bold are the directions place samples in to thicken strokes.
var bold = [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {0.7, 0.7}, {-0.7, 0.7}, {0.7, -0.7}, {-0.7, -0.7}}

// place draws g with its box centre at (px, py), scaled by sx, sy and
// turned by phi (radians, clockwise on screen).
func (c *canvas) place(g *glyph, px, py, sx, sy, phi float64) {
	cos, sin := math.Cos(phi), math.Sin(phi)
	d := float64(g.h) * 0.022
	rad := math.Hypot(float64(g.w)*sx, float64(g.h)*sy)/2 + 2
	for y := int(py - rad); y <= int(py+rad); y++ {
		for x := int(px - rad); x <= int(px+rad); x++ {
			if x < 0 || y < 0 || x >= c.n || y >= c.n {
				continue
			}
			dx, dy := float64(x)+0.5-px, float64(y)+0.5-py
			// Undo the turn, then the scale.
			u := (dx*cos + dy*sin) / sx
			v := (-dx*sin + dy*cos) / sy
			// Seal characters are cut bold: thicken the strokes by taking
			// the strongest of a few nearby samples.
			a := g.at(g.cx+u, g.cy+v)
			for _, o := range bold {
				a = max(a, g.at(g.cx+u+o[0]*d, g.cy+v+o[1]*d))
			}
			if a > 0 {
				i := y*c.n + x
				c.cov[i] = max(c.cov[i], min(a, 1))
			}
		}
	}
}

// png renders the coverage in seal ink with a light, even ink texture
// (seeded by seed, so the same text gives the same picture).
func (c *canvas) png(seed string) ([]byte, error) {
	h := fnv.New64a()
	h.Write([]byte(seed))
	noise := newNoise(h.Sum64(), c.n)
	img := image.NewNRGBA(image.Rect(0, 0, c.n, c.n))
	for y := 0; y < c.n; y++ {
		for x := 0; x < c.n; x++ {
			a := c.cov[y*c.n+x]
			if a <= 0 {
				continue
			}
			a *= 0.86 + 0.14*noise.at(x, y)
			img.SetNRGBA(x, y, color.NRGBA{R: Red.R, G: Red.G, B: Red.B, A: uint8(min(a, 1)*255 + 0.5)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// noise is smooth value noise in 0..1 on a coarse grid.
type noise struct {
	cell int
	grid []float64
	gn   int
}

func newNoise(seed uint64, n int) *noise {
	cell := max(n/24, 2)
	gn := n/cell + 2
	g := make([]float64, gn*gn)
	s := seed | 1
	for i := range g {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		g[i] = float64(s%1000) / 999
	}
	return &noise{cell: cell, grid: g, gn: gn}
}

func (nz *noise) at(x, y int) float32 {
	fx, fy := float64(x)/float64(nz.cell), float64(y)/float64(nz.cell)
	x0, y0 := int(fx), int(fy)
	tx, ty := fx-float64(x0), fy-float64(y0)
	v := func(i, j int) float64 { return nz.grid[j*nz.gn+i] }
	top := v(x0, y0)*(1-tx) + v(x0+1, y0)*tx
	bot := v(x0, y0+1)*(1-tx) + v(x0+1, y0+1)*tx
	return float32(top*(1-ty) + bot*ty)
}

func newFace(size float64) (font.Face, error) {
	f, err := Font()
	if err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
}

// Round draws a round 公章 of size×size pixels (at least 120): a red
// border, a five-pointed star in the middle, org along the upper arc
// (clockwise, 2 to 24 characters) and title below the star (0 to 10
// characters, e.g. 合同专用章), as a PNG with a transparent background.
func Round(org, title string, size int) ([]byte, error) {
	no, nt := utf8.RuneCountInString(org), utf8.RuneCountInString(title)
	if size < 120 || size > 2048 {
		return nil, fmt.Errorf("%w: size %d must be 120..2048 pixels", ErrBadText, size)
	}
	if no < 2 || no > 24 || nt > 10 {
		return nil, fmt.Errorf("%w: the organisation takes 2 to 24 characters, the title up to 10", ErrBadText)
	}
	n := float64(size)
	c, ctr := newCanvas(size), n/2
	// The border.
	rOut, ring := n*0.485, n*0.034
	c.fill(0, 0, size, size, func(x, y float64) bool {
		d := math.Hypot(x-ctr, y-ctr)
		return d <= rOut && d >= rOut-ring
	})
	// The star: ten vertices, the points at radius rs, the inner corners
	// at rs·0.382 (a regular pentagram), one point straight up.
	rs := n * 0.16
	var star [10][2]float64
	for i := range star {
		r := rs
		if i%2 == 1 {
			r = rs * 0.382
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		star[i] = [2]float64{ctr + r*math.Cos(a), ctr + r*math.Sin(a)}
	}
	c.fill(int(ctr-rs-1), int(ctr-rs-1), int(ctr+rs+2), int(ctr+rs+2), func(x, y float64) bool {
		return inPolygon(star[:], x, y)
	})
	// The organisation along the upper arc, each character upright to the
	// outside, narrow (as seal cutters set them).
	fs := n * 0.118
	face, err := newFace(fs)
	if err != nil {
		return nil, err
	}
	span := math.Min(float64(no)*0.36, 4.4) // radians, at most about 250°
	rText := rOut - ring - fs*0.62
	sx := math.Min(0.82, span*rText/float64(no)/fs*1.05)
	i := 0
	for _, r := range org {
		g, err := renderGlyph(face, r)
		if err != nil {
			return nil, err
		}
		a := -math.Pi/2 - span/2 + span*(float64(i)+0.5)/float64(no)
		c.place(g, ctr+rText*math.Cos(a), ctr+rText*math.Sin(a), sx, 1, a+math.Pi/2)
		i++
	}
	// The title, straight, below the star.
	if nt > 0 {
		ts := n * 0.092
		if nt > 6 {
			ts = n * 0.092 * 6 / float64(nt)
		}
		tf, err := newFace(ts)
		if err != nil {
			return nil, err
		}
		x := ctr - float64(nt)*ts*0.92/2
		for _, r := range title {
			g, err := renderGlyph(tf, r)
			if err != nil {
				return nil, err
			}
			c.place(g, x+ts*0.46, ctr+n*0.27, 0.92, 1, 0)
			x += ts * 0.92
		}
	}
	return c.png(org + "/" + title)
}

// Square draws a square name seal (法人章, 个人名章) of size×size pixels:
// a red border and the name in two columns read right to left, top to
// bottom; a two-character name becomes 某某之印, a three-character one
// 某某某印, a four-character one is used as it is.
func Square(name string, size int) ([]byte, error) {
	rs := []rune(name)
	switch len(rs) {
	case 2:
		rs = append(rs, '之', '印')
	case 3:
		rs = append(rs, '印')
	case 4:
	default:
		return nil, fmt.Errorf("%w: a square seal takes a name of 2 to 4 characters", ErrBadText)
	}
	if size < 120 || size > 2048 {
		return nil, fmt.Errorf("%w: size %d must be 120..2048 pixels", ErrBadText, size)
	}
	n := float64(size)
	c := newCanvas(size)
	m, t := n*0.03, n*0.06 // margin, border
	c.fill(0, 0, size, size, func(x, y float64) bool {
		in := x >= m && y >= m && x <= n-m && y <= n-m
		hole := x > m+t && y > m+t && x < n-m-t && y < n-m-t
		return in && !hole
	})
	inner := n - 2*(m+t)
	cell := inner / 2
	face, err := newFace(cell * 0.9)
	if err != nil {
		return nil, err
	}
	// Right column first: cells (1,0) (1,1) (0,0) (0,1) as (column, row).
	order := [][2]int{{1, 0}, {1, 1}, {0, 0}, {0, 1}}
	for i, r := range rs {
		g, err := renderGlyph(face, r)
		if err != nil {
			return nil, err
		}
		col, row := order[i][0], order[i][1]
		cx := m + t + cell*(float64(col)+0.5)
		cy := m + t + cell*(float64(row)+0.5)
		// Fill the cell: a little wider than the glyph's box, full height.
		sx := cell * 0.96 / float64(g.w)
		sy := cell * 0.98 / float64(g.h)
		c.place(g, cx, cy, sx, sy, 0)
	}
	return c.png("square/" + name)
}

// firstFontAligned copies the first font of a TrueType collection (or a
// single font) into a standalone font file whose tables start on four-byte
// boundaries (checksums are left as they were: readers here ignore them).
func firstFontAligned(data []byte) ([]byte, error) {
	u32 := func(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
	u16 := func(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
	bad := errors.New("not a font file")
	off := uint32(0)
	if len(data) >= 16 && string(data[:4]) == "ttcf" {
		if u32(data[8:]) == 0 {
			return nil, bad
		}
		off = u32(data[12:])
	}
	if uint64(off)+12 > uint64(len(data)) {
		return nil, bad
	}
	nt := int(u16(data[off+4:]))
	dir := data[off : off+12]
	if uint64(off)+12+16*uint64(nt) > uint64(len(data)) || nt == 0 || nt > 100 {
		return nil, bad
	}
	var out bytes.Buffer
	out.Write(dir)
	recs := data[off+12 : off+12+16*uint32(nt)]
	pos := uint32(12 + 16*nt)
	type tab struct{ o, n uint32 }
	tabs := make([]tab, nt)
	for i := range nt {
		r := recs[16*i:]
		o, n := u32(r[8:]), u32(r[12:])
		if uint64(o)+uint64(n) > uint64(len(data)) {
			return nil, bad
		}
		tabs[i] = tab{o, n}
		var rec [16]byte
		copy(rec[:8], r[:8])
		binary.BigEndian.PutUint32(rec[8:], pos)
		binary.BigEndian.PutUint32(rec[12:], n)
		out.Write(rec[:])
		pos += (n + 3) &^ 3
	}
	for _, t := range tabs {
		out.Write(data[t.o : t.o+t.n])
		out.Write(make([]byte, (4-t.n%4)%4))
	}
	return out.Bytes(), nil
}

// inPolygon reports whether (x, y) is inside the polygon p (even-odd).
func inPolygon(p [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		xi, yi, xj, yj := p[i][0], p[i][1], p[j][0], p[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
