package crypto

import (
	"crypto"
	"crypto/ecdsa"
)

// ExternalSM2 is an SM2 private key that is not held here as a scalar:
// the two-party keys of package crypto/cosign, whose signatures and
// decryptions are computed together with the phone. Sign, SignDigest,
// Decrypt, SignCMS and OpenCMS accept one wherever they accept an SM2
// key, and KeyAlg names it AlgSM2.
//
// Its Sign receives either e (32 bytes, opts nil or a crypto.Hash of 0:
// the digest of GB/T 32918.2 with Z_A already in it) or, with a
// *sm2.SM2SignerOption that forces GM signing (as CMS signing passes),
// the message itself, for which it computes e with the option's user id.
// Its Decrypt receives an SM2 ciphertext with opts an *ExternalDecryptOpts
// (Decrypt) or nil (OpenCMS: a key-transport value in any SM2 form).
type ExternalSM2 interface {
	crypto.Signer
	crypto.Decrypter
	// SM2PublicKey returns the key's public half (on the SM2 curve).
	SM2PublicKey() *ecdsa.PublicKey
}

// ExternalDecryptOpts tells an ExternalSM2's Decrypt the format Decrypt
// was asked for.
type ExternalDecryptOpts struct {
	Format CipherFormat
}

// externalSM2 returns key as an ExternalSM2 whose public key is on the
// SM2 curve.
func externalSM2(key any) (ExternalSM2, bool) {
	e, ok := key.(ExternalSM2)
	if !ok || e == nil {
		return nil, false
	}
	return e, isSM2Public(e.SM2PublicKey())
}
