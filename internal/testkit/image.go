package testkit

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// SquarePNG is a 32 × 32 PNG, transparent but for a red 24 × 24 square in
// its middle: the smallest image the seal registry accepts as a seal.
func SquarePNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := 4; y < 28; y++ {
		for x := 4; x < 28; x++ {
			img.SetNRGBA(x, y, color.NRGBA{R: 200, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
