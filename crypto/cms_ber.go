package crypto

// BER to DER normalisation of CMS input.

import (
	"encoding/asn1"
	"errors"
)

// cmsMaxNesting bounds how deep the BER normaliser follows constructed
// encodings (real CMS nests about a dozen levels).
const cmsMaxNesting = 48

var errCMSEncoding = errors.New("bad BER/DER encoding")

type cmsTLV struct {
	raw     []byte // the element as received
	ident   []byte // identifier octets
	body    []byte // contents, normalised
	changed bool   // the DER form differs from raw
}

func (n *cmsTLV) der() []byte {
	if !n.changed {
		return n.raw
	}
	out := make([]byte, 0, len(n.ident)+6+len(n.body))
	out = append(out, n.ident...)
	out = cmsAppendLength(out, len(n.body))
	return append(out, n.body...)
}

func cmsAppendLength(out []byte, n int) []byte {
	if n < 0x80 {
		return append(out, byte(n))
	}
	var tmp [8]byte
	i := len(tmp)
	for v := n; v > 0; v >>= 8 {
		i--
		tmp[i] = byte(v)
	}
	out = append(out, 0x80|byte(len(tmp)-i))
	return append(out, tmp[i:]...)
}

// cmsBERToDER re-encodes one BER element (with nothing after it) with
// definite, minimal lengths and constructed OCTET STRINGs joined into one,
// which is what encoding/asn1 can read. DER input comes back unchanged.
func cmsBERToDER(in []byte) ([]byte, error) {
	n, rest, err := cmsReadBER(in, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errCMSEncoding
	}
	return n.der(), nil
}

func cmsReadBER(in []byte, depth int) (cmsTLV, []byte, error) {
	var n cmsTLV
	if depth > cmsMaxNesting || len(in) < 2 {
		return n, nil, errCMSEncoding
	}
	class, compound, tag := in[0]>>6, in[0]&0x20 != 0, int(in[0]&0x1f)
	i := 1
	if tag == 0x1f { // high tag number form
		tag = 0
		for {
			if i >= len(in) || i > 4 {
				return n, nil, errCMSEncoding
			}
			c := in[i]
			i++
			tag = tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	n.ident = in[:i:i]
	if i >= len(in) {
		return n, nil, errCMSEncoding
	}
	lb := in[i]
	i++
	indefinite := lb == 0x80
	length := 0
	switch {
	case lb < 0x80:
		length = int(lb)
	case indefinite:
		if !compound {
			return n, nil, errCMSEncoding
		}
		n.changed = true
	default:
		nb := int(lb & 0x7f)
		if nb > 4 || i+nb > len(in) {
			return n, nil, errCMSEncoding
		}
		for _, c := range in[i : i+nb] {
			length = length<<8 | int(c)
		}
		i += nb
		if length < 0x80 || in[i-nb] == 0 { // not minimal
			n.changed = true
		}
	}
	var body, rest []byte
	if !indefinite {
		if length > len(in)-i {
			return n, nil, errCMSEncoding
		}
		body, rest = in[i:i+length], in[i+length:]
		n.raw = in[: i+length : i+length]
		if !compound {
			n.body = body
			return n, rest, nil
		}
	} else {
		rest = in[i:]
	}

	isOctetString := class == 0 && tag == asn1.TagOctetString
	var children []cmsTLV
	for {
		var src *[]byte
		if indefinite {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			src = &rest
		} else {
			if len(body) == 0 {
				break
			}
			src = &body
		}
		c, r, err := cmsReadBER(*src, depth+1)
		if err != nil {
			return n, nil, err
		}
		*src = r
		if c.changed {
			n.changed = true
		}
		children = append(children, c)
	}
	if isOctetString {
		// A constructed OCTET STRING: its parts are OCTET STRINGs, joined.
		n.changed = true
		n.ident = []byte{asn1.TagOctetString}
		for _, c := range children {
			if len(c.ident) != 1 || c.ident[0] != asn1.TagOctetString {
				return n, nil, errCMSEncoding
			}
			n.body = append(n.body, c.body...)
		}
		if n.body == nil {
			n.body = []byte{}
		}
		return n, rest, nil
	}
	if !n.changed {
		n.body = in[i : i+length]
		return n, rest, nil
	}
	for _, c := range children {
		n.body = append(n.body, c.der()...)
	}
	return n, rest, nil
}
