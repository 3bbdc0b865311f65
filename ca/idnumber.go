package ca

// ValidIDNumber reports whether s is a well-formed 18-character citizen
// identity number (GB 11643-1999): 17 digits, then the check character
// (a digit or X, lowercase x accepted) that makes Σ aᵢ·Wᵢ ≡ 1 (mod 11),
// where Wᵢ = 2^(17−i) mod 11 for the digits a₀…a₁₆ and the check
// character counts 10 for X. Only the checksum and the shape are checked,
// not that the region code or the birth date exist.
func ValidIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum, w := 0, 1 // w = 2^(17-i) mod 11, built from the right
	weights := [17]int{}
	for i := 16; i >= 0; i-- {
		w = w * 2 % 11
		weights[i] = w
	}
	for i := range 17 {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * weights[i]
	}
	check := (12 - sum%11) % 11
	last := s[17]
	if check == 10 {
		return last == 'X' || last == 'x'
	}
	return last == byte('0'+check)
}
