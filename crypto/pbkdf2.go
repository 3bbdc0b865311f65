package crypto

import (
	"encoding"
	"encoding/binary"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// pbkdf2HMACSM3 is PBKDF2 (RFC 8018, section 5.2) with HMAC-SM3 (RFC
// 2104) as its PRF: the same function as the standard library's
// pbkdf2.Key(sm3.New, …), written here so that nothing derived from the
// password outlives the call. pbkdf2.Key takes the password as a string
// (an immutable copy nothing can clear) and its HMAC keeps the padded key
// in memory the caller cannot reach; here the password stays the
// caller's slice, and the padded keys, the HMAC's saved inner and outer
// states and the intermediate blocks are cleared before it returns. A
// password longer than one SM3 block (64 bytes) is hashed first, as HMAC
// says; that digest is cleared too. iter and keyLen must be positive
// (callers pass constants or checked values).
func pbkdf2HMACSM3(password, salt []byte, iter, keyLen int) []byte {
	if iter < 1 || keyLen < 1 {
		panic("crypto: pbkdf2HMACSM3: a count below 1")
	}
	if len(password) > sm3.BlockSize {
		sum := sm3.Sum(password)
		defer clear(sum[:])
		password = sum[:]
	}
	var pad [sm3.BlockSize]byte
	inner, istate := keyedSM3(&pad, password, 0x36)
	outer, ostate := keyedSM3(&pad, password, 0x5c)
	defer func() {
		clear(pad[:])
		clear(istate)
		clear(ostate)
		wipeSM3(inner)
		wipeSM3(outer)
	}()
	var u, t, in [sm3.Size]byte
	defer func() {
		clear(u[:])
		clear(t[:])
		clear(in[:])
	}()
	// prf sets u to HMAC-SM3(password, msg...).
	prf := func(msg ...[]byte) {
		restoreSM3(inner, istate)
		for _, m := range msg {
			inner.Write(m)
		}
		inner.Sum(in[:0])
		restoreSM3(outer, ostate)
		outer.Write(in[:])
		outer.Sum(u[:0])
	}
	blocks := (keyLen + sm3.Size - 1) / sm3.Size
	dk := make([]byte, 0, blocks*sm3.Size)
	var ctr [4]byte
	for block := 1; block <= blocks; block++ {
		binary.BigEndian.PutUint32(ctr[:], uint32(block))
		prf(salt, ctr[:])
		t = u
		for range iter - 1 {
			prf(u[:])
			for i := range t {
				t[i] ^= u[i]
			}
		}
		dk = append(dk, t[:]...)
	}
	clear(dk[keyLen:cap(dk)])
	return dk[:keyLen:keyLen]
}

// keyedSM3 returns an SM3 hash that has absorbed the block key ⊕ x
// (HMAC's inner pad for 0x36, outer for 0x5c; pad is scratch space) and
// its marshalled state, to restore before every message.
func keyedSM3(pad *[sm3.BlockSize]byte, key []byte, x byte) (hash.Hash, []byte) {
	clear(pad[:])
	copy(pad[:], key)
	for i := range pad {
		pad[i] ^= x
	}
	h := sm3.New()
	h.Write(pad[:])
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil { // the package documents its hash as marshalable
		panic("crypto: SM3 state does not marshal: " + err.Error())
	}
	return h, st
}

// restoreSM3 puts h back in the marshalled state st.
func restoreSM3(h hash.Hash, st []byte) {
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
		panic("crypto: SM3 state does not unmarshal: " + err.Error())
	}
}

// wipeSM3 leaves h holding nothing of what it hashed: its chaining value
// back to the initial one and its whole block buffer overwritten with
// zeros (Reset alone keeps the buffer's old bytes). One byte, then the
// rest of a block: both go through the buffer (a whole block written to
// an empty buffer would be hashed without it).
func wipeSM3(h hash.Hash) {
	var zero [sm3.BlockSize]byte
	h.Reset()
	h.Write(zero[:1])
	h.Write(zero[1:])
	h.Reset()
}
