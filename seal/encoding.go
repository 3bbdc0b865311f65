package seal

import (
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// Simple fonts (one byte per code) without a /ToUnicode map, as
// Ghostscript, ReportLab and many others write them: the text of a code
// is its glyph's name in the font's /Encoding (a base encoding, its
// /Differences over it), read as the Adobe glyph names are (the names of
// Latin characters, uniXXXX, uXXXX[XX], a name with a suffix after "."
// as the name before it, ligatures joined by "_"). A code the encoding
// does not name reads as its Latin-1 character, as before.

// simpleEncoding is the text of each of a simple font's 256 codes ("":
// not known).
type simpleEncoding [256]string

// baseEncoding is the named encoding's table; nil for a name that is
// none of WinAnsiEncoding, MacRomanEncoding, StandardEncoding.
func baseEncoding(name string) *simpleEncoding {
	var e simpleEncoding
	switch name {
	case "WinAnsiEncoding", "MacRomanEncoding":
		cm := charmap.Windows1252
		if name == "MacRomanEncoding" {
			cm = charmap.Macintosh
		}
		for c := 0x20; c < 256; c++ {
			if r := cm.DecodeByte(byte(c)); r != unicode.ReplacementChar && !unicode.IsControl(r) {
				e[c] = string(r)
			}
		}
		if name == "WinAnsiEncoding" {
			// WinAnsi draws the codes cp1252 leaves out as a bullet, and
			// 0xA0 and 0xAD as a space and a hyphen.
			for _, c := range []int{0x7F, 0x81, 0x8D, 0x8F, 0x90, 0x9D} {
				e[c] = "•"
			}
			e[0xA0], e[0xAD] = " ", "-"
		}
	case "StandardEncoding":
		for c := 0x20; c < 0x7F; c++ {
			e[c] = string(rune(c))
		}
		e['\''], e['`'] = "’", "‘"
		for c, s := range standardHigh {
			e[c] = s
		}
	default:
		return nil
	}
	return &e
}

// standardHigh is StandardEncoding above 0x7F.
var standardHigh = map[int]string{
	0xA1: "¡", 0xA2: "¢", 0xA3: "£", 0xA4: "⁄", 0xA5: "¥", 0xA6: "ƒ", 0xA7: "§", 0xA8: "¤",
	0xA9: "'", 0xAA: "“", 0xAB: "«", 0xAC: "‹", 0xAD: "›", 0xAE: "fi", 0xAF: "fl",
	0xB1: "–", 0xB2: "†", 0xB3: "‡", 0xB4: "·", 0xB6: "¶", 0xB7: "•", 0xB8: "‚", 0xB9: "„",
	0xBA: "”", 0xBB: "»", 0xBC: "…", 0xBD: "‰", 0xBF: "¿",
	0xC1: "`", 0xC2: "´", 0xC3: "ˆ", 0xC4: "˜", 0xC5: "¯", 0xC6: "˘", 0xC7: "˙", 0xC8: "¨",
	0xCA: "˚", 0xCB: "¸", 0xCD: "˝", 0xCE: "˛", 0xCF: "ˇ", 0xD0: "—",
	0xE1: "Æ", 0xE3: "ª", 0xE8: "Ł", 0xE9: "Ø", 0xEA: "Œ", 0xEB: "º",
	0xF1: "æ", 0xF5: "ı", 0xF8: "ł", 0xF9: "ø", 0xFA: "œ", 0xFB: "ß",
}

// fontEncoding reads a simple font's /Encoding: a name, or a dictionary
// with an optional /BaseEncoding (else StandardEncoding, the built-in
// encoding of the Latin fonts that need one) and /Differences. nil when
// the font has none or names another (a symbolic font's own).
func (d *doc) fontEncoding(fd types.Dict) *simpleEncoding {
	o, ok := fd.Find("Encoding")
	if !ok || o == nil {
		return nil
	}
	o, err := d.ctx.Dereference(o)
	if err != nil || o == nil {
		return nil
	}
	switch v := o.(type) {
	case types.Name:
		return baseEncoding(v.Value())
	case types.Dict:
		e := baseEncoding("StandardEncoding")
		if b := v.NameEntry("BaseEncoding"); b != nil {
			if be := baseEncoding(*b); be != nil {
				e = be
			}
		}
		diffs, err := d.ctx.DereferenceArray(v["Differences"])
		if err != nil {
			return e
		}
		code := -1
		for _, x := range diffs {
			x, err := d.ctx.Dereference(x)
			if err != nil {
				continue
			}
			switch x := x.(type) {
			case types.Integer:
				code = x.Value()
			case types.Float:
				code = int(x.Value())
			case types.Name:
				if code >= 0 && code < 256 {
					e[code] = glyphText(x.Value())
					code++
				}
			}
		}
		return e
	}
	return nil
}

// glyphText is the text a glyph name stands for ("" when unknown).
func glyphText(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i] // "a.sc", "one.oldstyle"
	}
	if strings.Contains(name, "_") {
		var sb strings.Builder
		for _, part := range strings.Split(name, "_") {
			t := glyphText(part)
			if t == "" {
				return ""
			}
			sb.WriteString(t)
		}
		return sb.String()
	}
	if r, ok := glyphNames()[name]; ok {
		return r
	}
	if len(name) == 1 && (name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z') {
		return name
	}
	hexRunes := func(h string) string {
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil || v > unicode.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
			return ""
		}
		return string(rune(v))
	}
	switch {
	case strings.HasPrefix(name, "uni") && len(name) >= 7 && (len(name)-3)%4 == 0:
		var sb strings.Builder
		for i := 3; i < len(name); i += 4 {
			t := hexRunes(name[i : i+4])
			if t == "" {
				return ""
			}
			sb.WriteString(t)
		}
		return sb.String()
	case strings.HasPrefix(name, "u") && len(name) >= 5 && len(name) <= 7:
		return hexRunes(name[1:])
	}
	return ""
}

// glyphNames maps the glyph names of the Latin text fonts to their text:
// the ASCII punctuation and digits, the accented letters of Latin-1 and
// Latin Extended-A (a base letter and an accent name), and the
// typographic punctuation and ligatures.
var glyphNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	ascii := []string{"space", "exclam", "quotedbl", "numbersign", "dollar", "percent", "ampersand", "quotesingle",
		"parenleft", "parenright", "asterisk", "plus", "comma", "hyphen", "period", "slash",
		"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"colon", "semicolon", "less", "equal", "greater", "question", "at"}
	for i, n := range ascii {
		m[n] = string(rune(0x20 + i))
	}
	for n, r := range map[string]rune{
		"bracketleft": '[', "backslash": '\\', "bracketright": ']', "asciicircum": '^', "underscore": '_',
		"grave": '`', "braceleft": '{', "bar": '|', "braceright": '}', "asciitilde": '~',
		"exclamdown": '¡', "cent": '¢', "sterling": '£', "currency": '¤', "yen": '¥', "brokenbar": '¦',
		"section": '§', "dieresis": '¨', "copyright": '©', "ordfeminine": 'ª', "guillemotleft": '«',
		"logicalnot": '¬', "registered": '®', "macron": '¯', "degree": '°', "plusminus": '±',
		"twosuperior": '²', "threesuperior": '³', "acute": '´', "mu": 'µ', "paragraph": '¶',
		"periodcentered": '·', "cedilla": '¸', "onesuperior": '¹', "ordmasculine": 'º',
		"guillemotright": '»', "onequarter": '¼', "onehalf": '½', "threequarters": '¾', "questiondown": '¿',
		"AE": 'Æ', "Eth": 'Ð', "multiply": '×', "Oslash": 'Ø', "Thorn": 'Þ', "germandbls": 'ß',
		"ae": 'æ', "eth": 'ð', "divide": '÷', "oslash": 'ø', "thorn": 'þ',
		"dotlessi": 'ı', "Lslash": 'Ł', "lslash": 'ł', "OE": 'Œ', "oe": 'œ', "florin": 'ƒ',
		"circumflex": 'ˆ', "caron": 'ˇ', "breve": '˘', "dotaccent": '˙', "ring": '˚', "ogonek": '˛',
		"tilde": '˜', "hungarumlaut": '˝', "endash": '–', "emdash": '—', "quoteleft": '‘',
		"quoteright": '’', "quotesinglbase": '‚', "quotedblleft": '“', "quotedblright": '”',
		"quotedblbase": '„', "dagger": '†', "daggerdbl": '‡', "bullet": '•', "ellipsis": '…',
		"perthousand": '‰', "guilsinglleft": '‹', "guilsinglright": '›', "fraction": '⁄',
		"Euro": '€', "trademark": '™', "minus": '−', "nbspace": '\u00A0', "sfthyphen": '\u00AD',
	} {
		m[n] = string(r)
	}
	for n, s := range map[string]string{"fi": "fi", "fl": "fl", "ff": "ff", "ffi": "ffi", "ffl": "ffl"} {
		m[n] = s
	}
	accents := map[rune]string{0x300: "grave", 0x301: "acute", 0x302: "circumflex", 0x303: "tilde",
		0x308: "dieresis", 0x30A: "ring", 0x327: "cedilla", 0x30C: "caron", 0x304: "macron",
		0x306: "breve", 0x328: "ogonek", 0x307: "dotaccent", 0x30B: "hungarumlaut"}
	for r := rune(0xC0); r <= 0x17F; r++ {
		dec := []rune(norm.NFD.String(string(r)))
		if len(dec) != 2 || dec[0] > 'z' {
			continue
		}
		if a, ok := accents[dec[1]]; ok {
			m[string(dec[0])+a] = string(r)
		}
	}
	return m
})

// ligatures are the presentation forms a font may map its ligature
// glyphs to (U+FB00…U+FB06): read as their letters, as pdftotext does,
// so that "final" is found where the file draws "ﬁnal".
var ligatures = strings.NewReplacer("ﬀ", "ff", "ﬁ", "fi", "ﬂ", "fl", "ﬃ", "ffi", "ﬄ", "ffl", "ﬅ", "st", "ﬆ", "st")

// plainText is s with its ligatures as letters.
func plainText(s string) string {
	for _, r := range s {
		if r >= 0xFB00 && r <= 0xFB06 {
			return ligatures.Replace(s)
		}
	}
	return s
}
