package protocol_test

import (
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// The string an SM2 device signs for a request: the body hash is SM3 (a
// P-256 device uses SHA-256). The last line is SM3("abc"), the example of
// GB/T 32905-2016.
func ExampleCanonicalRequestHash() {
	msg := protocol.CanonicalRequestHash("POST", "/v1/me/credentials?x=1", "1700000000", "00112233445566778899aabbccddeeff", gmcrypto.SM3([]byte("abc")))
	fmt.Println(string(msg))
	// Output:
	// POST
	// /v1/me/credentials?x=1
	// 1700000000
	// 00112233445566778899aabbccddeeff
	// 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
}
