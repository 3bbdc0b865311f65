package cosign

import (
	"bytes"
	"encoding/asn1"
)

// ReplaceInDER returns der with the primitive OCTET STRING whose content
// is exactly old replaced by one holding repl, every enclosing length
// re-encoded (DER, definite lengths). It is how a CMS SignedData built
// around a placeholder signature receives the two-party signature. ok is
// false when der is not DER or no such OCTET STRING is found.
func ReplaceInDER(der, old, repl []byte) ([]byte, bool) {
	out, found, ok := replaceTLV(der, old, repl, 0)
	return out, ok && found
}

const maxDERDepth = 32

func replaceTLV(in, old, repl []byte, depth int) (out []byte, found, ok bool) {
	if depth > maxDERDepth {
		return nil, false, false
	}
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(in, &rv)
	if err != nil || len(rest) != 0 {
		return nil, false, false
	}
	if !rv.IsCompound {
		if rv.Class == asn1.ClassUniversal && rv.Tag == asn1.TagOctetString && bytes.Equal(rv.Bytes, old) {
			rv.Bytes, rv.FullBytes = repl, nil
			b, err := asn1.Marshal(rv)
			return b, err == nil, err == nil
		}
		return in, false, true
	}
	var body []byte
	for c := rv.Bytes; len(c) > 0; {
		var child asn1.RawValue
		next, err := asn1.Unmarshal(c, &child)
		if err != nil {
			return nil, false, false
		}
		nb, f, ok := replaceTLV(child.FullBytes, old, repl, depth+1)
		if !ok {
			return nil, false, false
		}
		found = found || f
		body = append(body, nb...)
		c = next
	}
	if !found {
		return in, false, true
	}
	rv.Bytes, rv.FullBytes = body, nil
	b, err := asn1.Marshal(rv)
	return b, err == nil, err == nil
}
