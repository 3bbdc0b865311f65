package seal

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Producers that draw no space glyph between words (Ghostscript moves
// the next word with Tc or Td) leave only a gap. The keyword search reads
// such a gap as a space, as the excerpt and poppler do, so that a
// keyword with a space is found where the page shows one; a gap between
// two CJK characters (letter-spaced titles, justified lines) is layout,
// not a word break, and reads as nothing, as before.

// wordGap reports whether g, drawn after prev, starts a new word on the
// same line: more than spaceGap × the size after prev's end, along
// prev's direction and within lineTolerance across it, neither glyph
// a space already and not both CJK.
func wordGap(prev, g glyph) bool {
	if prev.text == "" || g.text == "" || strings.HasSuffix(prev.text, " ") || strings.HasPrefix(g.text, " ") {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(prev.text)
	first, _ := utf8.DecodeRuneInString(g.text)
	if cjk(last) && cjk(first) {
		return false
	}
	size := max(prev.size, g.size)
	ax, ay := prev.xEnd-prev.x, prev.yEnd-prev.y
	n := math.Hypot(ax, ay)
	if !(size > 0) || !(n > 0) {
		return false
	}
	ux, uy := ax/n, ay/n
	dx, dy := g.x-prev.xEnd, g.y-prev.yEnd
	along, across := dx*ux+dy*uy, dy*ux-dx*uy
	return along > spaceGap*size && math.Abs(across) <= lineTolerance*size
}

// cjk: a Chinese, Japanese or Korean character or CJK punctuation.
func cjk(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}
