package session

import (
	"encoding/base64"
	"fmt"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Sizes of the random values of a session.
const (
	idBytes         = 12 // session id: 96 bits, 16 URL-safe characters
	nonceBytes      = 12 // QR nonce: 96 bits, 16 URL-safe characters
	watchTokenBytes = 24 // watch token: 192 bits, 32 URL-safe characters

	// IDLen is the length of a session id (and of a QR nonce).
	IDLen = 16
	// WatchTokenLen is the length of a watch token.
	WatchTokenLen = 32
)

// randomToken returns n random bytes as unpadded base64url.
func randomToken(n int) (string, error) {
	b, err := gmcrypto.RandomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ValidID reports whether id has the form of a session id (it may still
// not exist). Ids of another form are never looked up in the store.
func ValidID(id string) bool { return isToken(id, IDLen) }

func isToken(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// randomIndex returns a uniform random integer in [0, n), 0 < n ≤ 256.
func randomIndex(n int) (int, error) {
	limit := 256 - 256%n // reject the top values that would bias the result
	for {
		b, err := gmcrypto.RandomBytes(1)
		if err != nil {
			return 0, err
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// newCode returns a uniform random two-digit matching code, "00" to "99".
func newCode() (string, error) {
	n, err := randomIndex(100)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%02d", n), nil
}

// ValidCode reports whether c is a two-digit matching code.
func ValidCode(c string) bool {
	return len(c) == 2 && c[0] >= '0' && c[0] <= '9' && c[1] >= '0' && c[1] <= '9'
}

// CodeChoices returns the three matching codes the phone offers: correct
// and two other distinct random two-digit codes, correct at a uniformly
// random position. A malformed correct code is ErrInvalidArgument.
func CodeChoices(correct string) ([3]string, error) {
	var out [3]string
	if !ValidCode(correct) {
		return out, fmt.Errorf("%w: matching code %q is not two digits", ErrInvalidArgument, correct)
	}
	pos, err := randomIndex(3)
	if err != nil {
		return out, err
	}
	out[pos] = correct
	for i := range out {
		for out[i] == "" {
			c, err := newCode()
			if err != nil {
				return out, err
			}
			if c != out[0] && c != out[1] && c != out[2] {
				out[i] = c
			}
		}
	}
	return out, nil
}

// CheckCode is the first step of a Confirm operation: it returns nil if
// code is the session's matching code, and otherwise a final
// OperationFailed("wrong_code", ErrWrongCode), so that the session fails
// (the user may be looking at a relayed QR code).
func CheckCode(s *Session, code string) error {
	if s == nil || !ValidCode(code) || code != s.Code {
		return OperationFailed("wrong_code", ErrWrongCode)
	}
	return nil
}
