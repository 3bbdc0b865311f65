package qrlogin

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// Bounds of the PNG size in pixels (the api bounds ?size= with them).
const (
	MinSize     = 128
	MaxSize     = 1024
	DefaultSize = 256
)

// svgModule is the default rendered size of one module of the SVG, in CSS
// pixels (the page may scale it: the SVG has a viewBox).
const svgModule = 5

// bitmap encodes payload with medium error correction and returns its
// modules, quiet zone (four modules) included: bitmap[y][x] is dark.
func bitmap(payload string) ([][]bool, error) {
	if payload == "" || len(payload) > MaxPayloadLen {
		return nil, fmt.Errorf("%w: a QR payload has 1 to %d characters", ErrInvalidPayload, MaxPayloadLen)
	}
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	return q.Bitmap(), nil
}

// PNG renders payload as a size×size PNG. Every module is the same whole
// number of pixels (crisp edges); the rest of the image is white margin
// around the quiet zone. size must be within [MinSize, MaxSize] (ErrSize).
func PNG(payload string, size int) ([]byte, error) {
	if size < MinSize || size > MaxSize {
		return nil, fmt.Errorf("%w: %d is not within [%d, %d]", ErrSize, size, MinSize, MaxSize)
	}
	bm, err := bitmap(payload)
	if err != nil {
		return nil, err
	}
	n := len(bm)
	scale := size / n // ≥ 2: a payload of ≤ 100 bytes is at most 49 modules wide
	off := (size - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for py := off + y*scale; py < off+(y+1)*scale; py++ {
				i := img.PixOffset(off+x*scale, py)
				for k := range scale {
					img.Pix[i+k] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qrlogin: PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// SVG renders payload as an SVG document: a white square with the quiet
// zone, and one black rectangle per horizontal run of dark modules, in a
// viewBox of one unit per module with crisp edges.
func SVG(payload string) ([]byte, error) {
	bm, err := bitmap(payload)
	if err != nil {
		return nil, err
	}
	n := len(bm)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n*svgModule, n*svgModule, n, n)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/><g fill="#000000">`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1"/>`, start, y, x-start)
		}
	}
	b.WriteString("</g></svg>\n")
	return b.Bytes(), nil
}
