package sealimage

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// keep writes a picture for a person to look at (UKEYGATE_SEAL_DOCS=1:
// into docs/img).
func keep(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("UKEYGATE_SEAL_DOCS") == "1" {
		dir = filepath.Join("..", "..", "docs", "img")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("picture: %s", p)
}

func decode(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// inked counts pixels with alpha over half in the rectangle (fractions of
// the side).
func inked(img image.Image, x0, y0, x1, y1 float64) int {
	b := img.Bounds()
	n := 0
	for y := int(y0 * float64(b.Dy())); y < int(y1*float64(b.Dy())); y++ {
		for x := int(x0 * float64(b.Dx())); x < int(x1*float64(b.Dx())); x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a > 0x8000 {
				n++
			}
		}
	}
	return n
}

func TestRound(t *testing.T) {
	data, err := Round("某某建设工程有限公司", "合同专用章", 480)
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "seal-image-official.png", data)
	img := decode(t, data)
	if img.Bounds().Dx() != 480 || img.Bounds().Dy() != 480 {
		t.Fatalf("size %v", img.Bounds())
	}
	// Transparent corners, red ink, text where it belongs: the upper arc
	// band and the title band hold ink, and the picture is not only a
	// ring and a star (the plain ring tests used to draw).
	if _, _, _, a := img.At(2, 2).RGBA(); a != 0 {
		t.Fatal("the corner is not transparent")
	}
	r, g, b, _ := img.At(240, 240).RGBA() // the star's centre
	if r>>8 < 180 || g>>8 > 60 || b>>8 > 60 {
		t.Fatalf("the star's centre is not seal red: %d %d %d", r>>8, g>>8, b>>8)
	}
	if n := inked(img, 0.25, 0.06, 0.75, 0.22); n < 2000 {
		t.Fatalf("the upper arc holds %d inked pixels: no organisation name", n)
	}
	if n := inked(img, 0.28, 0.71, 0.72, 0.83); n < 1500 {
		t.Fatalf("the title band holds %d inked pixels: no title", n)
	}
	ringOnly, err := Round("某某", "", 480)
	if err != nil {
		t.Fatal(err)
	}
	if inked(decode(t, ringOnly), 0, 0, 1, 1) >= inked(img, 0, 0, 1, 1) {
		t.Fatal("a long name and a title add no ink")
	}
	// Deterministic: the same text, the same picture.
	again, _ := Round("某某建设工程有限公司", "合同专用章", 480)
	if !bytes.Equal(again, data) {
		t.Fatal("two drawings of the same seal differ")
	}
	for _, bad := range [][2]string{{"某", ""}, {"某某", "一二三四五六七八九十一"}} {
		if _, err := Round(bad[0], bad[1], 480); !errors.Is(err, ErrBadText) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := Round("某某公司", "", 60); !errors.Is(err, ErrBadText) {
		t.Error("size 60 accepted")
	}
}

func TestSquare(t *testing.T) {
	data, err := Square("张三", 320)
	if err != nil {
		t.Fatal(err)
	}
	keep(t, "seal-image-legal-rep.png", data)
	img := decode(t, data)
	// Each quarter holds a character.
	for _, q := range [][4]float64{{0.12, 0.12, 0.48, 0.48}, {0.52, 0.12, 0.88, 0.48}, {0.12, 0.52, 0.48, 0.88}, {0.52, 0.52, 0.88, 0.88}} {
		if n := inked(img, q[0], q[1], q[2], q[3]); n < 1500 {
			t.Fatalf("quarter %v holds %d inked pixels", q, n)
		}
	}
	for _, bad := range []string{"张", "欧阳某某某"} {
		if _, err := Square(bad, 320); !errors.Is(err, ErrBadText) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
