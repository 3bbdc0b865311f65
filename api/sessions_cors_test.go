package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/internal/seed"
)

// TestSessionsCORSOnErrors: a page on one of the app's origins may read
// the long-poll's and the QR image's answers, error answers included (a
// widget on another origin than the gateway must see invalid_seq or
// session_expired, not an opaque network failure); a page on any other
// origin, or a request for a session or token the gateway does not know
// (no app to consult), gets no CORS header.
func TestSessionsCORSOnErrors(t *testing.T) {
	t.Parallel()
	w := sxSeed(t, seed.Spec{}) // the apps only: one on sxOrigin, one on sxOrigin2

	c := w.create(map[string]any{"kind": "login"})
	events, png := c.Watch.EventsURL, c.QR.PNGURL
	unknownToken := strings.Replace(events, "token="+c.Watch.Token, "token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1)
	unknownSession := strings.Replace(events, c.ID, "s"+strings.Repeat("A", len(c.ID)-1), 1)
	if unknownToken == events || unknownSession == events {
		t.Fatal("could not build the unknown-token and unknown-session URLs")
	}
	tests := []struct {
		name     string
		url      string
		origin   string
		status   int
		code     string
		wantCORS bool
	}{
		{"events ok", events, sxOrigin, 200, "", true},
		{"events after the last seq", events + "&after=99", sxOrigin, 400, "invalid_seq", true},
		{"events negative after", events + "&after=-1", sxOrigin, 400, "invalid_request", true},
		{"events wait too long", events + "&wait=61", sxOrigin, 400, "invalid_request", true},
		{"events, origin of another app", events, sxOrigin2, 403, "origin_not_allowed", false},
		{"events, opaque origin", events, "null", 403, "origin_not_allowed", false},
		{"events, error without Origin", events + "&after=99", "", 400, "invalid_seq", false},
		{"events, unknown token", unknownToken, sxOrigin, 404, "session_not_found", false},
		{"events, unknown session", unknownSession, sxOrigin, 404, "session_not_found", false},
		{"qr ok", png, sxOrigin, 200, "", true},
		{"qr bad size", png + "&size=1", sxOrigin, 400, "invalid_size", true},
		{"qr, origin of another app", png, sxOrigin2, 200, "", false},
		{"qr, origin of another app, bad size", png + "&size=1", sxOrigin2, 400, "invalid_size", false},
		{"qr, unknown token", strings.Replace(png, "token="+c.Watch.Token, "token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1), sxOrigin, 404, "session_not_found", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do("GET", tc.url, nil, map[string]string{"Origin": tc.origin})
			if r.status != tc.status || r.code != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code, tc.status, tc.code, r.body)
			}
			acao := r.header.Values("Access-Control-Allow-Origin")
			vary := slices.ContainsFunc(r.header.Values("Vary"), func(v string) bool { return strings.Contains(v, "Origin") })
			switch {
			case tc.wantCORS && (len(acao) != 1 || acao[0] != tc.origin || !vary):
				t.Fatalf("Access-Control-Allow-Origin %q, Vary %q: want %q and Vary: Origin", acao, r.header.Values("Vary"), tc.origin)
			case !tc.wantCORS && len(acao) != 0:
				t.Fatalf("Access-Control-Allow-Origin %q on an answer the page may not read", acao)
			}
		})
	}
}
