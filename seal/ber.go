package seal

import "errors"

// Signatures other tools put in a PDF are not always DER: NSS (poppler's
// pdfsig, LibreOffice) writes its CMS in BER with indefinite lengths
// (30 80 … 00 00), and some signers split an OCTET STRING into
// segments. berToDER rewrites one BER value as DER (definite lengths,
// segmented OCTET STRINGs joined) so that the CMS reader, which wants DER,
// can check it. It keeps everything else as it is (a SET OF is not
// re-sorted: the signed attributes were signed as their signer encoded
// them).

// errBER: the bytes are not one well-formed BER value within the limits.
var errBER = errors.New("not BER")

// maxBERDepth bounds the nesting berToDER follows, maxBERBytes the
// signature slots it rewrites (a CMS with its certificates is some
// kilobytes).
const (
	maxBERDepth = 64
	maxBERBytes = 1 << 20
)

// berToDER returns the DER of the BER value at the start of b and the
// bytes after it.
func berToDER(b []byte) (der, rest []byte, err error) {
	return berValue(b, 0)
}

func berValue(b []byte, depth int) (der, rest []byte, err error) {
	if depth > maxBERDepth || len(b) < 2 {
		return nil, nil, errBER
	}
	// Identifier: one byte, or more for a tag number of 31 and over.
	n := 1
	if b[0]&0x1f == 0x1f {
		// The long form: base-128 digits, no leading zero digit, for
		// tag numbers of 31 and over only.
		tag := 0
		for n < len(b) && n < 4 && b[n]&0x80 != 0 {
			tag = tag<<7 | int(b[n]&0x7f)
			n++
		}
		if n >= len(b)-1 || b[1] == 0x80 || b[n]&0x80 != 0 {
			return nil, nil, errBER
		}
		tag = tag<<7 | int(b[n])
		n++
		if tag < 0x1f {
			return nil, nil, errBER
		}
	}
	id, constructed := b[:n], b[0]&0x20 != 0
	b = b[n:]
	l := int(b[0])
	b = b[1:]
	indefinite := l == 0x80
	switch {
	case indefinite:
		if !constructed {
			return nil, nil, errBER
		}
	case l > 0x80:
		k := l & 0x7f
		if k > 4 || k > len(b) {
			return nil, nil, errBER
		}
		l = 0
		for _, c := range b[:k] {
			l = l<<8 | int(c)
		}
		b = b[k:]
		if l < 0 || l > len(b) {
			return nil, nil, errBER
		}
	default:
		if l > len(b) {
			return nil, nil, errBER
		}
	}
	if !constructed {
		return derTLV(id, b[:l]), b[l:], nil
	}
	body := b
	if !indefinite {
		body, rest = b[:l], b[l:]
	}
	var content []byte
	segmented := len(id) == 1 && id[0] == 0x24 // a constructed OCTET STRING
	for {
		if indefinite {
			if len(body) >= 2 && body[0] == 0 && body[1] == 0 {
				rest = body[2:]
				break
			}
		} else if len(body) == 0 {
			break
		}
		if len(body) == 0 {
			return nil, nil, errBER // no end of contents
		}
		child, after, err := berValue(body, depth+1)
		if err != nil {
			return nil, nil, err
		}
		if segmented {
			if child[0] != 0x04 {
				return nil, nil, errBER
			}
			_, v := splitDER(child)
			content = append(content, v...)
		} else {
			content = append(content, child...)
		}
		body = after
	}
	if segmented {
		return derTLV([]byte{0x04}, content), rest, nil
	}
	return derTLV(id, content), rest, nil
}

// derTLV encodes id, a definite length and content.
func derTLV(id, content []byte) []byte {
	out := append([]byte(nil), id...)
	switch l := len(content); {
	case l < 0x80:
		out = append(out, byte(l))
	default:
		var lb []byte
		for ; l > 0; l >>= 8 {
			lb = append([]byte{byte(l)}, lb...)
		}
		out = append(append(out, 0x80|byte(len(lb))), lb...)
	}
	return append(out, content...)
}

// splitDER returns the identifier and content of a value derTLV wrote.
func splitDER(v []byte) (id, content []byte) {
	n := 1
	if v[0]&0x1f == 0x1f {
		for n < len(v) && v[n]&0x80 != 0 {
			n++
		}
		n++
	}
	l := int(v[n])
	n++
	if l > 0x80 {
		n += l & 0x7f
	}
	return v[:1], v[n:]
}
