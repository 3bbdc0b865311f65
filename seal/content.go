package seal

// A small reader of PDF content streams, enough to follow the text state and
// find where a keyword is drawn. It never fails: what it cannot read it
// skips, and it stops at the limits below.

import (
	"bytes"
	"strconv"
)

const (
	maxOperands   = 64      // per operator
	maxNesting    = 16      // arrays and dictionaries inside operands
	maxOperations = 1 << 20 // operators read per stream
)

type operandKind uint8

const (
	opNumber operandKind = iota + 1
	opString
	opName
	opArray
	opOther
)

type operand struct {
	kind operandKind
	num  float64
	str  []byte // string bytes or name
	arr  []operand
}

// lexer walks a content stream.
type lexer struct {
	b []byte
	i int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipSpace() {
	for l.i < len(l.b) {
		c := l.b[l.i]
		if isSpace(c) {
			l.i++
			continue
		}
		if c == '%' {
			for l.i < len(l.b) && l.b[l.i] != '\n' && l.b[l.i] != '\r' {
				l.i++
			}
			continue
		}
		return
	}
}

// token kinds returned by next
const (
	tokEOF = iota
	tokOperand
	tokOperator
	tokArrayEnd
	tokDictEnd
)

// next returns the next operand or operator.
func (l *lexer) next(depth int) (int, operand, string) {
	l.skipSpace()
	if l.i >= len(l.b) {
		return tokEOF, operand{}, ""
	}
	c := l.b[l.i]
	switch {
	case c == '(':
		return tokOperand, operand{kind: opString, str: l.literal()}, ""
	case c == '<' && l.i+1 < len(l.b) && l.b[l.i+1] == '<':
		l.i += 2
		l.skipCompound(depth+1, tokDictEnd)
		return tokOperand, operand{kind: opOther}, ""
	case c == '<':
		return tokOperand, operand{kind: opString, str: l.hexString()}, ""
	case c == '>' && l.i+1 < len(l.b) && l.b[l.i+1] == '>':
		l.i += 2
		return tokDictEnd, operand{}, ""
	case c == '[':
		l.i++
		return tokOperand, operand{kind: opArray, arr: l.array(depth + 1)}, ""
	case c == ']':
		l.i++
		return tokArrayEnd, operand{}, ""
	case c == '/':
		l.i++
		start := l.i
		for l.i < len(l.b) && !isSpace(l.b[l.i]) && !isDelim(l.b[l.i]) {
			l.i++
		}
		return tokOperand, operand{kind: opName, str: l.b[start:l.i]}, ""
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		start := l.i
		l.i++
		for l.i < len(l.b) && (l.b[l.i] == '.' || (l.b[l.i] >= '0' && l.b[l.i] <= '9')) {
			l.i++
		}
		f, err := strconv.ParseFloat(string(l.b[start:l.i]), 64)
		if err != nil {
			f = 0
		}
		return tokOperand, operand{kind: opNumber, num: f}, ""
	case isDelim(c): // stray ) > } {
		l.i++
		return tokOperand, operand{kind: opOther}, ""
	}
	start := l.i
	for l.i < len(l.b) && !isSpace(l.b[l.i]) && !isDelim(l.b[l.i]) {
		l.i++
	}
	word := string(l.b[start:l.i])
	switch word {
	case "true", "false", "null":
		return tokOperand, operand{kind: opOther}, ""
	}
	return tokOperator, operand{}, word
}

func (l *lexer) array(depth int) []operand {
	var out []operand
	for {
		if depth > maxNesting {
			l.skipCompound(depth, tokArrayEnd)
			return out
		}
		t, o, _ := l.next(depth)
		switch t {
		case tokEOF, tokArrayEnd:
			return out
		case tokOperand:
			if len(out) < 1<<16 {
				out = append(out, o)
			}
		}
		// operators and stray >> inside an array are dropped
	}
}

// skipCompound skips to the token that closes a dictionary or array.
func (l *lexer) skipCompound(depth int, end int) {
	for {
		if depth > maxNesting {
			// Too deep: give up on the rest of the stream.
			l.i = len(l.b)
			return
		}
		t, _, _ := l.next(depth)
		if t == tokEOF || t == end {
			return
		}
	}
}

func (l *lexer) literal() []byte {
	l.i++ // (
	var out []byte
	nest := 1
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '(':
			nest++
		case ')':
			nest--
			if nest == 0 {
				return out
			}
		case '\\':
			if l.i >= len(l.b) {
				return out
			}
			e := l.b[l.i]
			l.i++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.i < len(l.b) && l.b[l.i] == '\n' {
					l.i++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '7'; k++ {
						v = v*8 + int(l.b[l.i]-'0')
						l.i++
					}
					c = byte(v)
				} else {
					c = e
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (l *lexer) hexString() []byte {
	l.i++ // <
	var out []byte
	var hi byte
	half := false
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		if c == '>' {
			break
		}
		v, ok := hexVal(c)
		if !ok {
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	return out
}

// skipInlineImage skips from after BI to after EI.
func (l *lexer) skipInlineImage() {
	id := bytes.Index(l.b[l.i:], []byte("ID"))
	if id < 0 {
		l.i = len(l.b)
		return
	}
	l.i += id + 2
	for l.i < len(l.b) {
		k := bytes.Index(l.b[l.i:], []byte("EI"))
		if k < 0 {
			l.i = len(l.b)
			return
		}
		at := l.i + k
		l.i = at + 2
		if at > 0 && isSpace(l.b[at-1]) && (l.i >= len(l.b) || isSpace(l.b[l.i]) || isDelim(l.b[l.i])) {
			return
		}
	}
}

// scanContent calls op for every operator with its operands, until op
// returns false.
func scanContent(b []byte, op func(name string, args []operand) bool) {
	l := &lexer{b: b}
	var args []operand
	for n := 0; n < maxOperations; n++ {
		t, o, name := l.next(0)
		switch t {
		case tokEOF:
			return
		case tokOperand:
			if len(args) < maxOperands {
				args = append(args, o)
			}
		case tokOperator:
			if name == "BI" {
				l.skipInlineImage()
			} else if !op(name, args) {
				return
			}
			args = args[:0]
		}
	}
}
