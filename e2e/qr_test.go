package e2e

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/portal"
)

// decodeQR reads a PNG's QR code with gozxing, as a phone camera would.
func decodeQR(t *testing.T, img []byte) string {
	t.Helper()
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	text, err := phone.DecodeQR(img)
	if err != nil {
		t.Fatalf("gozxing finds no QR code: %v", err)
	}
	return text
}

// TestQRImageDecodesToPayload: the session's qr.png, fetched with the app
// key or with the watch token in its png_url, at several sizes, decodes to
// exactly the payload, and that payload is what the phone scans.
func TestQRImageDecodesToPayload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	envelope, err := w.pc.Encrypt(ctx, w.userID, "sm2", []byte("not opened in this test"))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []portal.SessionRequest{
		{Kind: portal.KindLogin},
		{Kind: portal.KindSign, Documents: []portal.Document{{Name: "a", Data: []byte("a")}}},
		{Kind: portal.KindDecrypt, Ciphertext: envelope, CiphertextFormat: "cms"},
	} {
		t.Run(string(req.Kind), func(t *testing.T) {
			req.Origin, req.Display = testOrigin, portal.Display{Title: "QR", Summary: "QR test"}
			s, err := w.pc.CreateSession(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(s.QR.Payload); n == 0 || n > 100 {
				t.Fatalf("payload of %d characters: %q", n, s.QR.Payload)
			}
			for _, size := range []int{0, 128, 1024} {
				img, err := w.pc.QRPNG(ctx, s, size)
				if err != nil {
					t.Fatal(err)
				}
				if got := decodeQR(t, img); got != s.QR.Payload {
					t.Fatalf("size %d: the QR code holds %q, the payload is %q", size, got, s.QR.Payload)
				}
			}
			// The browser's way: png_url with the watch token, no app key.
			u, err := url.Parse(s.QR.PNGURL)
			if err != nil {
				t.Fatal(err)
			}
			if !u.IsAbs() {
				u, _ = url.Parse(w.ts.URL + s.QR.PNGURL)
			}
			if u.Query().Get("token") == "" {
				q := u.Query()
				q.Set("token", s.Watch.Token)
				u.RawQuery = q.Encode()
			}
			resp, err := http.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			img, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET png_url: %d %s", resp.StatusCode, img)
			}
			payload := decodeQR(t, img)
			if payload != s.QR.Payload {
				t.Fatalf("png_url holds %q, the payload is %q", payload, s.QR.Payload)
			}
			scan, err := w.phone.Scan(ctx, payload)
			if err != nil || scan.Session.ID != s.ID {
				t.Fatalf("scanning the decoded payload: %+v, %v", scan, err)
			}
		})
	}
}
