package phone

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // photos of a QR code
	_ "image/png"  // the gateway's qr.png, screenshots

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// maxQRImage bounds the image DecodeQR reads (bytes and pixels).
const (
	maxQRImageBytes  = 16 << 20
	maxQRImagePixels = 40_000_000
)

// DecodeQR reads the QR code of a PNG or JPEG image (the gateway's qr.png,
// a screenshot of the portal page, a photo) and returns its text, as the
// phone's camera would. An image without a readable QR code is
// ErrBadPayload.
func DecodeQR(img []byte) (string, error) {
	if len(img) > maxQRImageBytes {
		return "", fmt.Errorf("%w: image larger than %d bytes", ErrBadPayload, maxQRImageBytes)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return "", fmt.Errorf("%w: not a PNG or JPEG image: %v", ErrBadPayload, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxQRImagePixels {
		return "", fmt.Errorf("%w: image of %dx%d pixels", ErrBadPayload, cfg.Width, cfg.Height)
	}
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return "", fmt.Errorf("%w: not a PNG or JPEG image: %v", ErrBadPayload, err)
	}
	return DecodeQRImage(m)
}

// DecodeQRImage reads the QR code of an image already decoded (a
// screenshot, a rendered terminal); see DecodeQR.
func DecodeQRImage(m image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(m)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	for _, hints := range decodeHints {
		if res, err := qrcode.NewQRCodeReader().Decode(bmp, hints); err == nil {
			return res.GetText(), nil
		}
	}
	return "", fmt.Errorf("%w: no QR code found in the image", ErrBadPayload)
}

// decodeHints are tried in turn. gozxing misreads about 1 in 100 of the
// gateway's own crisp QR images with its default or TRY_HARDER reading
// (zbar reads every one of them): PURE_BARCODE, which reads a code that
// fills the image, gets them all; TRY_HARDER then finds a code in a
// screenshot or photo, where PURE_BARCODE fails.
var decodeHints = []map[gozxing.DecodeHintType]any{
	{gozxing.DecodeHintType_PURE_BARCODE: true},
	{gozxing.DecodeHintType_TRY_HARDER: true},
	nil,
}
