package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Alg names a public-key algorithm.
type Alg string

// The supported public-key algorithms.
const (
	AlgSM2 Alg = "SM2"
	AlgRSA Alg = "RSA"
)

// DefaultUID is the SM2 signer id used when none is given (GM/T 0009).
var DefaultUID = []byte("1234567812345678")

// RSA key sizes: generation accepts exactly 2048, 3072 or 4096 bits; parsing
// accepts any size in [minRSABits, maxRSABits].
const (
	defaultRSABits = 2048
	minRSABits     = 2048
	maxRSABits     = 8192
)

// PEM block types.
const (
	pemPrivateKey    = "PRIVATE KEY"
	pemECPrivateKey  = "EC PRIVATE KEY"
	pemRSAPrivateKey = "RSA PRIVATE KEY"
	pemSM2PrivateKey = "SM2 PRIVATE KEY" // SEC1, as "openssl ec" writes an SM2 key
	pemPublicKey     = "PUBLIC KEY"
	pemCertificate   = "CERTIFICATE"
)

// GenerateKey returns a new private key: a *sm2.PrivateKey for AlgSM2, a
// *rsa.PrivateKey of rsaBits bits (2048, 3072 or 4096; 0 means 2048) for
// AlgRSA. rsaBits is ignored for SM2.
func GenerateKey(alg Alg, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case AlgSM2:
		k, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("crypto: generate SM2 key: %w", err)
		}
		return k, nil
	case AlgRSA:
		if rsaBits == 0 {
			rsaBits = defaultRSABits
		}
		switch rsaBits {
		case 2048, 3072, 4096:
		default:
			return nil, fmt.Errorf("%w: RSA key size %d (want 2048, 3072 or 4096)", ErrUnsupported, rsaBits)
		}
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("crypto: generate RSA key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: algorithm %q", ErrUnsupported, string(alg))
	}
}

// KeyAlg tells the algorithm of a private or public key: AlgSM2 for a
// *sm2.PrivateKey or an ECDSA key on the SM2 curve, AlgRSA for RSA keys.
// Anything else (including nil) is ErrUnsupported.
func KeyAlg(key any) (Alg, error) {
	switch k := key.(type) {
	case *sm2.PrivateKey:
		if k != nil && k.D != nil && isSM2Public(&k.PublicKey) {
			return AlgSM2, nil
		}
	case *ecdsa.PrivateKey:
		if k != nil && k.D != nil && isSM2Public(&k.PublicKey) {
			return AlgSM2, nil
		}
	case *ecdsa.PublicKey:
		if isSM2Public(k) {
			return AlgSM2, nil
		}
	case *rsa.PrivateKey:
		if k != nil && k.N != nil && k.D != nil {
			return AlgRSA, nil
		}
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			return AlgRSA, nil
		}
	case ExternalSM2:
		if _, ok := externalSM2(k); ok {
			return AlgSM2, nil
		}
	}
	return "", ErrUnsupported
}

// isSM2Public reports whether pub is a well-formed key on the SM2 curve.
func isSM2Public(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == sm2.P256() && pub.X != nil && pub.Y != nil
}

// PublicKey returns key.Public(), or nil for a nil key (also a typed nil
// *sm2.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey).
func PublicKey(key crypto.Signer) crypto.PublicKey {
	switch k := key.(type) {
	case nil:
		return nil
	case *sm2.PrivateKey:
		if k == nil {
			return nil
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil
		}
	case *rsa.PrivateKey:
		if k == nil {
			return nil
		}
	}
	return key.Public()
}

// sm2Private returns key as a *sm2.PrivateKey if it is an SM2 private key.
func sm2Private(key any) (*sm2.PrivateKey, bool) {
	switch k := key.(type) {
	case *sm2.PrivateKey:
		if k != nil && k.D != nil && isSM2Public(&k.PublicKey) {
			return k, true
		}
	case *ecdsa.PrivateKey:
		if k != nil && k.D != nil && isSM2Public(&k.PublicKey) {
			s, err := new(sm2.PrivateKey).FromECPrivateKey(k)
			return s, err == nil
		}
	}
	return nil, false
}

// sm2Public returns key as an SM2 public key. Private keys are accepted too.
func sm2Public(key any) (*ecdsa.PublicKey, bool) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if isSM2Public(k) {
			return k, true
		}
	case *sm2.PrivateKey, *ecdsa.PrivateKey:
		if s, ok := sm2Private(k); ok {
			return &s.PublicKey, true
		}
	case ExternalSM2:
		if e, ok := externalSM2(k); ok {
			return e.SM2PublicKey(), true
		}
	}
	return nil, false
}

// rsaPublic returns key as an RSA public key. Private keys are accepted too.
func rsaPublic(key any) (*rsa.PublicKey, bool) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil && k.E > 1 {
			return k, true
		}
	case *rsa.PrivateKey:
		if k != nil && k.N != nil && k.E > 1 {
			return &k.PublicKey, true
		}
	}
	return nil, false
}

// checkPrivate validates a freshly parsed key and narrows it to the
// supported types.
func checkPrivate(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *sm2.PrivateKey:
		if err := checkSM2Scalar(k.D); err != nil {
			return nil, err
		}
		return k, nil
	case *ecdsa.PrivateKey:
		s, ok := sm2Private(k)
		if !ok {
			return nil, fmt.Errorf("%w: EC key on a curve other than SM2", ErrUnsupported)
		}
		if err := checkSM2Scalar(s.D); err != nil {
			return nil, err
		}
		return s, nil
	case *rsa.PrivateKey:
		if err := checkRSASize(k.N); err != nil {
			return nil, err
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("%w: RSA key: %v", ErrMalformed, err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("%w: private key type %T", ErrUnsupported, key)
	}
}

// checkSM2Scalar enforces GB/T 32918.1: the private scalar is in [1, n-2].
func checkSM2Scalar(d *big.Int) error {
	nMinus1 := new(big.Int).Sub(sm2.P256().Params().N, big.NewInt(1))
	if d == nil || d.Sign() <= 0 || d.Cmp(nMinus1) >= 0 {
		return fmt.Errorf("%w: SM2 private scalar out of range", ErrMalformed)
	}
	return nil
}

func checkRSASize(n *big.Int) error {
	if n == nil {
		return ErrMalformed
	}
	if b := n.BitLen(); b < minRSABits || b > maxRSABits {
		return fmt.Errorf("%w: RSA key size %d bits (want %d..%d)", ErrUnsupported, b, minRSABits, maxRSABits)
	}
	return nil
}

// MarshalPrivateKey encodes an SM2 or RSA private key as PKCS#8 DER. SM2
// keys use the id-ecPublicKey algorithm with the SM2 named curve, as OpenSSL
// does.
func MarshalPrivateKey(key crypto.Signer) ([]byte, error) {
	var v any
	if s, ok := sm2Private(key); ok {
		v = s
	} else if r, ok := key.(*rsa.PrivateKey); ok && r != nil && r.N != nil {
		v = r
	} else {
		return nil, fmt.Errorf("%w: private key type %T", ErrUnsupported, key)
	}
	der, err := smx509.MarshalPKCS8PrivateKey(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return der, nil
}

// pkcs8Outer is the outer PKCS#8 structure, parsed only to tell an
// unsupported algorithm from a malformed encoding.
type pkcs8Outer struct {
	Version int
	Algo    struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PrivateKey []byte
}

// ParsePrivateKey parses a private key in PKCS#8, SEC1 (SM2) or PKCS#1 (RSA)
// DER. It returns a *sm2.PrivateKey or a *rsa.PrivateKey; other algorithms
// or curves are ErrUnsupported, anything unparsable is ErrMalformed.
func ParsePrivateKey(der []byte) (crypto.Signer, error) {
	if !singleDER(der) {
		return nil, fmt.Errorf("%w: not a single DER element", ErrMalformed)
	}
	if k, err := parsePKCS8(der); err == nil || !isMalformed(err) {
		return k, err
	}
	if k, err := parseSEC1(der); err == nil || !isMalformed(err) {
		return k, err
	}
	if k, err := parsePKCS1(der); err == nil || !isMalformed(err) {
		return k, err
	}
	return nil, fmt.Errorf("%w: not a PKCS#8, SEC1 or PKCS#1 private key", ErrMalformed)
}

// singleDER reports whether der is exactly one ASN.1 element, nothing after.
func singleDER(der []byte) bool {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	return err == nil && len(rest) == 0
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

func parsePKCS8(der []byte) (crypto.Signer, error) {
	if !singleDER(der) {
		return nil, fmt.Errorf("%w: not a single DER element", ErrMalformed)
	}
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		var outer pkcs8Outer
		if rest, e := asn1.Unmarshal(der, &outer); e == nil && len(rest) == 0 && !knownKeyOID(outer.Algo.Algorithm) {
			return nil, fmt.Errorf("%w: PKCS#8 key algorithm %v", ErrUnsupported, outer.Algo.Algorithm)
		}
		return nil, fmt.Errorf("%w: PKCS#8: %v", ErrMalformed, err)
	}
	return checkPrivate(k)
}

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSM2           = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
)

func knownKeyOID(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(oidRSAEncryption) || oid.Equal(oidECPublicKey) || oid.Equal(oidSM2)
}

func parseSEC1(der []byte) (crypto.Signer, error) {
	if !singleDER(der) {
		return nil, fmt.Errorf("%w: not a single DER element", ErrMalformed)
	}
	k, err := smx509.ParseTypedECPrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: SEC1: %v", ErrMalformed, err)
	}
	return checkPrivate(k)
}

func parsePKCS1(der []byte) (crypto.Signer, error) {
	if !singleDER(der) {
		return nil, fmt.Errorf("%w: not a single DER element", ErrMalformed)
	}
	k, err := smx509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#1: %v", ErrMalformed, err)
	}
	return checkPrivate(k)
}

// MarshalPrivateKeyPEM encodes key as a PEM "PRIVATE KEY" block (PKCS#8).
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	defer Zero(der)
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParsePrivateKeyPEM parses the first private-key block of pemBytes:
// "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" or "SM2 PRIVATE KEY" (SEC1, SM2
// only; OpenSSL 3 writes the latter) or "RSA PRIVATE KEY" (PKCS#1). Other
// blocks before it (such as "EC PARAMETERS") are skipped. Encrypted keys are ErrUnsupported; no key block is ErrMalformed.
func ParsePrivateKeyPEM(pemBytes []byte) (crypto.Signer, error) {
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: no private key PEM block", ErrMalformed)
		}
		var parse func([]byte) (crypto.Signer, error)
		switch b.Type {
		case pemPrivateKey:
			parse = parsePKCS8
		case pemECPrivateKey, pemSM2PrivateKey:
			parse = parseSEC1
		case pemRSAPrivateKey:
			parse = parsePKCS1
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted private key", ErrUnsupported)
		default:
			continue
		}
		if _, encrypted := b.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: encrypted private key", ErrUnsupported)
		}
		k, err := parse(b.Bytes)
		Zero(b.Bytes)
		return k, err
	}
}

// MarshalPublicKey encodes an SM2 or RSA public key as SubjectPublicKeyInfo
// DER. A private key is accepted and its public half encoded.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	var v any
	if p, ok := sm2Public(pub); ok {
		v = p
	} else if p, ok := rsaPublic(pub); ok {
		v = p
	} else {
		return nil, fmt.Errorf("%w: public key type %T", ErrUnsupported, pub)
	}
	der, err := smx509.MarshalPKIXPublicKey(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return der, nil
}

// ParsePublicKey parses SubjectPublicKeyInfo DER. It returns an
// *ecdsa.PublicKey on the SM2 curve or an *rsa.PublicKey.
func ParsePublicKey(der []byte) (crypto.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	switch p := k.(type) {
	case *ecdsa.PublicKey:
		if !isSM2Public(p) {
			return nil, fmt.Errorf("%w: EC key on a curve other than SM2", ErrUnsupported)
		}
		return p, nil
	case *rsa.PublicKey:
		if err := checkRSASize(p.N); err != nil {
			return nil, err
		}
		return p, nil
	default:
		return nil, fmt.Errorf("%w: public key type %T", ErrUnsupported, k)
	}
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// ParseCertificate parses one DER certificate (SM2 or RSA).
func ParseCertificate(der []byte) (*smx509.Certificate, error) {
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	return c, nil
}

// ParseCertificatesPEM parses every "CERTIFICATE" block of pemBytes, in
// order; other block types are ignored. It is ErrMalformed if there is no
// certificate or any of them does not parse.
func ParseCertificatesPEM(pemBytes []byte) ([]*smx509.Certificate, error) {
	var certs []*smx509.Certificate
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != pemCertificate {
			continue
		}
		c, err := ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrMalformed)
	}
	return certs, nil
}

// EncodeCertificatesPEM encodes certs as consecutive "CERTIFICATE" blocks;
// nil entries are skipped. The bytes are those pem.Encode writes (no
// headers, 64 base64 characters a line), in one allocation of
// CertificatesPEMLen.
func EncodeCertificatesPEM(certs ...*smx509.Certificate) []byte {
	n, _ := CertificatesPEMLen(certs...)
	if n == 0 {
		return nil
	}
	out := make([]byte, 0, n)
	for _, c := range certs {
		if c == nil {
			continue
		}
		out = append(out, pemCertBegin...)
		for der := c.Raw; len(der) > 0; {
			line := der[:min(len(der), pemLineBytes)]
			der = der[len(line):]
			out = base64.StdEncoding.AppendEncode(out, line)
			out = append(out, '\n')
		}
		out = append(out, pemCertEnd...)
	}
	return out
}

// The frame of a certificate's PEM block, and the DER bytes of one full
// line (48 bytes are 64 base64 characters, pem.Encode's line length).
const (
	pemCertBegin = "-----BEGIN " + pemCertificate + "-----\n"
	pemCertEnd   = "-----END " + pemCertificate + "-----\n"
	pemLineBytes = 48
)

// CertificatesPEMLen is the length of EncodeCertificatesPEM(certs...) and
// how many of its bytes are newlines, without encoding anything (a size
// bound needs no copy of the chain).
func CertificatesPEMLen(certs ...*smx509.Certificate) (n, newlines int) {
	for _, c := range certs {
		if c == nil {
			continue
		}
		lines := (len(c.Raw) + pemLineBytes - 1) / pemLineBytes
		n += len(pemCertBegin) + base64.StdEncoding.EncodedLen(len(c.Raw)) + lines + len(pemCertEnd)
		newlines += lines + 2
	}
	return n, newlines
}

// ZeroKey overwrites the secret parts of an SM2 or RSA private key (the
// scalar; the private exponent, primes and CRT values) in place. It is best
// effort: copies made by the Go runtime or cached inside the libraries (such
// as gmsm's precomputed (1+d)^-1 or the standard library's internal RSA key)
// cannot be reached. The key must not be used afterwards.
func ZeroKey(key crypto.Signer) {
	switch k := key.(type) {
	case *sm2.PrivateKey:
		if k != nil {
			zeroInt(k.D)
		}
	case *ecdsa.PrivateKey:
		if k != nil {
			zeroInt(k.D)
		}
	case *rsa.PrivateKey:
		if k == nil {
			return
		}
		zeroInt(k.D)
		for _, p := range k.Primes {
			zeroInt(p)
		}
		zeroInt(k.Precomputed.Dp)
		zeroInt(k.Precomputed.Dq)
		zeroInt(k.Precomputed.Qinv)
		for _, v := range k.Precomputed.CRTValues {
			zeroInt(v.Exp)
			zeroInt(v.Coeff)
			zeroInt(v.R)
		}
	}
}

func zeroInt(x *big.Int) {
	if x == nil {
		return
	}
	w := x.Bits()
	clear(w[:cap(w)])
	x.SetInt64(0)
}
