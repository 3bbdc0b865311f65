package phone_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/qrlogin"
)

func TestDecodeQR(t *testing.T) {
	payload := "https://gw.example.cn/q/AbCdEfGhIjKlMnOp.qRsTuVwXyZ012345"
	qr, err := qrlogin.PNG(payload, 256)
	if err != nil {
		t.Fatal(err)
	}
	// The same code as a JPEG photo (lossy) and inside a larger white page.
	m, err := png.Decode(bytes.NewReader(qr))
	if err != nil {
		t.Fatal(err)
	}
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, m, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	page := image.NewRGBA(image.Rect(0, 0, 900, 700))
	for i := range page.Pix {
		page.Pix[i] = 0xff
	}
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			page.Set(500+x, 300+y, m.At(x, y))
		}
	}
	var pageBuf bytes.Buffer
	if err := png.Encode(&pageBuf, page); err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"qr.png": qr, "photo.jpg": photo.Bytes(), "page.png": pageBuf.Bytes()} {
		got, err := phone.DecodeQR(img)
		if err != nil || got != payload {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}

	blank := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	blank.Set(3, 3, color.Black)
	var blankBuf bytes.Buffer
	_ = png.Encode(&blankBuf, blank)
	for name, img := range map[string][]byte{
		"empty":      nil,
		"text":       []byte(payload),
		"truncated":  qr[:len(qr)/2],
		"blank page": blankBuf.Bytes(),
	} {
		if _, err := phone.DecodeQR(img); !errors.Is(err, phone.ErrBadPayload) {
			t.Errorf("%s: %v, want ErrBadPayload", name, err)
		}
	}
}

func FuzzDecodeQR(f *testing.F) {
	qr, err := qrlogin.PNG("https://gw.example.cn/q/AbCdEfGhIjKlMnOp.qRsTuVwXyZ012345", 128)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(qr)
	f.Fuzz(func(t *testing.T, img []byte) {
		text, err := phone.DecodeQR(img)
		if err != nil && !errors.Is(err, phone.ErrBadPayload) {
			t.Fatalf("error %v is not ErrBadPayload", err)
		}
		if err == nil && text == "" {
			t.Fatal("decoded an empty payload without an error")
		}
	})
}

func TestSessionCallsRefuseBadInput(t *testing.T) {
	ctx := context.Background()
	// An enrolled-looking state pointing nowhere: the checks come first.
	c := &phone.Client{BaseURL: "http://127.0.0.1:1", State: &phone.State{}}
	if _, err := c.Scan(ctx, "  "); !errors.Is(err, phone.ErrBadPayload) {
		t.Errorf("empty payload: %v", err)
	}
	for _, id := range []string{"", "a/b", "x?y", "%2f", strings.Repeat("a", 200)} {
		if _, err := c.Confirm(ctx, id, "cred", "135790", "42"); !errors.Is(err, phone.ErrBadSessionID) {
			t.Errorf("Confirm(%q): %v", id, err)
		}
		if _, err := c.Reject(ctx, id); !errors.Is(err, phone.ErrBadSessionID) {
			t.Errorf("Reject(%q): %v", id, err)
		}
	}
	if _, err := c.Scan(ctx, "https://gw/q/x.y"); !errors.Is(err, phone.ErrNotEnrolled) {
		t.Errorf("scan before enrolling: %v", err)
	}
}

func TestLastScanPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phone.json")
	st := &phone.State{ServerURL: "https://gw.example.cn"}
	r := &phone.ScanResult{Credentials: []phone.Credential{{ID: "crd_a"}, {ID: "crd_b"}}}
	r.Session.ID, r.Session.Kind, r.Session.Origin = "sess", "login", "https://bid.example.cn"
	r.Session.App.Name = "招标平台"
	r.Session.CodeChoices = []string{"17", "42", "88"}
	st.Remember(r)
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := phone.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := got.LastScan
	if ls == nil || ls.SessionID != "sess" || ls.Kind != "login" || ls.AppName != "招标平台" || ls.Origin != "https://bid.example.cn" ||
		len(ls.Credentials) != 2 || ls.Credentials[1] != "crd_b" || strings.Join(ls.CodeChoices, ",") != "17,42,88" {
		t.Fatalf("last scan %+v", ls)
	}
}
