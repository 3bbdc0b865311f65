package qrlogin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A login signs its challenge with the user's sign key, in the same scheme
// a raw sign session uses for a document (SM2 with the default signer id,
// RSA PKCS#1 v1.5 with SHA-256; the scheme is part of the protocol). A
// raw signature over a document that is a login challenge would therefore
// be a valid login for the session it names. LooksLikeChallenge is the
// test the gateway applies to every document it is asked to sign.

// challengeKeys are the members LooksLikeChallenge looks for: the two no
// login challenge can do without (the session it logs in and its nonce).
var challengeKeys = []string{"session", "nonce"}

// LooksLikeChallenge reports whether b could be taken for a login
// challenge by a portal that verifies logins: b is a canonical challenge
// (ParseChallenge accepts it), or, more widely, a JSON object, in UTF-8
// (with or without a byte order mark), UTF-16 or UTF-32, that has a
// "session" and a "nonce" member, names compared in any letter case (as
// Go's encoding/json matches struct fields), whatever its other members,
// their order and the white space, and whatever follows the object (a
// stream parser stops after it). Lenient parsers that accept what is
// not JSON (comments, single quotes) are out of its reach; see
// docs/threat-model.md for why a portal must take the login from the
// gateway anyway.
func LooksLikeChallenge(b []byte) bool {
	if _, err := ParseChallenge(b); err == nil {
		return true
	}
	text := jsonText(b)
	if len(text) == 0 || text[0] != '{' {
		return false
	}
	// Decode the first JSON value only, as a stream parser does
	// (json.Decoder, JSON.parse of a prefix, line-delimited readers): an
	// object followed by trailing bytes is still taken for that object by
	// such a verifier.
	var m map[string]json.RawMessage
	if json.NewDecoder(bytes.NewReader(text)).Decode(&m) != nil {
		return false
	}
	for _, want := range challengeKeys {
		found := false
		for k := range m {
			if strings.EqualFold(k, want) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// jsonText returns b as UTF-8 with the leading white space and byte order
// mark removed, decoding UTF-16 and UTF-32 (told by their byte order mark
// or, as RFC 4627 does, by the zero bytes around the first character,
// which in JSON text is ASCII). It returns nil for what cannot be JSON.
func jsonText(b []byte) []byte {
	var enc string
	switch {
	case bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF}):
		enc, b = "utf-32be", b[4:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}):
		enc, b = "utf-32le", b[4:]
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		enc, b = "utf-16be", b[2:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		enc, b = "utf-16le", b[2:]
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		enc, b = "utf-8", b[3:]
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0:
		enc = "utf-32be"
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[2] == 0 && b[3] == 0:
		enc = "utf-32le"
	case len(b) >= 2 && b[0] == 0 && b[1] != 0:
		enc = "utf-16be"
	case len(b) >= 2 && b[0] != 0 && b[1] == 0:
		enc = "utf-16le"
	default:
		enc = "utf-8"
	}
	switch enc {
	case "utf-16be", "utf-16le":
		if len(b)%2 != 0 {
			return nil
		}
		order := binary.ByteOrder(binary.BigEndian)
		if enc == "utf-16le" {
			order = binary.LittleEndian
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = order.Uint16(b[2*i:])
		}
		b = []byte(string(utf16.Decode(u)))
	case "utf-32be", "utf-32le":
		if len(b)%4 != 0 {
			return nil
		}
		order := binary.ByteOrder(binary.BigEndian)
		if enc == "utf-32le" {
			order = binary.LittleEndian
		}
		out := make([]byte, 0, len(b)/4)
		for i := 0; i < len(b); i += 4 {
			out = utf8.AppendRune(out, rune(order.Uint32(b[i:])))
		}
		b = out
	}
	return bytes.TrimLeft(b, " \t\r\n")
}
