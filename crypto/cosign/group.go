package cosign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"

	"filippo.io/bigmod"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// Sizes on the wire: a scalar is 32 bytes big-endian, a point 65 bytes
// (0x04 || X || Y, the uncompressed SEC 1 form; nothing else is accepted).
const (
	ScalarSize = 32
	PointSize  = 1 + 2*ScalarSize
)

var (
	curve = sm2.P256()
	// order is n, the order of the SM2 group. SM2's cofactor is 1: every
	// point on the curve except the identity has order n.
	order = mustModulus(curve.Params().N)
)

func mustModulus(n *big.Int) *bigmod.Modulus {
	m, err := bigmod.NewModulus(n.FillBytes(make([]byte, ScalarSize)))
	if err != nil {
		panic("cosign: SM2 order: " + err.Error())
	}
	return m
}

// scalar is an element of Z/nZ, handled in constant time.
type scalar = bigmod.Nat

// parseScalar reads a 32-byte scalar in [1, n-1]; anything else is ErrMalformed.
func parseScalar(b []byte) (*scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrMalformed
	}
	s, err := bigmod.NewNat().SetBytes(b, order)
	if err != nil || s.IsZero() == 1 {
		return nil, ErrMalformed
	}
	return s, nil
}

// reduce maps a 32-byte big-endian value (a field element or a hash) to Z/nZ.
func reduce(b []byte) *scalar {
	s, err := bigmod.NewNat().SetOverflowingBytes(b, order)
	if err != nil {
		// Unreachable: 32 bytes never exceed n's 256-bit length.
		panic("cosign: reduce: " + err.Error())
	}
	return s
}

func scalarBytes(s *scalar) []byte { return s.Bytes(order) }

// randomScalar draws a uniform scalar in [1, n-1] from r by rejection.
func randomScalar(r io.Reader) (*scalar, error) {
	buf := make([]byte, ScalarSize)
	for range 64 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("cosign: random: %w", err)
		}
		if s, err := parseScalar(buf); err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("cosign: random source keeps producing values out of range")
}

func newRandomScalar() (*scalar, error) { return randomScalar(rand.Reader) }

func clone(s *scalar) *scalar { return bigmod.NewNat().ExpandFor(order).Add(s, order) }

// mul returns a·b mod n in new memory.
func mul(a, b *scalar) *scalar { return clone(a).Mul(b, order) }

// add returns a+b mod n in new memory.
func add(a, b *scalar) *scalar { return clone(a).Add(b, order) }

// sub returns a−b mod n in new memory.
func sub(a, b *scalar) *scalar { return clone(a).Sub(b, order) }

// neg returns −a mod n in new memory.
func neg(a *scalar) *scalar { return bigmod.NewNat().ExpandFor(order).Sub(a, order) }

// ordInverter is the inversion modulo n that gmsm's SM2 curve offers
// (sm2ec.P256OrdInverse: a fixed addition chain, in assembly on amd64 and
// arm64 and in fiat-crypto code elsewhere, constant time either way).
type ordInverter interface{ Inverse(k *big.Int) *big.Int }

var ordInverse = curve.(ordInverter)

// inverse returns a⁻¹ mod n; a must not be zero. The value passes through
// a big.Int because that is the type gmsm's method takes; the inversion
// itself runs in constant time.
func inverse(a *scalar) *scalar {
	inv := ordInverse.Inverse(new(big.Int).SetBytes(scalarBytes(a)))
	return reduce(inv.FillBytes(make([]byte, ScalarSize)))
}

// point is an affine point on the SM2 curve (never the identity once checked).
type point struct{ x, y *big.Int }

// parsePoint reads a 65-byte uncompressed point and checks it is on the SM2
// curve with coordinates below p; the identity has no such encoding, so it
// is refused too (and with cofactor 1 no other point has small order).
func parsePoint(b []byte) (point, error) {
	if len(b) != PointSize || b[0] != 4 {
		return point{}, ErrMalformed
	}
	pub, err := sm2.NewPublicKey(b)
	if err != nil || pub.X.Sign() == 0 && pub.Y.Sign() == 0 {
		return point{}, ErrMalformed
	}
	return point{pub.X, pub.Y}, nil
}

func (p point) isIdentity() bool {
	return p.x == nil || p.x.Sign() == 0 && p.y.Sign() == 0
}

func (p point) bytes() []byte {
	out := make([]byte, PointSize)
	out[0] = 4
	p.x.FillBytes(out[1 : 1+ScalarSize])
	p.y.FillBytes(out[1+ScalarSize:])
	return out
}

func (p point) xBytes() []byte { return p.x.FillBytes(make([]byte, ScalarSize)) }
func (p point) yBytes() []byte { return p.y.FillBytes(make([]byte, ScalarSize)) }

// baseMul returns [k]G (gmsm's constant-time fixed-base multiplication).
func baseMul(k *scalar) point {
	x, y := curve.ScalarBaseMult(scalarBytes(k))
	return point{x, y}
}

// pointMul returns [k]P (gmsm's constant-time variable-base multiplication).
func pointMul(p point, k *scalar) point {
	x, y := curve.ScalarMult(p.x, p.y, scalarBytes(k))
	return point{x, y}
}

func pointAdd(p, q point) point {
	x, y := curve.Add(p.x, p.y, q.x, q.y)
	return point{x, y}
}

func pointNeg(p point) point {
	return point{p.x, new(big.Int).Sub(curve.Params().P, p.y)}
}

func generator() point { return point{curve.Params().Gx, curve.Params().Gy} }

func publicKey(p point) *ecdsa.PublicKey {
	return &ecdsa.PublicKey{Curve: curve, X: p.x, Y: p.y}
}

func pointOf(pub *ecdsa.PublicKey) (point, error) {
	if pub == nil || pub.Curve != curve || pub.X == nil || pub.Y == nil {
		return point{}, ErrInvalidInput
	}
	return parsePoint(elliptic.Marshal(curve, pub.X, pub.Y))
}

// transcript hashes a label and fields, each length-prefixed, with SM3:
// the value that binds a message to its session, credential, digest and
// round.
func transcript(label string, fields ...[]byte) []byte {
	h := sm3.New()
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(label)))
	h.Write(n[:])
	h.Write([]byte(label))
	for _, f := range fields {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	return h.Sum(nil)
}

func equalPoints(p, q point) bool {
	return p.x.Cmp(q.x) == 0 && p.y.Cmp(q.y) == 0
}
