package seal

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireTool returns the path of an external checker. Missing: skipped,
// except under CI=true, where it fails (.ci/run installs poppler-utils and
// qpdf).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required when CI=true (apt-get install poppler-utils qpdf): %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install poppler-utils qpdf)", name)
	}
	return p
}

// runTool runs an external tool and returns its combined output and error.
func runTool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, requireTool(t, name), args...).CombinedOutput()
	return string(out), err
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pdfsigReport runs pdfsig and splits its report per signature.
func pdfsigReport(t testing.TB, pdf []byte) []string {
	t.Helper()
	out, err := runTool(t, "pdfsig", writeTemp(t, "in.pdf", pdf))
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	parts := strings.Split(out, "Signature #")
	return parts[1:]
}

// qpdfCheck fails the test unless qpdf --check finds no damage.
func qpdfCheck(t testing.TB, pdf []byte) {
	t.Helper()
	out, err := runTool(t, "qpdf", "--check", writeTemp(t, "in.pdf", pdf))
	if err != nil || !strings.Contains(out, "No syntax or stream encoding errors found") || strings.Contains(out, "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

// renderPage renders one page with pdftoppm at dpi and returns the image.
func renderPage(t testing.TB, pdf []byte, pageNr, dpi int) image.Image {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	n := itoa(pageNr)
	out, err := runTool(t, "pdftoppm", "-png", "-r", itoa(dpi), "-f", n, "-l", n, "-singlefile", in, filepath.Join(dir, "page"))
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func itoa(i int) string { return strconv.Itoa(i) }

func isSealRed(r, g, b uint32) bool {
	return r>>8 > 150 && g>>8 < 110 && b>>8 < 110
}

// redPixels counts the seal-red pixels inside and outside a rectangle given
// in millimetres from the page's top-left corner.
type mmRect [4]float64

func redPixels(img image.Image, dpi int, r mmRect) (inside, outside int) {
	x0, y0, x1, y1 := r[0], r[1], r[2], r[3]
	px := func(mm float64) int { return int(mm / 25.4 * float64(dpi)) }
	const margin = 2
	ix0, iy0, ix1, iy1 := px(x0)-margin, px(y0)-margin, px(x1)+margin, px(y1)+margin
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if !isSealRed(r, g, bl) {
				continue
			}
			if x >= ix0 && x <= ix1 && y >= iy0 && y <= iy1 {
				inside++
			} else {
				outside++
			}
		}
	}
	return inside, outside
}
