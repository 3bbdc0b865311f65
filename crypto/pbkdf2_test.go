package crypto

import (
	"bytes"
	"crypto/pbkdf2"
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
)

// TestPBKDF2HMACSM3 compares pbkdf2HMACSM3 with the standard library's
// PBKDF2 (tjfoc's SM3 cannot serve there: its Sum does not append), at key
// lengths of less than, exactly and more than one SM3 output, and with
// passwords up to a whole block.
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

func TestPBKDF2HMACSM3RefusesLongPasswords(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a 65-byte password did not panic")
		}
	}()
	pbkdf2HMACSM3(make([]byte, 65), []byte("salt"), 1, 16)
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
