// Package jsapi is the phone's half of two-party SM2 (package
// crypto/cosign) with a string-in, string-out surface, for a phone that is
// not written in Go: cmd/cosign-wasm compiles it to WebAssembly for the
// phone web app, where JavaScript keeps the seed (wrapped by a
// non-extractable WebCrypto key) and calls these functions with JSON.
//
// It holds nothing between calls and never speaks HTTP; its inputs and
// outputs are the JSON bodies of the v1 protocol (docs/openapi.yaml).
package jsapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/ukeygate/ukeygate/crypto/cosign"
)

// KeyGenResult is what KeyGen returns: the seed to keep (base64) and the
// `cosign` member of the credential request.
type KeyGenResult struct {
	Seed   string                `json:"seed"`
	Cosign *cosign.KeyGenRequest `json:"cosign"`
}

// KeyGen starts a cosign credential of user userID with pin.
func KeyGen(userID, pin string) (string, error) {
	sec, req, err := cosign.PhoneKeyGen(cosign.CredentialRequestBinding(userID), pin)
	if err != nil {
		return "", err
	}
	return marshal(KeyGenResult{Seed: base64.StdEncoding.EncodeToString(sec.Seed), Cosign: req})
}

// KeyGenAgain is the `cosign` member of a credential request repeated
// with the seed KeyGen gave (its first answer lost): the same share, a
// fresh proof, so that the gateway answers the credential it made then.
// The result is KeyGenResult with the same seed.
func KeyGenAgain(seed, userID, pin string) (string, error) {
	sec, err := secret(seed)
	if err != nil {
		return "", err
	}
	req, err := cosign.PhoneKeyGenAgain(sec, cosign.CredentialRequestBinding(userID), pin)
	if err != nil {
		return "", err
	}
	return marshal(KeyGenResult{Seed: seed, Cosign: req})
}

// Answer computes the `cosign` member of the second confirm request from
// the challenge (the `cosign` member of the first answer, JSON), for the
// session and credential being confirmed. For the CSR challenge of a new
// credential at an external issuer, session is "csr".
func Answer(seed, pin, challengeJSON, session, credential string) (string, error) {
	sec, err := secret(seed)
	if err != nil {
		return "", err
	}
	var ch cosign.Challenge
	if err := json.Unmarshal([]byte(challengeJSON), &ch); err != nil {
		return "", fmt.Errorf("%w: challenge: %v", cosign.ErrMalformed, err)
	}
	ans, err := ch.Answer(sec, pin, cosign.Binding{Session: session, Credential: credential})
	if err != nil {
		return "", err
	}
	return marshal(ans)
}

// ChangePINResult is what ChangePIN returns: the new seed to keep once the
// gateway accepted the change, and the credential's entry of the PIN
// change's `cosign` member.
type ChangePINResult struct {
	Seed    string                 `json:"seed"`
	Reshare *cosign.ReshareRequest `json:"reshare"`
}

// ChangePIN re-shares one cosign credential for a PIN change.
func ChangePIN(seed, oldPIN, newPIN, credential string) (string, error) {
	sec, err := secret(seed)
	if err != nil {
		return "", err
	}
	next, req, err := cosign.PhoneChangePIN(sec, oldPIN, newPIN, cosign.ReshareBinding(credential))
	if err != nil {
		return "", err
	}
	return marshal(ChangePINResult{Seed: base64.StdEncoding.EncodeToString(next.Seed), Reshare: req})
}

func secret(seed string) (*cosign.PhoneSecret, error) {
	b, err := base64.StdEncoding.DecodeString(seed)
	if err != nil || len(b) != cosign.SeedSize {
		return nil, fmt.Errorf("%w: the seed must be %d bytes, base64", cosign.ErrInvalidInput, cosign.SeedSize)
	}
	return &cosign.PhoneSecret{Seed: b}, nil
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
