package seal

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"
)

// TestSlotDER: the CMS is cut from its zero-padded slot by its DER length,
// so one whose last bytes are 0x00 (one signature in 256 ends so) comes
// back whole.
func TestSlotDER(t *testing.T) {
	for _, tail := range [][]byte{{0x67}, {0x50}, {0x00}, {0x10, 0x00}, {0x00, 0x00, 0x00}} {
		der, err := asn1.Marshal(append([]byte("cms"), tail...))
		if err != nil {
			t.Fatal(err)
		}
		h := hex.EncodeToString(der)
		for _, slot := range []string{h + strings.Repeat("0", 64), h + strings.Repeat("0", 63), h} {
			got, why := slotDER([]byte(slot))
			if why != "" || !bytes.Equal(got, der) {
				t.Fatalf("slot %s: got %x (%s), want %x", slot, got, why, der)
			}
		}
	}
	for _, bad := range []string{"zz", "", "3005"} {
		if _, why := slotDER([]byte(bad)); why == "" {
			t.Fatalf("slot %q: no refusal", bad)
		}
	}
}
