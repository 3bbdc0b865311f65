package cosign

import (
	"math/big"

	"filippo.io/bigmod"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// Why inverse uses gmsm's inversion rather than Fermat with bigmod.Exp.
func BenchmarkInverse(b *testing.B) {
	s, _ := newRandomScalar()
	b.Run("bigmod-exp", func(b *testing.B) {
		e := new(big.Int).Sub(n, big.NewInt(2)).FillBytes(make([]byte, 32))
		for b.Loop() {
			bigmod.NewNat().Exp(s, e, order)
		}
	})
	inv := sm2.P256().(interface{ Inverse(*big.Int) *big.Int })
	v := toBig(s)
	b.Run("gmsm-ord", func(b *testing.B) {
		for b.Loop() {
			inv.Inverse(v)
		}
	})
}
