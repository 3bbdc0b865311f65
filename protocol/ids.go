package protocol

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
