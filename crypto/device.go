package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/emmansun/gmsm/smx509"
)

// Device keys are the keys a phone signs its requests with: an SM2 key
// (the reference phone client) or an ECDSA P-256 key (a browser's
// non-extractable WebCrypto key). They never sign documents, so they live
// beside the credential algorithms, not among them.

// AlgP256 names ECDSA over NIST P-256 with SHA-256, accepted for device
// keys only.
const AlgP256 Alg = "P-256"

// DeviceKeyAlg tells the algorithm of a device's public or private key:
// AlgSM2 or AlgP256; anything else is ErrUnsupported.
func DeviceKeyAlg(key any) (Alg, error) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if isP256Public(k) {
			return AlgP256, nil
		}
	case *ecdsa.PrivateKey:
		if k != nil && k.D != nil && isP256Public(&k.PublicKey) {
			return AlgP256, nil
		}
	}
	if alg, err := KeyAlg(key); err == nil && alg == AlgSM2 {
		return AlgSM2, nil
	}
	return "", ErrUnsupported
}

func isP256Public(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == elliptic.P256() && pub.X != nil && pub.Y != nil
}

// ParseDevicePublicKey parses SubjectPublicKeyInfo DER holding an SM2 or a
// P-256 key (an *ecdsa.PublicKey on either curve). Other keys, RSA
// included, are ErrUnsupported.
func ParseDevicePublicKey(der []byte) (crypto.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	p, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: device key type %T", ErrUnsupported, k)
	}
	if !isSM2Public(p) && !isP256Public(p) {
		return nil, fmt.Errorf("%w: device key on a curve other than SM2 or P-256", ErrUnsupported)
	}
	return p, nil
}

// ParseDevicePublicKeyPEM parses the first "PUBLIC KEY" block of pemBytes
// with ParseDevicePublicKey.
func ParseDevicePublicKeyPEM(pemBytes []byte) (crypto.PublicKey, error) {
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: no PUBLIC KEY PEM block", ErrMalformed)
		}
		if b.Type == pemPublicKey {
			return ParseDevicePublicKey(b.Bytes)
		}
	}
}

// MarshalDevicePublicKey encodes an SM2 or P-256 device key (or the public
// half of a private one) as SubjectPublicKeyInfo DER.
func MarshalDevicePublicKey(key any) ([]byte, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = PublicKey(s)
	}
	alg, err := DeviceKeyAlg(key)
	if err != nil {
		return nil, fmt.Errorf("%w: device key type %T", ErrUnsupported, key)
	}
	if alg == AlgSM2 {
		return MarshalPublicKey(key)
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return der, nil
}

// DeviceBodyHash is the hash of a request body in the string a device
// signs: SM3 for an SM2 key, SHA-256 for a P-256 key.
func DeviceBodyHash(key any, body []byte) ([]byte, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = PublicKey(s)
	}
	alg, err := DeviceKeyAlg(key)
	if err != nil {
		return nil, err
	}
	if alg == AlgP256 {
		h := sha256.Sum256(body)
		return h[:], nil
	}
	return SM3(body), nil
}

// SignDevice signs msg with a device key: SM2 with SM3 and the default
// user id, or ECDSA P-256 with SHA-256. The signature is DER.
func SignDevice(key crypto.Signer, msg []byte) ([]byte, error) {
	alg, err := DeviceKeyAlg(key)
	if err != nil {
		return nil, err
	}
	if alg == AlgSM2 {
		return Sign(key, msg, nil)
	}
	h := sha256.Sum256(msg)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("crypto: P-256 sign: %w", err)
	}
	return sig, nil
}

// VerifyDevice checks a device's DER signature over msg (see SignDevice).
// Every failure, a key of another kind included, is ErrVerification.
func VerifyDevice(pub crypto.PublicKey, msg, sig []byte) error {
	alg, err := DeviceKeyAlg(pub)
	if err != nil {
		return ErrVerification
	}
	if alg == AlgSM2 {
		return Verify(pub, msg, sig, nil)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), h[:], sig) {
		return ErrVerification
	}
	return nil
}
