package server

import (
	"strings"
	"testing"
)

// FuzzParseMasterKey: any text gives a 32-byte key or ErrMasterKey, never
// a panic, and the error never repeats the text.
func FuzzParseMasterKey(f *testing.F) {
	f.Add("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	f.Add("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseMasterKey(s)
		if err == nil && len(key) != MasterKeySize {
			t.Fatalf("ParseMasterKey(%q) gave %d bytes", s, len(key))
		}
		if err != nil && len(s) >= 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("error repeats the input: %v", err)
		}
	})
}
