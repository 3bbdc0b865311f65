package session

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func TestFillTemplate(t *testing.T) {
	ph1, ph2 := bytes.Repeat([]byte{1}, placeholderLen), bytes.Repeat([]byte{2}, placeholderLen)
	tmpl, _ := json.Marshal(map[string]any{
		"certificate_pem": "-----BEGIN CERTIFICATE-----",
		"documents":       []map[string]any{{"name": "a", "signature": ph1}, {"name": "b", "signature": ph2}},
		"count":           12345678901234567,
	})
	out, err := fillTemplate(tmpl, [][]byte{ph1, ph2}, [][]byte{[]byte("sig-one"), []byte("sig-two")})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Documents []struct {
			Name      string
			Signature []byte
		}
		Count json.Number
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Documents[0].Signature) != "sig-one" || string(got.Documents[1].Signature) != "sig-two" || got.Count != "12345678901234567" {
		t.Fatalf("%s", out)
	}
	// A signature without its placeholder is an error, not a silent gap.
	if _, err := fillTemplate(tmpl, [][]byte{ph1, bytes.Repeat([]byte{3}, placeholderLen)}, [][]byte{[]byte("x"), []byte("y")}); err == nil {
		t.Fatal("a missing placeholder went unnoticed")
	}
	if _, err := fillTemplate(tmpl, [][]byte{ph1}, nil); err == nil {
		t.Fatal("a count mismatch went unnoticed")
	}
}

// TestFillHexSlot: a PDF-like document with a DER value written as hex in
// a zero-padded /Contents<…> slot gets the signature spliced in at the
// same size; a slot too small or a malformed slot is refused.
func TestFillHexSlot(t *testing.T) {
	ph := bytes.Repeat([]byte{7}, placeholderLen)
	der, _ := asn1.Marshal(struct{ A, B []byte }{[]byte("attrs"), ph})
	mk := func(slot int) []byte {
		h := hex.EncodeToString(der)
		return []byte("%PDF head /Contents<" + h + strings.Repeat("0", slot-len(h)) + "> tail")
	}
	doc := mk(400)
	out, ok := fillHexSlot(doc, ph, []byte("sig"))
	if !ok || len(out) != len(doc) || !bytes.HasPrefix(out, []byte("%PDF head /Contents<")) || !bytes.HasSuffix(out, []byte("> tail")) {
		t.Fatalf("filled %q %v", out, ok)
	}
	raw, _ := hex.DecodeString(strings.TrimRight(string(out[len("%PDF head /Contents<"):len(out)-len("> tail")]), "0"))
	var got struct{ A, B []byte }
	if _, err := asn1.Unmarshal(raw, &got); err != nil || string(got.B) != "sig" || string(got.A) != "attrs" {
		t.Fatalf("slot holds %x: %v", raw, err)
	}
	if _, ok := fillHexSlot(doc, ph, bytes.Repeat([]byte{1}, 200)); ok {
		t.Fatal("a CMS larger than its slot was written")
	}
	if _, ok := fillHexSlot(bytes.Replace(doc, []byte("<"), []byte("("), 1), ph, []byte("sig")); ok {
		t.Fatal("a slot without its opening < was filled")
	}
	if _, ok := fillHexSlot(doc, bytes.Repeat([]byte{8}, placeholderLen), []byte("sig")); ok {
		t.Fatal("another placeholder was filled")
	}
}
