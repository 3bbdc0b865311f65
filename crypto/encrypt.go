package crypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// CipherFormat names a public-key ciphertext encoding.
type CipherFormat string

// The supported ciphertext formats. Encrypt writes the raw SM2 ones (GB/T
// 32918.4) with C1 as an uncompressed point 04||X||Y; Decrypt also reads
// them with C1 as X||Y, without the 04 prefix (what npm sm-crypto and
// gm-crypto write by default; see SM2RawReadings). FormatASN1 is the GM/T
// 0009 SEQUENCE{x, y, C3, C2} that OpenSSL uses.
const (
	FormatC1C3C2   CipherFormat = "c1c3c2"
	FormatC1C2C3   CipherFormat = "c1c2c3"
	FormatASN1     CipherFormat = "asn1"
	FormatRSAOAEP  CipherFormat = "rsa-oaep"  // RSAES-OAEP, SHA-256 and MGF1-SHA-256, empty label
	FormatRSAPKCS1 CipherFormat = "rsa-pkcs1" // RSAES-PKCS1-v1_5 (legacy interop only)
)

// ParseCipherFormat maps a format name (case-insensitive) to a
// CipherFormat; unknown names are ErrUnsupported.
func ParseCipherFormat(s string) (CipherFormat, error) {
	switch f := CipherFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatC1C3C2, FormatC1C2C3, FormatASN1, FormatRSAOAEP, FormatRSAPKCS1:
		return f, nil
	}
	return "", fmt.Errorf("%w: cipher format %q", ErrUnsupported, s)
}

// sm2 ciphertext sizes: C1 uncompressed point, C3 = SM3 digest.
const (
	sm2PointLen = 1 + 2*32
	sm2MinPlain = sm2PointLen + sm3.Size + 1 // at least one byte of C2
)

// Encrypt encrypts plaintext to pub in format f. SM2 formats need an SM2
// key, RSA formats an RSA key (else ErrKeyMismatch); an empty or (for RSA)
// too long plaintext is ErrInvalidInput; an unknown format is ErrUnsupported.
func Encrypt(pub crypto.PublicKey, plaintext []byte, f CipherFormat) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, fmt.Errorf("%w: empty plaintext", ErrInvalidInput)
	}
	switch f {
	case FormatC1C3C2, FormatC1C2C3, FormatASN1:
		p, ok := sm2Public(pub)
		if !ok || !p.Curve.IsOnCurve(p.X, p.Y) {
			return nil, fmt.Errorf("%w: format %s needs an SM2 key", ErrKeyMismatch, f)
		}
		var opts *sm2.EncrypterOpts
		switch f {
		case FormatC1C3C2:
			opts = sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2)
		case FormatC1C2C3:
			opts = sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C2C3)
		default:
			opts = sm2.ASN1EncrypterOpts
		}
		return sm2Encrypt(rand.Reader, p, plaintext, opts)
	case FormatRSAOAEP, FormatRSAPKCS1:
		p, ok := rsaPublic(pub)
		if !ok {
			return nil, fmt.Errorf("%w: format %s needs an RSA key", ErrKeyMismatch, f)
		}
		var ct []byte
		var err error
		if f == FormatRSAOAEP {
			ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, p, plaintext, nil)
		} else {
			ct, err = rsa.EncryptPKCS1v15(rand.Reader, p, plaintext)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: RSA encrypt: %v", ErrInvalidInput, err)
		}
		return ct, nil
	default:
		return nil, fmt.Errorf("%w: cipher format %q", ErrUnsupported, string(f))
	}
}

// Decrypt opens a ciphertext made by Encrypt (or an interoperable
// implementation) in format f. Every failure - wrong key, key type not
// matching the format, unknown format, truncated or altered ciphertext, C1
// not on the curve - is ErrDecryption and nothing more.
//
// FormatRSAPKCS1 exists for interoperability only: PKCS#1 v1.5 decryption
// is exposed to padding-oracle attacks if its failures are observable.
func Decrypt(key crypto.Signer, ciphertext []byte, f CipherFormat) ([]byte, error) {
	switch f {
	case FormatC1C3C2, FormatC1C2C3, FormatASN1:
		if e, ok := externalSM2(key); ok {
			readings := [][]byte{ciphertext}
			if f != FormatASN1 {
				readings = SM2RawReadings(ciphertext)
			}
			for _, ct := range readings {
				if pt, err := e.Decrypt(rand.Reader, ct, &ExternalDecryptOpts{Format: f}); err == nil && len(pt) > 0 {
					return pt, nil
				}
			}
			return nil, ErrDecryption
		}
		k, ok := sm2Private(key)
		if !ok {
			return nil, ErrDecryption
		}
		if f == FormatASN1 {
			if len(ciphertext) == 0 || ciphertext[0] != 0x30 {
				return nil, ErrDecryption
			}
			pt, err := k.Decrypt(nil, ciphertext, sm2.ASN1DecrypterOpts)
			if err != nil || len(pt) == 0 {
				return nil, ErrDecryption
			}
			return pt, nil
		}
		// gmsm also accepts compressed points and sniffs ASN.1; we take
		// only what the format says, with C1 as 04||X||Y or X||Y (see
		// SM2RawReadings).
		order := sm2.C1C3C2
		if f == FormatC1C2C3 {
			order = sm2.C1C2C3
		}
		opts := sm2.NewPlainDecrypterOpts(order)
		for _, ct := range SM2RawReadings(ciphertext) {
			if pt, err := k.Decrypt(nil, ct, opts); err == nil && len(pt) > 0 {
				return pt, nil
			}
		}
		return nil, ErrDecryption
	case FormatRSAOAEP, FormatRSAPKCS1:
		if _, ok := rsaPublic(PublicKey(key)); !ok {
			return nil, ErrDecryption
		}
		d, ok := key.(crypto.Decrypter)
		if !ok {
			return nil, ErrDecryption
		}
		var opts crypto.DecrypterOpts // nil: PKCS#1 v1.5
		if f == FormatRSAOAEP {
			opts = &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
		}
		pt, err := d.Decrypt(rand.Reader, ciphertext, opts)
		if err != nil {
			return nil, ErrDecryption
		}
		return pt, nil
	default:
		return nil, ErrDecryption
	}
}

// sm2Encrypt works around a bug in gmsm v0.44.1's SM2 encryption: when the
// KDF output t is all zero (GB/T 32918.4 step A5, probability 2^-8n for an
// n-byte plaintext, so 1/256 for one byte) it retries with a fresh k but
// has already overwritten the recipient's point with k*P in place, so the
// ciphertext it returns cannot be decrypted. One attempt reads exactly 32
// random bytes; if more were read a retry (or, negligibly often, a rejected
// k candidate) happened, and we start again with fresh randomness.
func sm2Encrypt(random io.Reader, pub *ecdsa.PublicKey, plaintext []byte, opts *sm2.EncrypterOpts) ([]byte, error) {
	const attempts = 32
	for range attempts {
		r := &countingReader{r: random}
		ct, err := sm2.Encrypt(r, pub, plaintext, opts)
		if err != nil {
			return nil, fmt.Errorf("crypto: SM2 encrypt: %w", err)
		}
		if r.n == sm2ScalarLen {
			return ct, nil
		}
	}
	return nil, errors.New("crypto: SM2 encrypt: no valid ephemeral key")
}

const sm2ScalarLen = 32

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
