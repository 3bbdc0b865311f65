// Package cosign holds two-party SM2 (协同签名): a signing key whose
// private scalar never exists whole. The phone holds one multiplicative
// share, derived from a random seed it stores and the user's PIN; the
// gateway holds the other, which it stores wrapped under its master key.
// The public key is P = [(d_g·d_p)⁻¹ − 1]G, so that (1 + d)⁻¹ = d_g·d_p
// where d is the (never formed) SM2 private key. Signatures and decryptions
// are ordinary SM2 (GB/T 32918): anyone verifies them with the certificate.
//
// The scheme is the multiplicative-share one of Shang, Ma, Lin and Jing
// (密码学报 2014), with the gateway as the party that finalises every result
// and verifies it before it is released, and with the gateway's decryption
// message blinded by a fresh scalar so that a phone (or a thief holding the
// phone's storage) learns nothing it could test PIN guesses against.
// docs/cosign.md states the messages, what each side learns, and the
// assumptions of the security argument.
//
// Every message is bound to a session id, a credential id and a digest (the
// SM2 e value, or SM3 of the ciphertext) by a transcript hash; gateway
// states are single use; every received point is checked to be an
// uncompressed point on the SM2 curve and not the identity (the SM2 curve
// has cofactor 1, so that also excludes every point of small order); every
// received scalar must lie in [1, n−1]. Scalars are computed with
// constant-time modular arithmetic (filippo.io/bigmod, the standard
// library's own bigmod, since gmsm does not export its scalar field) and
// points with gmsm's constant-time SM2 curve implementation; nonces come
// from crypto/rand.
//
// It must never store anything, speak HTTP or log; it never forms the whole
// private key, and it never says why a final signature or decryption
// failed (crypto.ErrVerification / crypto.ErrDecryption and nothing more).
package cosign
