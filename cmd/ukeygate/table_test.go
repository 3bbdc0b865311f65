package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/server/servertest"
)

func TestDisplayWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"Li Si", 5},
		{"张三", 4},
		{"招标平台 A", 10},
		{"ｆｕｌｌ", 8},        // fullwidth Latin
		{"ﾊﾝｶｸ", 4},        // halfwidth katakana
		{"e\u0301", 1},     // e + combining acute
		{"a\u200bb", 2},    // zero width space
		{"—·", 2},          // ambiguous: one column each
		{"한국어", 6},         // Hangul syllables are wide
		{"2026-12-04", 10}, // digits
	} {
		if got := displayWidth(tc.s); got != tc.want {
			t.Errorf("displayWidth(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestTableAlignsByDisplayWidth(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"ascii", "ID\tNAME\tX\na\tbb\tc\n", "ID  NAME  X\na   bb    c\n"},
		{"chinese", "ID\tNAME\tORG\nu1\t张三\t-\nu2\tLi Si\t招标平台\nu3\t欧阳娜娜\tx\n",
			"ID  NAME      ORG\nu1  张三      -\nu2  Li Si     招标平台\nu3  欧阳娜娜  x\n"},
		{"text line ends a block", "A\tB\nlong-cell\tx\n\nfree text, no tab\nC\tD\n",
			"A          B\nlong-cell  x\n\nfree text, no tab\nC  D\n"},
		{"ragged rows", "a\tb\tc\nxxxx\ty\n", "a     b  c\nxxxx  y\n"},
		{"no trailing newline", "a\tb\ntext", "a  b\ntext"},
		{"trailing spaces trimmed", "名\t\nab\t\n", "名\nab\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			tw := newTable(&b)
			fmt.Fprint(tw, tc.in)
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

// columnAt returns the display column where word starts in line, or -1.
func columnAt(line, word string) int {
	i := strings.Index(line, word)
	if i < 0 {
		return -1
	}
	return displayWidth(line[:i])
}

// TestTablesLineUpChineseNames: the operator's and the phone's tables,
// from the real binary's command tree against a real server, line up
// columns after Chinese names.
func TestTablesLineUpChineseNames(t *testing.T) {
	t.Parallel() // its own server; TestMain cleared UKEYGATE_*
	ts := servertest.Start(t)
	op := func(args ...string) string {
		t.Helper()
		return mustCLI(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	op("issuer", "add", "--id", "sm2-root", "--name", "国密根证书", "--alg", "SM2", "--cn", "Table SM2 Root")
	op("issuer", "add", "--id", "rsa", "--name", "RSA CA", "--alg", "RSA", "--cn", "Table RSA Root")
	op("user", "add", "--name", "欧阳娜娜", "--org", "招标代理有限公司")
	op("user", "add", "--name", "Li Si", "--org", "ACME")
	op("app", "add", "--name", "招标平台", "--origin", "https://bid.example.cn")
	op("app", "add", "--name", "Bid Portal", "--origin", "https://b.example.cn")

	for _, tc := range []struct {
		args []string
		rows []string // a cell of each row to find the row by
		next string   // the header of the column to check
	}{
		{[]string{"user", "list"}, []string{"欧阳娜娜", "Li Si"}, "ORGANIZATION"},
		{[]string{"user", "list"}, []string{"招标代理有限公司", "ACME"}, "ENROLLED"},
		{[]string{"issuer", "list"}, []string{"国密根证书", "RSA CA"}, "MODE"},
		{[]string{"app", "list"}, []string{"招标平台", "Bid Portal"}, "ORIGINS"},
	} {
		out := op(tc.args...)
		lines := strings.Split(out, "\n")
		want := columnAt(lines[0], tc.next)
		if want < 0 {
			t.Fatalf("%s: no %s header:\n%s", tc.args, tc.next, out)
		}
		for _, cell := range tc.rows {
			var line string
			for _, l := range lines {
				if strings.Contains(l, cell) {
					line = l
				}
			}
			// The next column starts where its header starts.
			after := line[strings.Index(line, cell)+len(cell):]
			start := displayWidth(line) - displayWidth(strings.TrimLeft(after, " "))
			if start != want {
				t.Errorf("%s: in %q the column after %q starts at %d, header %s at %d:\n%s", tc.args, line, cell, start, tc.next, want, out)
			}
		}
	}

	// The phone's credentials table: issuer ids of different lengths.
	var user struct {
		ActivationCode string `json:"activation_code"`
	}
	decode(t, op("user", "add", "--name", "张三", "--json"), &user)
	state := filepath.Join(t.TempDir(), "phone.json")
	mustCLI(t, "", "phone", "enroll", "--server", ts.URL, "--code", user.ActivationCode, "--pin", "135790", "--state", state)
	mustCLI(t, "", "phone", "request", "--issuer", "sm2-root", "--pin", "135790", "--state", state)
	mustCLI(t, "", "phone", "request", "--issuer", "rsa", "--alg", "RSA", "--pin", "135790", "--state", state)
	out := mustCLI(t, "", "phone", "credentials", "--state", state)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("phone credentials:\n%s", out)
	}
	for _, l := range lines[1:] {
		if got, want := columnAt(l, "sign"), columnAt(lines[0], "PURPOSE"); got != want {
			t.Errorf("PURPOSE at %d, sign at %d:\n%s", want, got, out)
		}
	}
}
