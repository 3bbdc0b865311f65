package crypto

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
)

// SignOpts tunes Sign and Verify. A nil *SignOpts means the defaults.
type SignOpts struct {
	// UID is the SM2 signer id; nil (or empty) means DefaultUID.
	UID []byte
	// PSS selects RSASSA-PSS with SHA-256 and MGF1-SHA-256 instead of
	// PKCS#1 v1.5 for RSA keys. Signatures use a salt as long as the hash
	// (32 bytes); verification accepts any salt length.
	PSS bool
}

func (o *SignOpts) uid() []byte {
	if o == nil {
		return nil
	}
	return o.UID
}

func (o *SignOpts) pss() bool { return o != nil && o.PSS }

// Sign signs data with key. SM2: the ASN.1 DER SEQUENCE{r, s} over
// e = SM3(Z_A || data) (GB/T 32918.2) with opts.UID; RSA: PKCS#1 v1.5 or
// PSS over SHA-256(data). An SM2 key must be a *sm2.PrivateKey (or an
// *ecdsa.PrivateKey on the SM2 curve); an RSA key may be any crypto.Signer
// whose public key is an *rsa.PublicKey. Other keys are ErrUnsupported.
func Sign(key crypto.Signer, data []byte, opts *SignOpts) ([]byte, error) {
	digest, err := Digest(PublicKey(key), data, opts.uid())
	if err != nil {
		return nil, err
	}
	return SignDigest(key, digest, opts)
}

// SignDigest signs a digest as Digest returns it (32 bytes: e = SM3(Z||M)
// for SM2, SHA-256(M) for RSA); any other length is ErrInvalidInput.
// opts.UID is not used (the id is already inside e).
func SignDigest(key crypto.Signer, digest []byte, opts *SignOpts) ([]byte, error) {
	if len(digest) != DigestSize {
		return nil, fmt.Errorf("%w: digest must be %d bytes, got %d", ErrInvalidInput, DigestSize, len(digest))
	}
	if k, ok := sm2Private(key); ok {
		// With nil opts gmsm signs digest as is (no Z prefixing).
		sig, err := sm2.SignASN1(rand.Reader, k, digest, nil)
		if err != nil {
			return nil, fmt.Errorf("crypto: SM2 sign: %w", err)
		}
		return sig, nil
	}
	if e, ok := externalSM2(key); ok {
		sig, err := e.Sign(rand.Reader, digest, nil)
		if err != nil {
			return nil, fmt.Errorf("crypto: SM2 sign: %w", err)
		}
		return sig, nil
	}
	// Any RSA signer (an *rsa.PrivateKey or e.g. a hardware key).
	if _, ok := rsaPublic(PublicKey(key)); ok {
		var so crypto.SignerOpts = crypto.SHA256
		if opts.pss() {
			so = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}
		sig, err := key.Sign(rand.Reader, digest, so)
		if err != nil {
			return nil, fmt.Errorf("crypto: RSA sign: %w", err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("%w: signing key type %T", ErrUnsupported, key)
}

// Verify checks sig over data under pub. It returns nil or ErrVerification,
// whatever the cause (wrong key type, malformed or out-of-range signature,
// wrong data or signer id).
func Verify(pub crypto.PublicKey, data, sig []byte, opts *SignOpts) error {
	digest, err := Digest(pub, data, opts.uid())
	if err != nil {
		return ErrVerification
	}
	return VerifyDigest(pub, digest, sig, opts)
}

// VerifyDigest checks sig over a digest as Digest returns it. It returns nil
// or ErrVerification.
func VerifyDigest(pub crypto.PublicKey, digest, sig []byte, opts *SignOpts) error {
	if len(digest) != DigestSize {
		return ErrVerification
	}
	if p, ok := sm2Public(pub); ok {
		r, s, ok := parseSM2Signature(sig)
		if !ok || !sm2.Verify(p, digest, r, s) {
			return ErrVerification
		}
		return nil
	}
	if p, ok := rsaPublic(pub); ok {
		var err error
		if opts.pss() {
			err = rsa.VerifyPSS(p, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
		} else {
			err = rsa.VerifyPKCS1v15(p, crypto.SHA256, digest, sig)
		}
		if err != nil {
			return ErrVerification
		}
		return nil
	}
	return ErrVerification
}

// parseSM2Signature strictly parses DER SEQUENCE{INTEGER r, INTEGER s} with
// nothing after it and both values in [1, n-1].
func parseSM2Signature(sig []byte) (r, s *big.Int, ok bool) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil {
		return nil, nil, false
	}
	r, s = v.R, v.S
	n := sm2.P256().Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return nil, nil, false
	}
	return r, s, true
}
