package protocol_test

import (
	"fmt"

	"github.com/ukeygate/ukeygate/protocol"
)

// The string a phone signs for a request. The last line is SM3("abc"),
// the example of GB/T 32905-2016.
func ExampleCanonicalRequest() {
	msg := protocol.CanonicalRequest("POST", "/v1/me/credentials?x=1", "1700000000", "00112233445566778899aabbccddeeff", []byte("abc"))
	fmt.Println(string(msg))
	// Output:
	// POST
	// /v1/me/credentials?x=1
	// 1700000000
	// 00112233445566778899aabbccddeeff
	// 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
}
