package api_test

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// TestSessionsRefuseHiddenText: the texts a phone shows as the reason for
// its PIN (display title and summary, document names, a seal placement's
// keyword) are refused when they hold a character that is invisible or
// changes the direction of what follows (a right-to-left override makes
// "bid‮txt.exe" read "bidexe.txt"): invalid_request naming the field,
// and nothing stored. Visible text, however alike to the app's own words,
// passes (the app marks the portal's words as the portal's).
func TestSessionsRefuseHiddenText(t *testing.T) {
	t.Parallel()
	w := lookalikeWorld(t)
	sign := func(title, summary, name string) map[string]any {
		return map[string]any{"kind": "sign", "display": map[string]string{"title": title, "summary": summary},
			"documents": []map[string]any{{"name": "a.txt", "data": []byte("a")}, {"name": name, "data": []byte("bid")}}}
	}
	seal := map[string]any{"kind": "seal", "documents": []map[string]any{{"name": "c.pdf", "pdf": []byte("%PDF-1.7"),
		"placements": []map[string]any{{"page": 1, "x_mm": 10, "y_mm": 10}, {"keyword": "甲方\u200d盖章"}}}}}
	for _, tc := range []struct {
		name  string
		req   map[string]any
		field string
		r     rune
	}{
		{"right-to-left override in a name", sign("t", "s", "bid\u202etxt.exe"), "documents[1].name", 0x202E},
		{"left-to-right isolate in a name", sign("t", "s", "\u2066bid.txt"), "documents[1].name", 0x2066},
		{"right-to-left mark in the title", sign("投标\u200f", "s", "b.txt"), "display.title", 0x200F},
		{"zero-width space in the title", sign("签署\u200b合同", "s", "b.txt"), "display.title", 0x200B},
		{"byte order mark in the summary", sign("t", "\ufeff金额 100 元", "b.txt"), "display.summary", 0xFEFF},
		{"soft hyphen in the summary", sign("t", "to\u00adtal", "b.txt"), "display.summary", 0x00AD},
		{"line separator in the summary", sign("t", "金额 100 元\u2028已验证", "b.txt"), "display.summary", 0x2028},
		{"C1 control in the title", sign("a\u0085b", "s", "b.txt"), "display.title", 0x0085},
		{"Hangul filler in a name", sign("t", "s", "\u3164.txt"), "documents[1].name", 0x3164},
		{"tag character in the title", sign("t\U000E0041", "s", "b.txt"), "display.title", 0xE0041},
		{"zero-width joiner in a seal keyword", seal, "documents[0].placements[1].keyword", 0x200D},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.storeKeys(t)
			r := w.refused(w.app("POST", "/v1/sessions", tc.req), http.StatusBadRequest, "invalid_request")
			if r.field != tc.field || !strings.Contains(string(r.body), fmt.Sprintf("%U", tc.r)) {
				t.Fatalf("field %q, want %q and %U: %s", r.field, tc.field, tc.r, r.body)
			}
			if after := w.storeKeys(t); !maps.Equal(before, after) {
				t.Fatalf("the store changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
	t.Run("visible text passes", func(t *testing.T) {
		w.create(sign("（已验证）招标平台\t官方", "金额：¥1,000,000.00 — עברית ✓", "标书 (1).pdf"))
	})
}
