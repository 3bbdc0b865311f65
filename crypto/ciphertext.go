package crypto

import (
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// Shape checks of ciphertexts, without a key: a gateway refuses a decrypt
// session whose ciphertext can only fail before anybody confirms it.

// sm2CoordLen is the length of one SM2 coordinate.
const sm2CoordLen = 32

// sm2OnCurve reports whether xy (X||Y, 64 bytes) is a point of the SM2
// curve with both coordinates below the field prime.
func sm2OnCurve(xy []byte) bool {
	if len(xy) != 2*sm2CoordLen {
		return false
	}
	c := sm2.P256()
	p := c.Params().P
	x := new(big.Int).SetBytes(xy[:sm2CoordLen])
	y := new(big.Int).SetBytes(xy[sm2CoordLen:])
	if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 {
		return false
	}
	return c.IsOnCurve(x, y)
}

// SM2RawReadings returns the ways a raw SM2 ciphertext (C1C3C2 or C1C2C3)
// can be read, each as 04||X||Y||rest, the form gmsm decrypts:
//
//   - prefixed: the first byte is 0x04 and the next 64 bytes are a point
//     of the curve (GB/T 32918.4; tjfoc, gmsm, OpenSSL's raw form);
//   - unprefixed: the first 64 bytes are a point of the curve (npm
//     sm-crypto and gm-crypto by default; CFCA).
//
// A random 64-byte string is a curve point with probability about 2^-256,
// so in practice exactly one reading holds; should both hold, both are
// returned (prefixed first) and the C3 hash decides at decryption. A
// ciphertext too short for C1, C3 and one byte of C2, or with no reading,
// gives none.
func SM2RawReadings(ct []byte) [][]byte {
	var out [][]byte
	if len(ct) >= sm2MinPlain && ct[0] == 0x04 && sm2OnCurve(ct[1:sm2PointLen]) {
		out = append(out, ct)
	}
	if len(ct) >= sm2MinPlain-1 && sm2OnCurve(ct[:sm2PointLen-1]) {
		out = append(out, append([]byte{0x04}, ct...))
	}
	return out
}

// sm2ASN1Cipher is GM/T 0009's SM2Cipher.
type sm2ASN1Cipher struct {
	X, Y       *big.Int
	Hash       []byte
	CipherText []byte
}

// rsaMinCipher and rsaMaxCipher bound an RSA ciphertext: the modulus
// sizes from 1024 to 8192 bits.
const (
	rsaMinCipher = 1024 / 8
	rsaMaxCipher = 8192 / 8
)

// CheckCiphertext reports whether ct has the shape of a ciphertext in
// format f, without a key: for the raw SM2 formats a C1 on the curve
// (prefixed or not, SM2RawReadings), a C3 and a C2; for FormatASN1 the DER
// SEQUENCE{x, y, C3 (32 bytes), C2} with (x, y) on the curve; for the RSA
// formats a length of a modulus from 1024 to 8192 bits. A bad shape is
// ErrMalformed, an unknown format ErrUnsupported. Passing does not mean
// the ciphertext opens.
func CheckCiphertext(ct []byte, f CipherFormat) error {
	switch f {
	case FormatC1C3C2, FormatC1C2C3:
		if len(SM2RawReadings(ct)) == 0 {
			return fmt.Errorf("%w: not a raw SM2 ciphertext: C1 (04||X||Y or X||Y) is not a point of the curve, or C3 and C2 are missing", ErrMalformed)
		}
		return nil
	case FormatASN1:
		var c sm2ASN1Cipher
		rest, err := asn1.Unmarshal(ct, &c)
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("%w: not a DER SM2Cipher SEQUENCE{x, y, hash, ciphertext}", ErrMalformed)
		}
		if c.X.Sign() < 0 || c.Y.Sign() < 0 || c.X.BitLen() > 8*sm2CoordLen || c.Y.BitLen() > 8*sm2CoordLen {
			return fmt.Errorf("%w: SM2Cipher point out of range", ErrMalformed)
		}
		xy := make([]byte, 2*sm2CoordLen)
		c.X.FillBytes(xy[:sm2CoordLen])
		c.Y.FillBytes(xy[sm2CoordLen:])
		switch {
		case !sm2OnCurve(xy):
			return fmt.Errorf("%w: SM2Cipher point is not on the curve", ErrMalformed)
		case len(c.Hash) != sm3.Size:
			return fmt.Errorf("%w: SM2Cipher hash is not %d bytes", ErrMalformed, sm3.Size)
		case len(c.CipherText) == 0:
			return fmt.Errorf("%w: SM2Cipher ciphertext is empty", ErrMalformed)
		}
		return nil
	case FormatRSAOAEP, FormatRSAPKCS1:
		if len(ct) < rsaMinCipher || len(ct) > rsaMaxCipher {
			return fmt.Errorf("%w: an RSA ciphertext is as long as the modulus (%d to %d bytes), this one has %d", ErrMalformed, rsaMinCipher, rsaMaxCipher, len(ct))
		}
		return nil
	}
	return fmt.Errorf("%w: cipher format %q", ErrUnsupported, string(f))
}
