package crypto

import (
	"bytes"
	"testing"
)

// TestCMSSM2DecryptCFCAPrefixLookalike: in CFCA's C1C2C3 form without the
// 0x04 prefix the first byte is X's, which is 0x04 or 0x30 about 2 times in
// 256. Such key-transport ciphertexts must open like any other.
func TestCMSSM2DecryptCFCAPrefixLookalike(t *testing.T) {
	key, err := GenerateKey(AlgSM2, 0)
	if err != nil {
		t.Fatal(err)
	}
	cek := bytes.Repeat([]byte{0x5a}, 16)
	for _, first := range []byte{0x04, 0x30} {
		var cfca []byte
		for i := 0; i < 20000 && cfca == nil; i++ {
			ct, err := Encrypt(PublicKey(key), cek, FormatC1C2C3)
			if err != nil {
				t.Fatal(err)
			}
			if ct[1] == first { // ct[0] is the 0x04 prefix, ct[1] X's first byte
				cfca = ct[1:]
			}
		}
		if cfca == nil {
			t.Fatalf("no ciphertext with X starting %#x in 20000 tries", first)
		}
		got, err := cmsSM2Decrypt(key, cfca)
		if err != nil || !bytes.Equal(got, cek) {
			t.Fatalf("X starting %#x: %x, %v", first, got, err)
		}
	}
}
