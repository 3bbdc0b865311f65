package protocol

import "strings"

// MaxIDLen is the longest id of an app, issuer, user, device or
// credential.
const MaxIDLen = 64

// ValidID reports whether id has the form of every id the gateway gives
// or accepts for apps, issuers, users, devices and credentials: 1 to 64
// characters of a-z, 0-9, '_' and '-'.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// UserIDPrefix starts every user id; the rest is userIDChars characters
// of IDAlphabet. A user id is always the gateway's, never chosen.
const (
	UserIDPrefix = "usr_"
	userIDChars  = 16
)

// IDAlphabet holds the characters after the prefix of the ids the gateway
// makes: digits and lowercase letters without i, l, o and u (Crockford's
// base32 order).
const IDAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// ValidUserID reports whether id has the form of a user id as the gateway
// makes it: UserIDPrefix and 16 characters of IDAlphabet. A filter given
// something else (an id cut short, mistyped, of another kind) is
// malformed, where a well-formed id of no user simply matches nothing.
func ValidUserID(id string) bool {
	rest, ok := strings.CutPrefix(id, UserIDPrefix)
	if !ok || len(rest) != userIDChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(IDAlphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}
