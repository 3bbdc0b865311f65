package seal

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/sealimage"
)

// testPKI is an issuer (CA) and a user certificate it issued.
type testPKI struct {
	caKey   crypto.Signer
	caCert  *smx509.Certificate
	key     crypto.Signer
	cert    *smx509.Certificate
	alg     gmcrypto.Alg
	signer  Signer
	sealDER []byte
}

var (
	pkiMu    sync.Mutex
	pkiCache = map[gmcrypto.Alg]*testPKI{}
)

func newPKI(t testing.TB, alg gmcrypto.Alg) *testPKI {
	t.Helper()
	pkiMu.Lock()
	defer pkiMu.Unlock()
	if p, ok := pkiCache[alg]; ok {
		return p
	}
	bits := 0
	if alg == gmcrypto.AlgRSA {
		bits = 2048
	}
	caKey, err := gmcrypto.GenerateKey(alg, bits)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gmcrypto.GenerateKey(alg, bits)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Seal CA " + string(alg), Organization: []string{"ukeygate test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: smx509.KeyUsageCertSign | smx509.KeyUsageDigitalSignature | smx509.KeyUsageCRLSign,
	}
	caDER, err := smx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := smx509.ParseCertificate(caDER)
	tmpl := &smx509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "张三 " + string(alg), Organization: []string{"某某建设有限公司"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := smx509.ParseCertificate(der)
	p := &testPKI{caKey: caKey, caCert: caCert, key: key, cert: cert, alg: alg}
	p.signer = Signer{Key: key, Cert: cert, Chain: []*smx509.Certificate{caCert}}
	img, err := CheckPNG(sealPNG(t, 240))
	if err != nil {
		t.Fatal(err)
	}
	p.sealDER, err = Make(&Spec{
		ID: "ES-TEST-" + string(alg), Name: "某某建设有限公司 公章", Kind: KindOfficial, Image: img,
		WidthMM: 40, HeightMM: 40, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		SignerCerts: [][]byte{cert.Raw},
	}, caKey, caCert)
	if err != nil {
		t.Fatal(err)
	}
	pkiCache[alg] = p
	return p
}

// sealPNG is a realistic round 公章 (package sealimage: border, star,
// the company's name on the upper arc, 投标专用章 below), size pixels a
// side, drawn once per size.
func sealPNG(t testing.TB, size int) []byte {
	t.Helper()
	if size < 120 || size > 2048 {
		return ringPNG(t, size)
	}
	return drawOnce(t, fmt.Sprint("round", size), func() ([]byte, error) {
		return sealimage.Round("某某建设有限公司", "投标专用章", size)
	})
}

// ringPNG draws a red ring with a dot in the centre on a transparent square
// (any size: for the limits of CheckPNG).
func ringPNG(t testing.TB, size int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	red := color.NRGBA{R: 220, G: 20, B: 20, A: 255}
	c := float64(size) / 2
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
			r2 := dx*dx + dy*dy
			outer, inner := c*0.95, c*0.80
			if (r2 <= outer*outer && r2 >= inner*inner) || r2 <= (c*0.25)*(c*0.25) {
				img.SetNRGBA(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// legalRepPNG is a square 法人章 of 张三.
func legalRepPNG(t testing.TB, size int) []byte {
	t.Helper()
	return drawOnce(t, fmt.Sprint("square", size), func() ([]byte, error) { return sealimage.Square("张三", size) })
}

var drawn sync.Map

func drawOnce(t testing.TB, key string, draw func() ([]byte, error)) []byte {
	t.Helper()
	if b, ok := drawn.Load(key); ok {
		return b.([]byte)
	}
	b, err := draw()
	if err != nil {
		t.Fatalf("drawing the seal picture (CI installs fonts-wqy-zenhei): %v", err)
	}
	drawn.Store(key, b)
	return b
}

// testPDF writes a plain PDF (classic xref table, Helvetica) of A4 pages;
// page i shows lines[i]. pad adds an uncompressed filler stream object of
// that many bytes (for size benchmarks).
func testPDF(t testing.TB, pages [][]string, pad int) []byte {
	t.Helper()
	return testPDFBox(t, pages, pad, "/MediaBox[0 0 595.276 841.89]")
}

// testPDFBox is testPDF with pageBox (for example "/MediaBox[…]/Rotate 90")
// in every page dictionary.
func testPDFBox(t testing.TB, pages [][]string, pad int, pageBox string) []byte {
	t.Helper()
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, 4.. page i at 4+2i, content at 5+2i, filler last
	obj("<</Type/Catalog/Pages 2 0 R>>")
	var kids []string
	for i := 0; i < n; i++ {
		kids = append(kids, fmt.Sprintf("%d 0 R", 4+2*i))
	}
	obj(fmt.Sprintf("<</Type/Pages/Count %d/Kids[%s]>>", n, strings.Join(kids, " ")))
	obj("<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
	for i, lines := range pages {
		obj(fmt.Sprintf("<</Type/Page/Parent 2 0 R%s/Resources<</Font<</F1 3 0 R>>>>/Contents %d 0 R>>", pageBox, 5+2*i))
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 56.7 785 Td 16 TL\n")
		for _, l := range lines {
			fmt.Fprintf(&c, "(%s) Tj T*\n", l)
		}
		c.WriteString("ET\n")
		obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", c.Len(), c.String()))
	}
	if pad > 0 {
		filler := bytes.Repeat([]byte("0123456789abcdef"), pad/16+1)[:pad]
		obj(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(filler), filler))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R/ID[<0102030405060708090a0b0c0d0e0f10><0102030405060708090a0b0c0d0e0f10>]>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// bidPages is a two-page bid document with a keyword on page 2.
func bidPages() [][]string {
	return [][]string{
		{"Bid for the Riverside Bridge Repair, lot 3", "Bidder: Example Construction Co., Ltd.", "Total price: 1,234,567.00 CNY", "Validity: 90 days"},
		{"Declarations", "We accept every term of the tender documents.", "", "Bidder (seal): [SEAL HERE]", "Date: 2026-12-04"},
	}
}

func sealOptions(t testing.TB, p *testPKI, pl ...Placement) *Options {
	t.Helper()
	img, err := CheckPNG(sealPNG(t, 240))
	if err != nil {
		t.Fatal(err)
	}
	return &Options{Image: img, WidthMM: 40, HeightMM: 40, Placements: pl, SES: p.sealDER, Signer: p.signer, Reason: "bid"}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pngEncode(w io.Writer, img image.Image) error { return png.Encode(w, img) }

// toOpaque draws img on white: no transparency left.
func toOpaque(img *Image) image.Image {
	b := img.img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.img.At(x, y).RGBA()
			k := 0xffff - a
			out.Set(x, y, color.RGBA64{R: uint16(r + k), G: uint16(g + k), B: uint16(bl + k), A: 0xffff})
		}
	}
	return out
}
