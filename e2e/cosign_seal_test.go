package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"testing"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

// A seal session confirmed with a cosign credential: the PAdES CMS inside
// the sealed PDF is computed two-party (its signature spliced into the
// fixed-size /Contents slot) and checked here independently of package
// seal: the byte ranges and the CMS are cut out of the file by hand, the
// ASN.1 walked and the SM2 signature verified with tjfoc (OpenSSL 3.0
// cannot verify SM2 CMS). A wrong PIN is counted and changes nothing.
func TestCosignSeal(t *testing.T) {
	t.Parallel()
	w := cosignWorld(t)
	ctx := context.Background()
	cred := w.creds["CO-sign"]
	op := &operator.Client{BaseURL: w.ts.URL, Token: w.ts.AdminToken}
	sl, err := op.AddSeal(ctx, operator.SealRequest{Owner: w.userID, Name: "协同签章测试有限公司 合同专用章", Kind: "contract",
		ImagePNG: ringPNG(t), WidthMM: 40, HeightMM: 40, Issuer: cosignIssuer})
	if err != nil {
		t.Fatal(err)
	}
	bid := seal.TextPDF([][]string{{"Bid for lot 7", "Price: 2,000,000 CNY"}, {"Bidder (seal): [SEAL HERE]"}})
	newSession := func() *portal.Session {
		t.Helper()
		s, err := w.pc.CreateSession(ctx, portal.SessionRequest{Kind: portal.KindSeal, Issuer: cosignIssuer, Alg: "SM2", Origin: testOrigin,
			Display:   portal.Display{Title: "投标文件盖章", Summary: "cosign seal"},
			Documents: []portal.Document{{Name: "bid.pdf", PDF: bid, Placements: []seal.Placement{{Keyword: "[SEAL HERE]"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.phone.Scan(ctx, s.QR.Payload); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// A wrong PIN: an invalid two-party result, counted, the session
	// still scanned; then the right PIN completes it.
	s := newSession()
	if _, err := w.phone.ConfirmSeal(ctx, s.ID, cred.ID, sl.ID, "246801", s.Code); phone.Code(err) != "wrong_pin" {
		t.Fatalf("wrong PIN: %v", err)
	}
	if got, err := w.pc.GetSession(ctx, s.ID); err != nil || got.State != portal.StateScanned {
		t.Fatalf("after a wrong PIN: %+v %v", got, err)
	}
	if state, err := w.phone.ConfirmSeal(ctx, s.ID, cred.ID, sl.ID, testPIN, s.Code); err != nil || state != portal.StateCompleted {
		t.Fatalf("confirm: %q %v", state, err)
	}
	got, err := w.pc.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := got.Seal()
	if err != nil || len(res.Documents) != 1 {
		t.Fatalf("seal result %+v %v", res, err)
	}
	sealed := res.Documents[0].PDF
	if !bytes.HasPrefix(sealed, bid) {
		t.Fatal("the sealed PDF does not keep the original bytes")
	}

	// Independent check: /ByteRange and /Contents read by hand.
	br := regexp.MustCompile(`/ByteRange\[0 (\d+) (\d+) (\d+)\s*\]`).FindSubmatch(sealed)
	if br == nil {
		t.Fatal("no /ByteRange")
	}
	n := func(b []byte) int { v, _ := strconv.Atoi(string(b)); return v }
	gapStart, gapEnd, tail := n(br[1]), n(br[2]), n(br[3])
	if gapEnd+tail != len(sealed) || sealed[gapStart] != '<' || sealed[gapEnd-1] != '>' {
		t.Fatalf("byte range [0 %d %d %d] of %d bytes", gapStart, gapEnd, tail, len(sealed))
	}
	raw, err := hex.DecodeString(string(sealed[gapStart+1 : gapEnd-1]))
	if err != nil {
		t.Fatal(err)
	}
	cms := derPrefix(t, raw)
	if bytes.Count(raw[len(cms):], []byte{0}) != len(raw)-len(cms) {
		t.Fatal("the /Contents slot holds more than the CMS and zero padding")
	}
	signed := append(bytes.Clone(sealed[:gapStart]), sealed[gapEnd:]...)
	checkSM2CMS(t, cms, signed, nil, cred.CertificatePEM, false)

	// The gateway's own check and the seal: valid, whole, the seal named.
	va, err := w.pc.VerifyPDF(ctx, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !va.Valid || len(va.PDFSignatures) != 1 || !va.PDFSignatures[0].CoversWholeDocument || va.PDFSignatures[0].Seal == nil ||
		va.PDFSignatures[0].Seal.ID != sl.ID || !va.PDFSignatures[0].Seal.Valid {
		t.Fatalf("verify: %+v", va)
	}
	// Changed after sealing: no longer valid.
	changed := bytes.Replace(sealed, []byte("2,000,000"), []byte("9,000,000"), 1)
	if va, err := w.pc.VerifyPDF(ctx, changed); err != nil || va.Valid {
		t.Fatalf("a changed PDF verifies: %+v %v", va, err)
	}
}

// derPrefix is the DER TLV at the start of b (the CMS before the zero
// padding of its slot), read by hand.
func derPrefix(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) < 2 || b[0] != 0x30 {
		t.Fatal("the /Contents slot does not start with a DER SEQUENCE")
	}
	l, hdr := int(b[1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 3 || len(b) < 2+k {
			t.Fatalf("DER length of %d bytes", k)
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		hdr = 2 + k
	}
	if hdr+l > len(b) {
		t.Fatalf("DER of %d bytes in a slot of %d", hdr+l, len(b))
	}
	return b[:hdr+l]
}

// ringPNG is a red ring on a transparent square: a seal image.
func ringPNG(t *testing.T) []byte {
	t.Helper()
	const size = 96
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x-size/2), float64(y-size/2)
			if r2 := dx*dx + dy*dy; r2 < 46*46 && r2 > 38*38 {
				img.SetNRGBA(x, y, color.NRGBA{R: 220, G: 20, B: 20, A: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
