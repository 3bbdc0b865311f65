package cosign_test

import (
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// A credential made by the phone and the gateway together, then one
// signature: each side runs its half, the gateway verifies before release.
func Example() {
	enrol := cosign.Binding{Session: "enrol-7", Credential: "cred-42"}
	phoneSecret, keygenMsg, _ := cosign.PhoneKeyGen(enrol, "314159") // phone stores phoneSecret
	gatewayShare, pub, _ := cosign.GatewayKeyGen(enrol, keygenMsg)   // gateway wraps and stores gatewayShare

	msg := []byte("contract no. 2026-001")
	e, _ := gmcrypto.Digest(pub, msg, nil)
	b := cosign.Binding{Session: "sess-9", Credential: "cred-42", Digest: e}
	state, _ := cosign.GatewaySignStart(b)
	reply, _ := cosign.PhoneSign(phoneSecret, "314159", state.Start(), cosign.Binding{Session: "sess-9", Credential: "cred-42"})
	sig, err := state.Finish(gatewayShare, pub, reply)
	fmt.Println(err, sm2.VerifyASN1WithSM2(pub, nil, msg, sig))

	// A wrong PIN: a well-formed reply, an invalid signature, nothing released.
	state, _ = cosign.GatewaySignStart(b)
	reply, _ = cosign.PhoneSign(phoneSecret, "271828", state.Start(), cosign.Binding{Session: "sess-9", Credential: "cred-42"})
	_, err = state.Finish(gatewayShare, pub, reply)
	fmt.Println(err)
	// Output:
	// <nil> true
	// crypto: verification failed
}
