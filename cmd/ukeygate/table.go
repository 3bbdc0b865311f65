package main

import (
	"bytes"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// table lines up tab-separated cells by their width on a terminal, so
// that names in Chinese (two columns per character) line up with ASCII
// ones; text/tabwriter counts runes and cannot. Write it like a
// tabwriter: cells end with '\t', rows with '\n'. Consecutive lines that
// hold a tab form a block whose columns line up; a line without a tab is
// printed as it is and ends the block. Nothing is printed before Flush.
type table struct {
	w   io.Writer
	buf bytes.Buffer
}

// tableGap is the space between two columns.
const tableGap = 2

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush prints everything written so far, aligned.
func (t *table) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	last := lines[len(lines)-1] // "" when the text ends with a newline
	lines = lines[:len(lines)-1]
	var out strings.Builder
	for i := 0; i < len(lines); {
		if !strings.Contains(lines[i], "\t") {
			out.WriteString(lines[i])
			out.WriteByte('\n')
			i++
			continue
		}
		j := i
		for j < len(lines) && strings.Contains(lines[j], "\t") {
			j++
		}
		writeBlock(&out, lines[i:j])
		i = j
	}
	out.WriteString(last)
	_, err := io.WriteString(t.w, out.String())
	return err
}

// writeBlock aligns lines, each holding at least one tab: every cell but
// a line's last is padded to its column's widest cell plus the gap.
func writeBlock(out *strings.Builder, lines []string) {
	rows := make([][]string, len(lines))
	var widths []int
	for i, l := range lines {
		rows[i] = strings.Split(l, "\t")
		for c, cell := range rows[i][:len(rows[i])-1] {
			if c == len(widths) {
				widths = append(widths, 0)
			}
			widths[c] = max(widths[c], displayWidth(cell))
		}
	}
	for _, cells := range rows {
		var b strings.Builder
		for c, cell := range cells {
			b.WriteString(cell)
			if c < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[c]-displayWidth(cell)+tableGap))
			}
		}
		out.WriteString(strings.TrimRight(b.String(), " "))
		out.WriteByte('\n')
	}
}

// displayWidth is the number of terminal columns s takes: two for wide and
// fullwidth East Asian characters (汉字, ｆｕｌｌ), none for combining marks
// and format characters, one for the rest. Characters of ambiguous width
// (—, ·) count one, as terminals outside CJK locales draw them.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case r == 0 || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r):
		return 0
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
