package protocol_test

import (
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

func TestValidUserID(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"usr_0123456789abcdef", true},
		{"usr_ghjkmnpqrstvwxyz", true},
		{"usr_0123456789abcde", false},   // cut short
		{"usr_0123456789abcdef0", false}, // one too many
		{"usr_0123456789abcdeo", false},  // o is never used
		{"usr_0123456789abcdei", false},
		{"usr_0123456789abcdel", false},
		{"usr_0123456789abcdeu", false},
		{"USR_0123456789ABCDEF", false},
		{"crd_0123456789abcdef", false}, // another kind
		{"usr-0123456789abcdef", false},
		{"0123456789abcdefghjk", false},
		{"usr_0123456789abcd…", false},
		{"usr_", false},
		{"", false},
	} {
		if got := protocol.ValidUserID(c.id); got != c.want {
			t.Errorf("ValidUserID(%q) = %v, want %v", c.id, got, c.want)
		}
		if c.want && !protocol.ValidID(c.id) {
			t.Errorf("%q is a user id but not an id", c.id)
		}
	}
	if len(protocol.IDAlphabet) != 32 || strings.ContainsAny(protocol.IDAlphabet, "ilouABC_-") {
		t.Errorf("IDAlphabet %q", protocol.IDAlphabet)
	}
}
