package seal

import (
	"image"
	"math"
	"slices"
	"testing"
)

// clipCases are pages of text clipped by paths, and the runs the reader
// reads on them, top to bottom. Each word is at its own place, so that
// TestExcerptClipsWherePopplerDraws can look there in poppler's
// rendering: those read are drawn, the others not.
var clipCases = []struct {
	name    string
	content string
	runs    []string
	clipped []string // words drawn but clipped away
	// approx: words read although poppler clips them away (inside a
	// path's bounding box, outside the path).
	approx []string
}{{
	name: "a rectangle clips until Q",
	content: "q 100 600 200 100 re W n BT /F1 12 Tf 150 650 Td (Inside) Tj ET BT /F1 12 Tf 400 650 Td (Outside) Tj ET Q " +
		"BT /F1 12 Tf 400 550 Td (Restored) Tj ET",
	runs:    []string{"Inside", "Restored"},
	clipped: []string{"Outside"},
}, {
	name: "nested clips intersect; the outer one back after Q",
	content: "q 100 400 300 300 re W n q 250 400 300 300 re W* n BT /F1 12 Tf 300 600 Td (Both) Tj ET BT /F1 12 Tf 150 650 Td (Outer) Tj ET Q " +
		"BT /F1 12 Tf 150 500 Td (Again) Tj ET BT /F1 12 Tf 450 500 Td (Never) Tj ET Q",
	runs:    []string{"Both", "Again"},
	clipped: []string{"Outer", "Never"},
}, {
	name: "a clip set in a scaled space, text in another",
	content: "q 2 0 0 2 0 0 cm 50 200 100 50 re W n 0.5 0 0 0.5 0 0 cm BT /F1 12 Tf 120 450 Td (Scaled) Tj ET " +
		"BT /F1 12 Tf 320 450 Td (Beyond) Tj ET Q",
	runs:    []string{"Scaled"},
	clipped: []string{"Beyond"},
}, {
	name: "a turned rectangle is followed exactly",
	// A 200-point square turned 45° about (300, 400): a diamond whose
	// bounding box holds (230, 640), which the diamond does not.
	content: "q 0.7071 0.7071 -0.7071 0.7071 300 400 cm 0 0 200 200 re W n 0.7071 -0.7071 0.7071 0.7071 -494.97 -70.71 cm " +
		"BT /F1 12 Tf 280 530 Td (Diamond) Tj ET BT /F1 12 Tf 160 660 Td (Corner) Tj ET Q",
	runs:    []string{"Diamond"},
	clipped: []string{"Corner"},
}, {
	name: "a path other than a rectangle: its bounding box",
	// A triangle: (120, 660) is in its box but not in it, read as
	// shown (the approximation); (450, 300) is outside the box.
	content: "q 100 400 m 400 400 l 250 700 l h W n BT /F1 12 Tf 240 500 Td (Triangle) Tj ET " +
		"BT /F1 12 Tf 105 680 Td (Box) Tj ET BT /F1 12 Tf 450 300 Td (Away) Tj ET Q",
	runs:    []string{"Box", "Triangle"},
	clipped: []string{"Away"},
	approx:  []string{"Box"},
}, {
	name:    "a word across the edge shows the glyphs inside; a path painted without W does not clip",
	content: "q 100 600 200 100 re f BT /F1 12 Tf 400 690 Td (Painted) Tj ET 100 500 200 60 re W n BT /F1 12 Tf 280 530 Td (Straddling) Tj ET Q",
	runs:    []string{"Painted", "Stra"},
}, {
	name:    "a form's /BBox and a clip inside it",
	content: "q 1 0 0 1 0 -100 cm /Fm0 Do Q",
	runs:    []string{"In the form"},
	clipped: []string{"Clipped in the form"},
}}

// clipForm is the form clipCases' last case draws: a path clip inside.
var clipForm = testForm{dict: "/BBox[0 0 500 800]/Resources<</Font<</F2 3 0 R>>>>",
	content: "50 500 300 100 re W n BT /F2 12 Tf 100 550 Td (In the form) Tj ET BT /F2 12 Tf 100 450 Td (Clipped in the form) Tj ET"}

// TestExcerptClips: text drawn wholly outside the clip (a path made the
// clip by W or W*, and a form's /BBox, intersected, until Q) is not
// read; a keyword there is still found, as other invisible text is.
func TestExcerptClips(t *testing.T) {
	for _, c := range clipCases {
		t.Run(c.name, func(t *testing.T) {
			pdf := formPDF([]string{c.content}, clipForm)
			got, _ := pageRuns(t, pdf)
			if !slices.Equal(got, c.runs) {
				t.Errorf("page 1 reads %q\n                want %q", got, c.runs)
			}
			for _, w := range c.clipped {
				e := mustExcerpt(t, pdf, Placement{Keyword: w})
				checkExcerptBounds(t, e)
				if s := e.Spots[0]; s.NotFound || slices.Contains(s.Lines, w) || slices.Contains(e.First.Lines, w) {
					t.Errorf("%s: %s", w, jsonOf(t, e))
				}
			}
		})
	}
}

// TestExcerptClipsWherePopplerDraws: the words the reader reads on
// clipCases' pages are those poppler draws (pdftoppm), and the words it
// leaves out are not drawn. pdftotext is no judge here: it reads
// clipped text.
func TestExcerptClipsWherePopplerDraws(t *testing.T) {
	const dpi = 72
	for _, c := range clipCases {
		pdf := formPDF([]string{c.content}, clipForm)
		img := renderPage(t, pdf, 1, dpi)
		d, err := readPDF(pdf)
		if err != nil {
			t.Fatal(err)
		}
		p, glyphs := d.glyphsOf(1)
		for _, l := range linesOf(p, glyphs) {
			raw, _ := l.raw(64)
			n := inkIn(img, l.x0, l.top, l.x1, l.bottom)
			if slices.Contains(c.approx, raw.text) {
				if n != 0 {
					t.Errorf("%s: %q is no longer clipped by poppler (%d dark pixels)", c.name, raw.text, n)
				}
				continue
			}
			if n < 10 {
				t.Errorf("%s: %q read, but poppler draws %d dark pixels there", c.name, raw.text, n)
			}
		}
		// The words left out: where they would be, nothing is drawn.
		for _, w := range c.clipped {
			found := false
			for _, l := range linesOf(p, unclipped(glyphs)) {
				if raw, _ := l.raw(64); raw.text == w {
					found = true
					if n := inkIn(img, l.x0, l.top, l.x1, l.bottom); n != 0 {
						t.Errorf("%s: %q left out, but poppler draws %d dark pixels there", c.name, w, n)
					}
				}
			}
			if !found {
				t.Errorf("%s: %q not drawn at all", c.name, w)
			}
		}
	}
}

// unclipped is glyphs all shown.
func unclipped(glyphs []glyph) []glyph {
	out := slices.Clone(glyphs)
	for i := range out {
		out[i].invisible = false
	}
	return out
}

// inkIn counts the dark pixels of a 72 dpi rendering in a box given in
// points from the page's top-left corner.
func inkIn(img image.Image, x0, y0, x1, y1 float64) int {
	n := 0
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr>>8 < 128 && cg>>8 < 128 && cb>>8 < 128 {
				n++
			}
		}
	}
	return n
}

// TestClipMatrixInverse: a matrix times its inverse is the identity; a
// flattening one has none.
func TestClipMatrixInverse(t *testing.T) {
	for _, m := range []matrix{identity, {2, 0, 0, 3, 10, -4}, {0.7071, 0.7071, -0.7071, 0.7071, 300, 400}, {0, 1, -1, 0, 5, 6}} {
		inv, ok := m.inverse()
		p := m.mul(inv)
		for i := range p {
			if !ok || math.Abs(p[i]-identity[i]) > 1e-9 {
				t.Fatalf("%v × %v = %v", m, inv, p)
			}
		}
	}
	if _, ok := (matrix{1, 2, 2, 4, 0, 0}).inverse(); ok {
		t.Error("a flattening matrix inverted")
	}
}
