package qrlogin_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// decodeQR reads a QR code from img with gozxing, an independent decoder,
// as the reference phone client does.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	text, err := phone.DecodeQRImage(img)
	if err != nil {
		t.Fatalf("gozxing decode: %v", err)
	}
	return text
}

func TestPNGDecodesToPayload(t *testing.T) {
	payloads := []string{
		qrlogin.Encode("http://127.0.0.1:8080", testID, testNonce),
		qrlogin.Encode(longestURL, testID, testNonce), // the longest payload: 100 characters
	}
	for _, p := range payloads {
		for _, size := range []int{qrlogin.MinSize, 200, qrlogin.DefaultSize, qrlogin.MaxSize} {
			b, err := qrlogin.PNG(p, size)
			if err != nil {
				t.Fatalf("PNG(%d chars, %d): %v", len(p), size, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("png.Decode: %v", err)
			}
			if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
				t.Errorf("PNG size %v, want %dx%d", r, size, size)
			}
			if got := decodeQR(t, img); got != p {
				t.Errorf("PNG(%d) decodes to %q, want %q", size, got, p)
			}
		}
	}
}

func TestImageRejects(t *testing.T) {
	p := qrlogin.Encode(testURL, testID, testNonce)
	for _, size := range []int{-256, 0, qrlogin.MinSize - 1, qrlogin.MaxSize + 1, 1 << 20} {
		if _, err := qrlogin.PNG(p, size); !errors.Is(err, qrlogin.ErrSize) {
			t.Errorf("PNG(size %d) = %v, want ErrSize", size, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", qrlogin.MaxPayloadLen+1)} {
		if _, err := qrlogin.PNG(bad, qrlogin.DefaultSize); !errors.Is(err, qrlogin.ErrInvalidPayload) {
			t.Errorf("PNG(%d chars) = %v, want ErrInvalidPayload", len(bad), err)
		}
		if _, err := qrlogin.SVG(bad); !errors.Is(err, qrlogin.ErrInvalidPayload) {
			t.Errorf("SVG(%d chars) = %v, want ErrInvalidPayload", len(bad), err)
		}
	}
}

// svgDoc is the subset of SVG that qrlogin writes.
type svgDoc struct {
	ViewBox string    `xml:"viewBox,attr"`
	Rects   []svgRect `xml:"rect"`
	Groups  []struct {
		Fill  string    `xml:"fill,attr"`
		Rects []svgRect `xml:"rect"`
	} `xml:"g"`
}

type svgRect struct {
	X      int    `xml:"x,attr"`
	Y      int    `xml:"y,attr"`
	Width  int    `xml:"width,attr"`
	Height int    `xml:"height,attr"`
	Fill   string `xml:"fill,attr"`
}

// rasterize paints an SVG made of rects into a gray image, scale pixels
// per unit: a deliberately simple renderer for what qrlogin writes.
func rasterize(t *testing.T, svg []byte, scale int) image.Image {
	t.Helper()
	var d svgDoc
	if err := xml.Unmarshal(svg, &d); err != nil {
		t.Fatalf("SVG is not well-formed XML: %v", err)
	}
	var n int
	if _, err := fmtSscanf(d.ViewBox, &n); err != nil || n <= 0 {
		t.Fatalf("viewBox %q", d.ViewBox)
	}
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	paint := func(r svgRect, c color.Gray) {
		if r.X < 0 || r.Y < 0 || r.Width <= 0 || r.Height <= 0 || r.X+r.Width > n || r.Y+r.Height > n {
			t.Fatalf("rect %+v outside the %d×%d viewBox", r, n, n)
		}
		for y := r.Y * scale; y < (r.Y+r.Height)*scale; y++ {
			for x := r.X * scale; x < (r.X+r.Width)*scale; x++ {
				img.SetGray(x, y, c)
			}
		}
	}
	if len(d.Rects) != 1 || d.Rects[0].Fill != "#ffffff" || d.Rects[0].Width != n || d.Rects[0].Height != n {
		t.Fatalf("want one white background rect of the whole viewBox, got %+v", d.Rects)
	}
	paint(d.Rects[0], color.Gray{Y: 255})
	if len(d.Groups) != 1 || d.Groups[0].Fill != "#000000" {
		t.Fatalf("want one black group, got %d", len(d.Groups))
	}
	for _, r := range d.Groups[0].Rects {
		paint(r, color.Gray{Y: 0})
	}
	// The quiet zone (4 modules) must be white.
	for i := 0; i < n*scale; i++ {
		for j := 0; j < 4*scale; j++ {
			for _, p := range [][2]int{{i, j}, {j, i}, {i, n*scale - 1 - j}, {n*scale - 1 - j, i}} {
				if img.GrayAt(p[0], p[1]).Y != 255 {
					t.Fatalf("dark pixel %v in the quiet zone", p)
				}
			}
		}
	}
	return img
}

func TestSVGDecodesToPayload(t *testing.T) {
	for _, p := range []string{
		qrlogin.Encode(testURL, testID, testNonce),
		qrlogin.Encode(longestURL, testID, testNonce),
	} {
		svg, err := qrlogin.SVG(p)
		if err != nil {
			t.Fatalf("SVG: %v", err)
		}
		if !bytes.Contains(svg, []byte(`shape-rendering="crispEdges"`)) {
			t.Errorf("SVG lacks crisp edges")
		}
		if got := decodeQR(t, rasterize(t, svg, 6)); got != p {
			t.Errorf("SVG decodes to %q, want %q", got, p)
		}
	}
}

// fmtSscanf reads the module count of a "0 0 N N" viewBox.
func fmtSscanf(viewBox string, n *int) (int, error) {
	var n2 int
	c, err := fmt.Sscanf(viewBox, "0 0 %d %d", n, &n2)
	if err == nil && *n != n2 {
		err = fmt.Errorf("viewBox is not square")
	}
	return c, err
}
