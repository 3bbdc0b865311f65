package phone

import (
	"fmt"
	"testing"

	"github.com/ukeygate/ukeygate/qrlogin"
)

// TestDecodeQRGatewayImages reads the gateway's QR images of many
// payloads of the real shape: gozxing alone misreads about 1 in 100 of
// them. With TRY_HARDER alone, payloads 42, 74 and 76 of this fixed series
// are misread, so a single reading order fails here.
func TestDecodeQRGatewayImages(t *testing.T) {
	const n = 100
	for i := 0; i < n; i++ {
		payload := fmt.Sprintf("http://127.0.0.1:%d/q/%016x.%016x", 30000+i, uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xbf58476d1ce4e5b9)
		img, err := qrlogin.PNG(payload, qrlogin.DefaultSize)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeQR(img)
		if err != nil || got != payload {
			t.Fatalf("payload %d %q: read %q, %v", i, payload, got, err)
		}
	}
}
