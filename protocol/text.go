package protocol

import (
	"fmt"
	"unicode"
)

// Text a portal sends for the phone to show (a session's display title
// and summary, document names, a seal placement's keyword) is shown to
// the user as the reason to enter a PIN. Characters that are invisible or
// that change how the text around them is drawn would let a portal make
// that text look other than it is: a right-to-left override turns
// "txt.exe" into something else, a zero-width space hides a word from a
// reader's eye but not from a comparison, a line separator breaks a line
// where the gateway's layout does not expect it. The gateway refuses them.

// HiddenRune reports whether r is refused in text shown to the phone
// user: control characters (C0 but tab, DEL, C1), format characters
// (Unicode category Cf: the bidirectional embeddings, overrides, isolates
// and marks, zero-width space, joiner and non-joiner, word joiner, the
// byte order mark, soft hyphen, tag characters, …), the line and
// paragraph separators, and the Hangul fillers that draw as blank.
func HiddenRune(r rune) bool {
	switch {
	case r == '\t':
		return false
	case unicode.IsControl(r), unicode.Is(unicode.Cf, r),
		unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	}
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0: // Hangul fillers
		return true
	}
	return false
}

// HiddenIn returns the first rune of s that HiddenRune refuses, and
// whether there is one. s is taken as UTF-8; an invalid byte is U+FFFD,
// which is not hidden (check utf8.ValidString separately).
func HiddenIn(s string) (rune, bool) {
	for _, r := range s {
		if HiddenRune(r) {
			return r, true
		}
	}
	return 0, false
}

// HiddenReason is the reason a *FieldError gives for text holding the
// hidden rune r.
func HiddenReason(r rune) string {
	return fmt.Sprintf("contains %U, an invisible or direction-changing character: the phone would not show the text as it reads", r)
}
