package seal

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// Limits on a seal image.
const (
	MaxImageBytes = 1 << 20 // encoded PNG
	MaxImageSide  = 2048    // pixels, each side
	MinImageSide  = 16      // pixels, each side
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// Image is a checked seal image.
type Image struct {
	PNG           []byte // the PNG as given
	Width, Height int    // pixels
	img           image.Image
}

// CheckPNG checks that data is a real PNG (signature, decodable to the
// end), within MaxImageBytes and MinImageSide..MaxImageSide pixels a side,
// with an alpha channel that makes some pixels transparent and leaves some
// visible. Failures are ErrBadImage.
func CheckPNG(data []byte) (*Image, error) {
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadImage, len(data), MaxImageBytes)
	}
	if !bytes.HasPrefix(data, pngMagic) {
		return nil, fmt.Errorf("%w: not a PNG", ErrBadImage)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: PNG header cannot be read", ErrBadImage)
	}
	if cfg.Width < MinImageSide || cfg.Height < MinImageSide || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return nil, fmt.Errorf("%w: %dx%d pixels, each side must be %d..%d", ErrBadImage, cfg.Width, cfg.Height, MinImageSide, MaxImageSide)
	}
	switch cfg.ColorModel {
	case color.NRGBAModel, color.NRGBA64Model, color.RGBAModel, color.RGBA64Model:
	default:
		if _, ok := cfg.ColorModel.(color.Palette); !ok {
			return nil, fmt.Errorf("%w: no alpha channel (use RGBA or a palette with transparency)", ErrBadImage)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: PNG cannot be decoded", ErrBadImage)
	}
	transparent, visible := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			_, _, _, a := img.At(x, y).RGBA()
			switch {
			case a == 0:
				transparent++
			case a > 0x8000:
				visible++
			}
		}
	}
	if transparent == 0 {
		return nil, fmt.Errorf("%w: no transparent pixel (a seal must let the page show through)", ErrBadImage)
	}
	if visible == 0 {
		return nil, fmt.Errorf("%w: no visible pixel", ErrBadImage)
	}
	return &Image{PNG: bytes.Clone(data), Width: cfg.Width, Height: cfg.Height, img: img}, nil
}
