package browser_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// The fake camera: Chromium reads cameraFile (a Y4M video, 4:2:0, full
// range) each time a page opens the camera, and loops it. Only one test at
// a time may point the camera somewhere: hold cameraMu from writing the
// file until the page has read its code.
var cameraMu sync.Mutex

// Y4M geometry of the fake camera.
const (
	camW, camH   = 640, 480
	camFrames    = 24
	camQRPixels  = 300 // the QR code's width in the picture, quiet zone included
	camBackdrop  = 168 // the wall behind the screen
	camMoveX     = 26  // how far the hand shakes, in pixels
	camMoveY     = 14
	camNoiseSeed = 7
)

func y4mHeader() string {
	return fmt.Sprintf("YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", camW, camH)
}

// writeBlankY4M writes a grey picture (the camera before any test).
func writeBlankY4M(path string) error {
	var b bytes.Buffer
	b.WriteString(y4mHeader())
	frame(&b, func(x, y int) byte { return camBackdrop })
	return writeAtomic(path, b.Bytes())
}

// writeQRY4M films img (a QR code image, e.g. the gateway's own QR PNG)
// held in front of the camera by a shaking hand: every frame shows it
// shifted (up to camMoveX, camMoveY pixels) over a grey backdrop with a
// little sensor noise.
func writeQRY4M(path string, img image.Image) error {
	b := img.Bounds()
	scale := float64(camQRPixels) / float64(b.Dx())
	gray := func(x, y int) byte {
		sx := b.Min.X + int(float64(x)/scale)
		sy := b.Min.Y + int(float64(y)/scale)
		if sx >= b.Max.X || sy >= b.Max.Y {
			return 255
		}
		return color.GrayModel.Convert(img.At(sx, sy)).(color.Gray).Y
	}
	qrH := int(float64(b.Dy()) * scale)
	var out bytes.Buffer
	out.WriteString(y4mHeader())
	noise := uint32(camNoiseSeed)
	for i := 0; i < camFrames; i++ {
		a := 2 * math.Pi * float64(i) / camFrames
		ox := (camW-camQRPixels)/2 + int(math.Round(camMoveX*math.Sin(a)))
		oy := (camH-qrH)/2 + int(math.Round(camMoveY*math.Cos(2*a)))
		frame(&out, func(x, y int) byte {
			v := byte(camBackdrop)
			if x >= ox && x < ox+camQRPixels && y >= oy && y < oy+qrH {
				v = gray(x-ox, y-oy)
			}
			noise = noise*1664525 + 1013904223 // a small LCG: deterministic noise
			n := int(v) + int(noise>>28) - 8
			return byte(min(255, max(0, n)))
		})
	}
	return writeAtomic(path, out.Bytes())
}

// frame appends one 4:2:0 frame whose luma is lum(x, y), without colour.
func frame(b *bytes.Buffer, lum func(x, y int) byte) {
	b.WriteString("FRAME\n")
	row := make([]byte, camW)
	for y := 0; y < camH; y++ {
		for x := 0; x < camW; x++ {
			row[x] = lum(x, y)
		}
		b.Write(row)
	}
	b.Write(bytes.Repeat([]byte{128}, camW*camH/2)) // U and V planes
}

// writeAtomic replaces path with data in one rename, so that the browser
// never reads a half-written video.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// decodePNG decodes an image (PNG) for writeQRY4M.
func decodeImage(b []byte) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}
