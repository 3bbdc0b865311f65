package seal

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"
)

func TestBERToDER(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct{ name, in, want, rest string }{
		{"DER stays", "3003 020105", "3003 020105", ""},
		{"indefinite", "3080 020105 0000", "3003 020105", ""},
		{"nested indefinite, padding after", "3080 a080 0401ff 0000 0000 000000", "3005 a003 0401ff", "000000"},
		{"segmented OCTET STRING", "2480 0402abcd 0401ef 0000", "0403 abcdef", ""},
		{"high tag number", "bf8101 80 0500 0000", "bf8101 02 0500", ""},
		{"long definite length", "30 81 03 020105", "3003 020105", ""},
	} {
		got, rest, err := berToDER(h(c.in))
		if err != nil || !bytes.Equal(got, h(c.want)) || !bytes.Equal(rest, h(c.rest)) {
			t.Errorf("%s: %x rest %x (%v), want %s rest %s", c.name, got, rest, err, c.want, c.rest)
		}
	}
	deep := bytes.Repeat([]byte{0x30, 0x80}, maxBERDepth+2)
	for _, c := range []struct{ name, in string }{
		{"empty", ""}, {"no end of contents", "3080 020105"}, {"primitive indefinite", "0480 00 0000"},
		{"length past the end", "3005 0201"}, {"length of 5 bytes", "3085 0000000001 00"},
		{"segment not an OCTET STRING", "2480 020105 0000"}, {"child past its parent", "3002 020105"},
		{"too deep", hex.EncodeToString(deep)},
	} {
		if _, _, err := berToDER(h(c.in)); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// FuzzBERToDER: any input is refused or rewritten as one value that
// encoding/asn1 reads whole.
func FuzzBERToDER(f *testing.F) {
	for _, s := range []string{"3080020105 0000", "2480 0402abcd 0000", "bf810180 0500 0000", "3003020105"} {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		der, rest, err := berToDER(b)
		if err != nil {
			return
		}
		var rv asn1.RawValue
		if r, err := asn1.Unmarshal(der, &rv); err != nil || len(r) != 0 {
			t.Fatalf("%x: DER %x does not read back (%v)", b, der, err)
		}
		if len(rest) > len(b) {
			t.Fatalf("rest %d bytes of %d", len(rest), len(b))
		}
	})
}
