package ca

import (
	"bytes"
	"crypto/pbkdf2"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// TestShareKEKIsPBKDF2SM3: a share file's key is what the standard
// library's PBKDF2-HMAC-SM3 gives for its passphrase, salt and iteration
// count (the derivation share files were written with before
// gmcrypto.DerivePassphraseKey), at the shortest and longest passphrases.
func TestShareKEKIsPBKDF2SM3(t *testing.T) {
	salt := bytes.Repeat([]byte{0xa5}, shareSaltLen)
	for _, pass := range []string{strings.Repeat("k", MinPassphraseLen), strings.Repeat("长", MaxPassphraseLen/3)} {
		got, err := shareKEK(pass, salt, 2000)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pbkdf2.Key(sm3.New, pass, salt, 2000, gmcrypto.KeySize)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d-byte passphrase: %x, crypto/pbkdf2 gives %x", len(pass), got, want)
		}
	}
}
