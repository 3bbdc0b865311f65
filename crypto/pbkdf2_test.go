package crypto

import (
	"bytes"
	"crypto/pbkdf2"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
)

// TestPBKDF2HMACSM3 compares pbkdf2HMACSM3 with the standard library's
// PBKDF2 (tjfoc's SM3 cannot serve there: its Sum does not append), at key
// lengths of less than, exactly and more than one SM3 output, and with
// passwords up to a whole block and beyond (hashed first, as HMAC says).
func TestPBKDF2HMACSM3(t *testing.T) {
	for _, c := range []struct {
		password, salt string
		iter, keyLen   int
	}{
		{"password", "salt", 1, 16},
		{"password", "salt", 2, 32},
		{"password", "saltsaltsaltsalt", 4096, 16},
		{"", "salt", 3, 16},
		{strings.Repeat("p", 64), "NaCl", 10, 70}, // exactly one SM3 block
		{strings.Repeat("q", 65), "NaCl", 10, 32}, // one byte more: hashed
		{strings.Repeat("custodian passphrase ", 12), "salt", 5, 32},
		{"pw", "", 7, 33},
	} {
		name := fmt.Sprintf("%q/%q/%d/%d", c.password, c.salt, c.iter, c.keyLen)
		got := pbkdf2HMACSM3([]byte(c.password), []byte(c.salt), c.iter, c.keyLen)
		want, err := pbkdf2.Key(sm3.New, c.password, []byte(c.salt), c.iter, c.keyLen)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %x, crypto/pbkdf2 gives %x", name, got, want)
		}
		if len(got) != c.keyLen || cap(got) != c.keyLen {
			t.Errorf("%s: len %d cap %d, want %d", name, len(got), cap(got), c.keyLen)
		}
	}
}

func TestPBKDF2HMACSM3RefusesZeroCounts(t *testing.T) {
	for _, c := range [][2]int{{0, 16}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("iter %d keyLen %d did not panic", c[0], c[1])
				}
			}()
			pbkdf2HMACSM3([]byte("pw"), []byte("salt"), c[0], c[1])
		}()
	}
}

// TestDerivePassphraseKey: the escrow share files' key derivation is the
// standard library's PBKDF2-HMAC-SM3 (so files written before it still
// open), for passphrases of the lengths the share files allow (12 to 256
// bytes); zero iterations is refused.
func TestDerivePassphraseKey(t *testing.T) {
	salt := []byte("0123456789abcdef")
	for _, n := range []int{12, 64, 65, 256} {
		pass := strings.Repeat("z", n)
		got, err := DerivePassphraseKey([]byte(pass), salt, 1000)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := pbkdf2.Key(sm3.New, pass, salt, 1000, KeySize)
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes: %x, crypto/pbkdf2 gives %x", n, got, want)
		}
	}
	if _, err := DerivePassphraseKey([]byte("long enough pass"), salt, 0); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("0 iterations: %v", err)
	}
}

// TestWipeSM3 checks that a wiped hash holds none of the bytes it was
// given: its state marshals as a fresh hash's, and its block buffer (which
// the marshalled state shows only up to its fill) is all zeros.
func TestWipeSM3(t *testing.T) {
	fresh, err := sm3.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 63, 64, 100, 127} {
		h := sm3.New()
		h.Write(bytes.Repeat([]byte{0xAB}, n))
		h.Write(bytes.Repeat([]byte{0xCD}, 63)) // the buffer's last byte too
		wipeSM3(h)
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st, fresh) {
			t.Fatalf("after %d bytes: wiped state %x differs from a fresh one %x", n, st, fresh)
		}
		buf := reflect.ValueOf(h).Elem().FieldByName("x")
		if buf.Kind() != reflect.Array {
			t.Fatalf("the SM3 digest has no block buffer x (%s): this test must follow the library", buf.Kind())
		}
		for i := range buf.Len() {
			if b := buf.Index(i).Uint(); b != 0 {
				t.Fatalf("after %d bytes: buffer byte %d is %#x after the wipe", n, i, b)
			}
		}
	}
}
