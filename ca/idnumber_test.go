package ca

import (
	"fmt"
	"testing"
)

// Published examples: GB 11643-1999's own example 11010519491231002X, and
// the examples of its annex and common references (440524188001010014).
// Credit codes: the example in GB 32100-2015 coverage and public notices.
func TestValidIDNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"11010519491231002X", true},
		{"11010519491231002x", true},
		{"440524188001010014", true},
		{"110105194912310021", false}, // wrong check character
		{"11010519491231002", false},  // 17 characters
		{"11010519491231002XX", false},
		{"1101051949123100AX", false}, // letter among the digits
		{"", false},
		{"４40524188001010014", false}, // full-width digit
	} {
		if got := ValidIDNumber(tc.in); got != tc.want {
			t.Errorf("ValidIDNumber(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestIDNumberWeights checks the weights against the table printed in GB
// 11643 (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) by changing one digit at a
// time: exactly one check character makes each variant valid.
func TestIDNumberOneCheckCharacter(t *testing.T) {
	base := "44052418800101001"
	for d := range 10 {
		s := base[:5] + fmt.Sprint(d) + base[6:]
		n := 0
		for _, c := range "0123456789X" {
			if ValidIDNumber(s + string(c)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d valid check characters, want 1", s, n)
		}
	}
}

func TestValidCreditCodePublished(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"91350100M000100Y43", true},
		{"91350100m000100y43", true},
		{"91350100M000100Y44", false},
		{"91350100M000100Y4", false},
		{"91350100M000100I43", false}, // I is not in the alphabet
		{"91350100M000100Y4O", false},
	} {
		if got := ValidCreditCode(tc.in); got != tc.want {
			t.Errorf("ValidCreditCode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func ExampleValidIDNumber() {
	fmt.Println(ValidIDNumber("11010519491231002X"), ValidIDNumber("110105194912310021"))
	// Output: true false
}

func ExampleValidCreditCode() {
	fmt.Println(ValidCreditCode("91350100M000100Y43"), ValidCreditCode("91350100M000100Y44"))
	// Output: true false
}

// FuzzChecksums: the checkers never panic, accept only 18 bytes, and
// changing the check character of a valid number makes it invalid.
func FuzzChecksums(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "440524188001010014", "91350100M000100Y43", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, check := range []func(string) bool{ValidIDNumber, ValidCreditCode} {
			if !check(s) {
				continue
			}
			if len(s) != 18 {
				t.Fatalf("accepted %q of %d bytes", s, len(s))
			}
			n := 0
			for _, c := range "0123456789ABCDEFGHJKLMNPQRTUWXY" {
				if check(s[:17] + string(c)) {
					n++
				}
			}
			if n != 1 { // the uppercase alphabet holds exactly one fitting check character
				t.Fatalf("%q: %d valid check characters", s, n)
			}
		}
	})
}
