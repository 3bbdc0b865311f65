package session

import (
	"bytes"
	"encoding/json"
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
