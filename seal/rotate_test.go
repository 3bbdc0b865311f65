package seal

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// topHalfPNG is a w×h image whose top half is seal red and whose bottom
// half is transparent: a seal drawn upside down or sideways shows.
func topHalfPNG(t testing.TB, w, h int) *Image {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h/2; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{R: 220, G: 20, B: 20, A: 255})
		}
	}
	var b bytes.Buffer
	if err := pngEncode(&b, img); err != nil {
		t.Fatal(err)
	}
	im, err := CheckPNG(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestSealOnRotatedPages: placements are in the page as shown (after
// /Rotate, from the top-left corner of a box whose origin is not 0 0), the
// seal keeps its width and height as shown and shows upright. pdftoppm
// applies /Rotate when it renders, so its picture is what a reader sees.
func TestSealOnRotatedPages(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgSM2)
	const wMM, hMM = 40.0, 24.0 // not square: a swapped size shows
	for _, rot := range []int{0, 90, 180, 270, -90} {
		t.Run(fmt.Sprint(rot), func(t *testing.T) {
			box := fmt.Sprintf("/MediaBox[100 -50 695.276 791.89]/Rotate %d", rot)
			pdf := testPDFBox(t, [][]string{{"rotated"}, {"page two"}}, 0, box)
			visW, visH := 210.0, 297.0
			if rot == 90 || rot == 270 || rot == -90 {
				visW, visH = visH, visW
			}
			// Near the top-left corner as shown, where every rotation
			// differs from every other.
			x, y := 40.0, 30.0
			o := sealOptions(t, p, Placement{Page: 1, XMM: x, YMM: y})
			o.Image, o.WidthMM, o.HeightMM = topHalfPNG(t, 200, 120), wMM, hMM
			out, err := Seal(pdf, o)
			if err != nil {
				t.Fatal(err)
			}
			qpdfCheck(t, out)
			img := renderPage(t, out, 1, renderDPI)
			gotW, gotH := float64(img.Bounds().Dx())/renderDPI*25.4, float64(img.Bounds().Dy())/renderDPI*25.4
			if gotW < visW-2 || gotW > visW+2 || gotH < visH-2 || gotH > visH+2 {
				t.Fatalf("pdftoppm renders %.0f×%.0f mm, want %.0f×%.0f: the test PDF is not rotated", gotW, gotH, visW, visH)
			}
			top := mmRect{x - wMM/2, y - hMM/2, x + wMM/2, y}
			bottom := mmRect{x - wMM/2, y + 1.5, x + wMM/2, y + hMM/2} // clear of redPixels' 2 px margin
			inTop, outTop := redPixels(img, renderDPI, top)
			inBottom, _ := redPixels(img, renderDPI, bottom)
			if inTop < 500 || outTop > inTop/20 || inBottom > inTop/20 {
				t.Fatalf("red pixels: %d in the seal's top half, %d in its bottom half, %d outside the top half", inTop, inBottom, outTop)
			}
			if rot == 90 {
				keepRender(t, out, 1, "seal-rotated-90.png", false)
			}
			sigs, err := Verify(out)
			if err != nil || len(sigs) != 1 || !sigs[0].Valid {
				t.Fatalf("%v %+v", err, sigs)
			}

			// A 骑缝章 on rotated pages sits at the right edge as shown.
			o = sealOptions(t, p)
			o.Straddle = &Straddle{YMM: 100}
			out, err = Seal(pdf, o)
			if err != nil {
				t.Fatal(err)
			}
			for nr := 1; nr <= 2; nr++ {
				in, outside := redPixels(renderPage(t, out, nr, renderDPI), renderDPI, mmRect{visW - 20, 80, visW, 120})
				if in < 20 || outside != 0 {
					t.Fatalf("straddle page %d: %d red pixels at the right edge, %d elsewhere", nr, in, outside)
				}
			}
		})
	}
	// The kept example: a portrait page turned to landscape by /Rotate 90
	// (its text runs up the page as shown), sealed at (240, 150) mm as
	// shown: the seal stands upright.
	ex := testPDFBox(t, bidPages(), 0, "/MediaBox[0 0 595.276 841.89]/Rotate 90")
	exOut, err := Seal(ex, sealOptions(t, p, Placement{Page: 2, XMM: 240, YMM: 150}))
	if err != nil {
		t.Fatal(err)
	}
	if in, outside := redPixels(renderPage(t, exOut, 2, renderDPI), renderDPI, sealRectMM(240, 150, 40, 40)); in < 200 || outside != 0 {
		t.Fatalf("example: %d red pixels in the seal's square, %d outside", in, outside)
	}
	keepRender(t, exOut, 2, "seal-example-rotated.png", true)

	// A seal that fits on the page as shown but not sideways is refused.
	pdf := testPDFBox(t, [][]string{{"x"}}, 0, "/MediaBox[0 0 841.89 595.276]/Rotate 90")
	if _, err := Seal(pdf, sealOptions(t, p, Placement{Page: 1, XMM: 195, YMM: 30})); !errors.Is(err, ErrBadPlacement) {
		t.Fatal("a seal off the page as shown was accepted")
	}
}
