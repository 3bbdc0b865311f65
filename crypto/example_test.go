package crypto_test

import (
	"errors"
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

func ExampleSM3() {
	fmt.Printf("%x\n", gmcrypto.SM3([]byte("abc")))
	// Output: 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
}

func ExampleWrap() {
	master, _ := gmcrypto.RandomBytes(32)
	kek, _ := gmcrypto.DeriveKey(master, "credential-wrap", nil)

	wrapped, _ := gmcrypto.Wrap(kek, []byte("device private key"), []byte("credentials/42"))
	plain, err := gmcrypto.Unwrap(kek, wrapped, []byte("credentials/42"))
	fmt.Println(string(plain), err)

	// The associated data is bound: another record id does not open it.
	_, err = gmcrypto.Unwrap(kek, wrapped, []byte("credentials/43"))
	fmt.Println(err)
	// Output:
	// device private key <nil>
	// crypto: decryption failed
}

func ExampleDerivePINKey() {
	master, _ := gmcrypto.RandomBytes(32)
	salt, _ := gmcrypto.RandomBytes(16)

	key, _ := gmcrypto.DerivePINKey(master, salt, "246810")
	wrapped, _ := gmcrypto.Wrap(key, []byte("secret"), nil)

	wrong, _ := gmcrypto.DerivePINKey(master, salt, "135790")
	_, err := gmcrypto.Unwrap(wrong, wrapped, nil)
	fmt.Println(errors.Is(err, gmcrypto.ErrDecryption))
	// Output: true
}

func ExampleSign() {
	key, _ := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	msg := []byte("login challenge 7f3a")

	sig, _ := gmcrypto.Sign(key, msg, nil) // SM3 with Z_A over DefaultUID
	fmt.Println(gmcrypto.Verify(key.Public(), msg, sig, nil))
	fmt.Println(gmcrypto.Verify(key.Public(), []byte("another challenge"), sig, nil))
	// Output:
	// <nil>
	// crypto: verification failed
}

func ExampleEncrypt() {
	key, _ := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	f, _ := gmcrypto.ParseCipherFormat("c1c3c2")

	ct, _ := gmcrypto.Encrypt(key.Public(), []byte("session key"), f)
	fmt.Println(len(ct), ct[0]) // 65-byte C1 (04||X||Y) + 32-byte C3 + 11-byte C2
	pt, _ := gmcrypto.Decrypt(key, ct, f)
	fmt.Println(string(pt))
	// Output:
	// 108 4
	// session key
}
