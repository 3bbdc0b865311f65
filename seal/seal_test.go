package seal

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

const renderDPI = 72

// sealRectMM is the rectangle a centred seal of w×h mm covers.
func sealRectMM(x, y, w, h float64) mmRect {
	return mmRect{x - w/2, y - h/2, x + w/2, y + h/2}
}

// keepRender writes a rendered page for a person to look at (and, with
// UKEYGATE_SEAL_DOCS=1, into docs/ as the kept examples).
func keepRender(t *testing.T, pdf []byte, pageNr int, name string, example bool) {
	t.Helper()
	img := renderPage(t, pdf, pageNr, 90)
	dir := t.TempDir()
	if example && os.Getenv("UKEYGATE_SEAL_DOCS") == "1" {
		dir = filepath.Join("..", "docs", "img")
		os.MkdirAll(dir, 0o755)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pngEncode(f, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("rendered page: %s", f.Name())
}

func TestSealRSAWithIndependentTools(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgRSA)
	in := testPDF(t, bidPages(), 0)
	out, err := Seal(in, sealOptions(t, p, Placement{Page: 1, XMM: 150, YMM: 240}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[:len(in)], in) {
		t.Fatal("the original bytes changed: not an incremental update")
	}
	// pdfsig (poppler): valid, whole document, PAdES subfilter.
	rep := pdfsigReport(t, out)
	if len(rep) != 1 {
		t.Fatalf("pdfsig sees %d signatures", len(rep))
	}
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Total document signed", "Signature Type: ETSI.CAdES.detached", "Signing Hash Algorithm: SHA-256"} {
		if !strings.Contains(rep[0], want) {
			t.Errorf("pdfsig does not say %q:\n%s", want, rep[0])
		}
	}
	qpdfCheck(t, out)

	// pdftoppm: the seal's red pixels inside the requested 40 mm square, none elsewhere.
	img := renderPage(t, out, 1, renderDPI)
	in1, out1 := redPixels(img, renderDPI, sealRectMM(150, 240, 40, 40))
	if in1 < 200 || out1 != 0 {
		t.Fatalf("page 1: %d red pixels inside the seal's rectangle, %d outside", in1, out1)
	}
	// Page 2 was not asked for: no red at all.
	if in2, out2 := redPixels(renderPage(t, out, 2, renderDPI), renderDPI, mmRect{}); in2+out2 != 0 {
		t.Fatalf("page 2 has %d red pixels", in2+out2)
	}
	// The unsealed document renders without red: the check can fail.
	if in0, out0 := redPixels(renderPage(t, in, 1, renderDPI), renderDPI, mmRect{0, 0, 210, 297}); in0+out0 != 0 {
		t.Fatal("the unsealed page already has red pixels: the check is void")
	}

	sigs, err := Verify(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 1 {
		t.Fatalf("%d signatures", len(sigs))
	}
	s := sigs[0]
	if !s.Valid || !s.CoversWholeDocument || s.Modified || !s.SigningCertificateV2 || !s.SealValid || s.SubFilter != "ETSI.CAdES.detached" {
		t.Fatalf("verify: %+v", s)
	}
	if s.Signer == nil || !bytes.Equal(s.Signer.Raw, p.cert.Raw) || s.Seal.Name != "某某建设有限公司 公章" || s.Seal.Kind != KindOfficial || s.Time.IsZero() {
		t.Fatalf("verify: signer/seal/time wrong: %+v", s)
	}
}

// sm2PDFSignature returns the CMS and the signed bytes of the only
// signature, read from the file by this test (not by Verify).
func pdfSignatureParts(t *testing.T, pdf []byte) (cms, signed []byte) {
	t.Helper()
	m := regexp.MustCompile(`/ByteRange\[0 (\d+) (\d+) (\d+)\s*\]`).FindAllSubmatch(pdf, -1)
	if len(m) == 0 {
		t.Fatal("no ByteRange")
	}
	last := m[len(m)-1]
	a, _ := strconv.Atoi(string(last[1]))
	b, _ := strconv.Atoi(string(last[2]))
	c, _ := strconv.Atoi(string(last[3]))
	signed = append(append([]byte{}, pdf[:a]...), pdf[b:b+c]...)
	// The whole slot, then the DER's own length: trimming the zero
	// padding as text would also cut a CMS ending in a 0x00 byte.
	cms = unhex(t, string(pdf[a+1:b-1]))
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(cms, &rv)
	if err != nil {
		t.Fatalf("the signature slot holds no DER: %v", err)
	}
	return cms[:len(cms)-len(rest)], signed
}

func TestSealSM2CMSIndependent(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgSM2)
	in := testPDF(t, bidPages(), 0)
	out, err := Seal(in, sealOptions(t, p, Placement{Page: 1, XMM: 150, YMM: 240}))
	if err != nil {
		t.Fatal(err)
	}
	cms, signed := pdfSignatureParts(t, out)
	checkSM2CMSWithTjfoc(t, cms, signed, p)
	// A changed byte in the signed range: the same independent check fails.
	bad := append([]byte{}, signed...)
	bad[100] ^= 1
	if sm2CMSVerifies(t, cms, bad, p) {
		t.Fatal("tjfoc accepts the CMS over changed bytes: the check is void")
	}
	qpdfCheck(t, out)
	img := renderPage(t, out, 1, renderDPI)
	if in1, out1 := redPixels(img, renderDPI, sealRectMM(150, 240, 40, 40)); in1 < 200 || out1 != 0 {
		t.Fatalf("%d red pixels inside, %d outside", in1, out1)
	}
	sigs, err := Verify(out)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid || !sigs[0].SealValid || !sigs[0].SigningCertificateV2 {
		t.Fatalf("verify: %v %+v", err, sigs)
	}
	// pdfsig finds the signature but cannot check SM2: it must not call it valid.
	rep := pdfsigReport(t, out)
	if len(rep) != 1 || strings.Contains(rep[0], "Signature is Valid") {
		t.Fatalf("pdfsig on SM2: %v", rep)
	}
}

func TestChangedAfterSealing(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgRSA)
	out, err := Seal(testPDF(t, bidPages(), 0), sealOptions(t, p, Placement{Page: 1, XMM: 150, YMM: 240}))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("byte in the signed range", func(t *testing.T) {
		bad := bytes.Replace(out, []byte("1,234,567.00"), []byte("9,234,567.00"), 1)
		if bytes.Equal(bad, out) {
			t.Fatal("price not found")
		}
		sigs, err := Verify(bad)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) != 1 || sigs[0].Valid || !sigs[0].Modified || sigs[0].SealValid {
			t.Fatalf("%+v", sigs)
		}
		if rep := pdfsigReport(t, bad); strings.Contains(rep[0], "Signature is Valid") {
			t.Fatalf("pdfsig calls the changed document valid:\n%s", rep[0])
		}
	})
	t.Run("unsigned update appended", func(t *testing.T) {
		changed := appendForgedRevision(t, out)
		qpdfCheck(t, changed)
		sigs, err := Verify(changed)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Modified || sigs[0].CoversWholeDocument {
			t.Fatalf("%+v", sigs)
		}
		rep := pdfsigReport(t, changed)
		if !strings.Contains(rep[0], "Signature is Valid") || strings.Contains(rep[0], "Total document signed") {
			t.Fatalf("pdfsig:\n%s", rep[0])
		}
		// The change is visible: FORGED text drawn over page 1.
		if txt, err := runTool(t, "pdftotext", "-f", "1", "-l", "1", writeTemp(t, "c.pdf", changed), "-"); err != nil || !strings.Contains(txt, "FORGED") {
			t.Fatalf("pdftotext: %v %q", err, txt)
		}
	})
}

// appendForgedRevision appends an unsigned incremental update that
// replaces page 1's content.
func appendForgedRevision(t *testing.T, pdf []byte) []byte {
	t.Helper()
	sizes := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(pdf, -1)
	size, _ := strconv.Atoi(string(sizes[len(sizes)-1][1]))
	sx := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(pdf, -1)
	prev := string(sx[len(sx)-1][1])
	var b bytes.Buffer
	b.Write(pdf)
	content := "BT /F1 30 Tf 100 400 Td (FORGED) Tj ET"
	cOff := b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<</Length %d>>\nstream\n%s\nendstream\nendobj\n", size, len(content), content)
	pOff := b.Len()
	fmt.Fprintf(&b, "4 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595.276 841.89]/Resources<</Font<</F1 3 0 R>>>>/Contents %d 0 R>>\nendobj\n", size)
	x := b.Len()
	fmt.Fprintf(&b, "xref\n4 1\n%010d 00000 n\r\n%d 1\n%010d 00000 n\r\ntrailer\n<</Size %d/Root 1 0 R/Prev %s>>\nstartxref\n%d\n%%%%EOF\n", pOff, size, cOff, size+1, prev, x)
	return b.Bytes()
}

func TestSecondSealKeepsFirstValid(t *testing.T) {
	company := newPKI(t, gmcrypto.AlgRSA)
	legal := newPKI(t, gmcrypto.AlgSM2)
	first, err := Seal(testPDF(t, bidPages(), 0), sealOptions(t, company, Placement{Page: 2, XMM: 60, YMM: 120}))
	if err != nil {
		t.Fatal(err)
	}
	o := sealOptions(t, legal, Placement{Page: 2, XMM: 150, YMM: 120})
	o.WidthMM, o.HeightMM = 25, 25
	if o.Image, err = CheckPNG(legalRepPNG(t, 200)); err != nil {
		t.Fatal(err)
	}
	second, err := Seal(first, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second[:len(first)], first) {
		t.Fatal("the first sealed revision changed")
	}
	qpdfCheck(t, second)
	sigs, err := Verify(second)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 {
		t.Fatalf("%d signatures", len(sigs))
	}
	if !sigs[0].Valid || sigs[0].CoversWholeDocument || sigs[0].Modified || !sigs[0].SealValid || !bytes.Equal(sigs[0].Signer.Raw, company.cert.Raw) {
		t.Fatalf("first: %+v", sigs[0])
	}
	if !sigs[1].Valid || !sigs[1].CoversWholeDocument || sigs[1].Modified || !sigs[1].SealValid || !bytes.Equal(sigs[1].Signer.Raw, legal.cert.Raw) {
		t.Fatalf("second: %+v", sigs[1])
	}
	// poppler agrees on the RSA one: still valid, no longer the whole document.
	rep := pdfsigReport(t, second)
	if len(rep) != 2 || !strings.Contains(rep[0], "Signature is Valid") || strings.Contains(rep[0], "Total document signed") {
		t.Fatalf("pdfsig:\n%v", rep)
	}
	img := renderPage(t, second, 2, renderDPI)
	a, _ := redPixels(img, renderDPI, sealRectMM(60, 120, 40, 40))
	b, _ := redPixels(img, renderDPI, sealRectMM(150, 120, 25, 25))
	if a < 200 || b < 100 {
		t.Fatalf("red pixels: company %d, legal representative %d", a, b)
	}
	// Both rectangles together hold every red pixel.
	total, _ := redPixels(img, renderDPI, mmRect{0, 0, 300, 300})
	if total != a+b {
		t.Fatalf("%d red pixels, %d inside the two seals", total, a+b)
	}
	keepRender(t, second, 2, "seal-example-two-seals.png", true)
}

func TestSealAtKeyword(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgRSA)
	out, err := Seal(testPDF(t, bidPages(), 0), sealOptions(t, p, Placement{Keyword: "[SEAL HERE]"}))
	if err != nil {
		t.Fatal(err)
	}
	// Ask poppler where the keyword is: pdftotext -bbox.
	html, err := runTool(t, "pdftotext", "-bbox", "-f", "2", "-l", "2", writeTemp(t, "k.pdf", out), "-")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">\[SEAL</word>\s*<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"`).FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("pdftotext does not find the keyword:\n%s", html)
	}
	f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v / ptPerMM }
	cx, cy := (f(m[1])+f(m[5]))/2, (f(m[2])+f(m[4]))/2
	img := renderPage(t, out, 2, renderDPI)
	in, outside := redPixels(img, renderDPI, sealRectMM(cx, cy, 40+4, 40+4))
	if in < 200 || outside != 0 {
		t.Fatalf("keyword at (%.1f, %.1f) mm: %d red pixels around it, %d elsewhere", cx, cy, in, outside)
	}
	if in1, out1 := redPixels(renderPage(t, out, 1, renderDPI), renderDPI, mmRect{}); in1+out1 != 0 {
		t.Fatal("page 1 has no keyword but has red pixels")
	}
	keepRender(t, out, 2, "seal-example-keyword.png", true)
	if _, err := Seal(testPDF(t, bidPages(), 0), sealOptions(t, p, Placement{Keyword: "nowhere to be found"})); !errors.Is(err, ErrKeywordNotFound) {
		t.Fatalf("missing keyword: %v", err)
	}
}

func TestStraddleSeal(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgSM2)
	pages := [][]string{{"page one"}, {"page two"}, {"page three"}}
	o := sealOptions(t, p)
	o.Straddle = &Straddle{YMM: 150}
	out, err := Seal(testPDF(t, pages, 0), o)
	if err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, out)
	strip := 40.0 / 3
	total := 0
	for nr := 1; nr <= 3; nr++ {
		img := renderPage(t, out, nr, renderDPI)
		in, outside := redPixels(img, renderDPI, mmRect{210 - strip, 150 - 20, 210, 150 + 20})
		if in < 20 || outside != 0 {
			t.Fatalf("page %d: %d red pixels in the edge strip, %d elsewhere", nr, in, outside)
		}
		total += in
	}
	// The three strips together are one whole seal: about as many red
	// pixels as the same seal drawn whole.
	whole, err := Seal(testPDF(t, pages, 0), sealOptions(t, p, Placement{Page: 1, XMM: 100, YMM: 150}))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := redPixels(renderPage(t, whole, 1, renderDPI), renderDPI, mmRect{0, 0, 300, 300})
	if total < w*8/10 || total > w*12/10 {
		t.Fatalf("strips hold %d red pixels, the whole seal %d", total, w)
	}
	keepRender(t, out, 2, "seal-straddle-page2.png", false)
	sigs, err := Verify(out)
	if err != nil || len(sigs) != 1 || !sigs[0].Valid {
		t.Fatalf("%v %+v", err, sigs)
	}
	o.Straddle = &Straddle{YMM: 150}
	if _, err := Seal(testPDF(t, pages[:1], 0), o); !errors.Is(err, ErrBadPlacement) {
		t.Fatalf("straddle on one page: %v", err)
	}
}

func TestSealRefusesBadInput(t *testing.T) {
	p := newPKI(t, gmcrypto.AlgRSA)
	good := testPDF(t, bidPages(), 0)
	cases := []struct {
		name string
		pdf  []byte
		pl   []Placement
		want error
	}{
		{"no placement", good, nil, ErrBadPlacement},
		{"page 0", good, []Placement{{Page: 0, XMM: 10, YMM: 10}}, ErrBadPlacement},
		{"page 3 of 2", good, []Placement{{Page: 3, XMM: 100, YMM: 100}}, ErrBadPlacement},
		{"off the page", good, []Placement{{Page: 1, XMM: 205, YMM: 100}}, ErrBadPlacement},
		{"negative", good, []Placement{{Page: 1, XMM: -5, YMM: 100}}, ErrBadPlacement},
		{"keyword and page", good, []Placement{{Page: 1, Keyword: "Bid"}}, ErrBadPlacement},
		{"not a PDF", []byte("hello"), []Placement{{Page: 1, XMM: 100, YMM: 100}}, ErrBadPDF},
		{"truncated PDF", good[:len(good)/3], []Placement{{Page: 1, XMM: 100, YMM: 100}}, ErrBadPDF},
		// pdfcpu panics reading this page's box (found by FuzzReadExcerpt).
		{"an empty /MediaBox", emptyMediaBox, []Placement{{Page: 1, XMM: 100, YMM: 100}}, ErrBadPDF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := Seal(c.pdf, sealOptions(t, p, c.pl...))
			if !errors.Is(err, c.want) || out != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if sigs, err := Verify(good); err != nil || len(sigs) != 0 {
		t.Fatalf("unsigned document: %v %+v", err, sigs)
	}
}
