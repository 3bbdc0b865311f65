package protocol_test

import (
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

func TestHiddenRune(t *testing.T) {
	for _, r := range []rune{0, '\n', 0x7f, 0x85, 0x9f, 0xad, 0x61c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
		0x202a, 0x202e, 0x2028, 0x2029, 0x2060, 0x2066, 0x2069, 0xfeff, 0x115f, 0x3164, 0xffa0, 0xe0001, 0xe007f} {
		if !protocol.HiddenRune(r) {
			t.Errorf("%U passes", r)
		}
	}
	for _, r := range []rune{'\t', ' ', 'a', '已', '验', '（', '✓', 0x3000, 0x05d0, 0x0627, 0xff21, 0x1f600} {
		if protocol.HiddenRune(r) {
			t.Errorf("%U is refused", r)
		}
	}
	if r, ok := protocol.HiddenIn("bid\u202etxt.exe"); !ok || r != 0x202e {
		t.Errorf("HiddenIn: %U %v", r, ok)
	}
	if _, ok := protocol.HiddenIn("招标公告 第 1 号"); ok {
		t.Error("HiddenIn refuses plain text")
	}
}
