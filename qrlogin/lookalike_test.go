package qrlogin_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
	"unicode/utf16"

	"github.com/ukeygate/ukeygate/qrlogin"
)

// utf16Text encodes s as UTF-16 (with a byte order mark when bom).
func utf16Text(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

// utf32Text encodes s as UTF-32 (with a byte order mark when bom).
func utf32Text(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint32(b, 0xFEFF)
	}
	for _, r := range s {
		b = order.AppendUint32(b, uint32(r))
	}
	return b
}

func TestLooksLikeChallenge(t *testing.T) {
	canonical := sample().Bytes()
	loose := `{"time":"2026-03-01T09:04:05Z","nonce":"n0nce","origin":"https://bid.example.gov.cn","app":"app1","session":"AbCdEfGhIjKlMn0_"}`
	pretty, err := json.MarshalIndent(map[string]string{"session": "AbCdEfGhIjKlMn0_", "app": "app1", "nonce": "n", "time": "t"}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"canonical challenge", canonical, true},
		{"members in another order", []byte(loose), true},
		{"indented, four members", pretty, true},
		{"leading white space", append([]byte(" \r\n\t"), canonical...), true},
		{"UTF-8 byte order mark", append([]byte{0xEF, 0xBB, 0xBF}, canonical...), true},
		{"names in upper case", []byte(`{"SESSION":"s","Nonce":"n"}`), true},
		{"name with a long s (ſ folds to s, as in encoding/json)", []byte(`{"ſession":"s","nonce":"n"}`), true},
		{"extra members", []byte(`{"title":"contract","session":"s","nonce":"n","amount":1}`), true},
		{"members with other types", []byte(`{"session":1,"nonce":null}`), true},
		{"UTF-16LE with BOM", utf16Text(loose, binary.LittleEndian, true), true},
		{"UTF-16BE with BOM", utf16Text(loose, binary.BigEndian, true), true},
		{"UTF-16LE without BOM", utf16Text(loose, binary.LittleEndian, false), true},
		{"UTF-16BE without BOM", utf16Text(loose, binary.BigEndian, false), true},
		{"UTF-32LE with BOM", utf32Text(loose, binary.LittleEndian, true), true},
		{"UTF-32BE without BOM", utf32Text(loose, binary.BigEndian, false), true},

		{"no nonce", []byte(`{"session":"s","app":"a","origin":"o","time":"t"}`), false},
		{"no session", []byte(`{"app":"a","origin":"o","nonce":"n","time":"t"}`), false},
		{"members nested one level down", []byte(`{"login":{"session":"s","nonce":"n"}}`), false},
		{"array of a challenge", append(append([]byte("["), canonical...), ']'), false},
		{"a challenge inside a text", append([]byte("I agree: "), canonical...), false},
		{"truncated challenge", canonical[:len(canonical)-1], false},
		// A stream parser (json.Decoder, a prefix reader) stops after the
		// object and takes it for a challenge.
		{"trailing data", append(bytes.Clone(canonical), []byte(" {}")...), true},
		{"loose object, trailing bytes", []byte(`{"session":"AbCdEfGhIjKlMn0_","nonce":"n0nce"} trailing`), true},
		{"loose object, trailing garbage without a space", []byte(`{"session":"s","nonce":"n"}]]]`), true},
		{"plain text", []byte("投标文件 bid 2026-017"), false},
		{"binary", []byte{0x30, 0x82, 0x01, 0x0a, 0x00, 0xff}, false},
		{"odd-length UTF-16", append(utf16Text(loose, binary.LittleEndian, true), 'x'), false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := qrlogin.LooksLikeChallenge(tc.b); got != tc.want {
				t.Fatalf("LooksLikeChallenge(%q) = %v, want %v", tc.b, got, tc.want)
			}
		})
	}
}

// FuzzLooksLikeChallenge: never panics, and every challenge ParseChallenge
// accepts is caught.
func FuzzLooksLikeChallenge(f *testing.F) {
	f.Add(sample().Bytes())
	f.Add([]byte(`{"Session":"s","NONCE":"n"}`))
	f.Add(utf16Text(`{"session":"s","nonce":"n"}`, binary.LittleEndian, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := qrlogin.LooksLikeChallenge(b)
		if _, err := qrlogin.ParseChallenge(b); err == nil && !got {
			t.Fatalf("a canonical challenge is not caught: %q", b)
		}
	})
}
