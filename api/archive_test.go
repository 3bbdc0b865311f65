package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/protocol"
)

// TestAdminAuditArchive: segment, archive and the refusals of bad input,
// each with its stable code and nothing recorded.
func TestAdminAuditArchive(t *testing.T) {
	t.Parallel()
	w := newPortalWorld(t)
	fillAudit(t, w.log, 5)
	archive := func() protocol.AuditArchive {
		t.Helper()
		var a protocol.AuditArchive
		w.admin("GET", "/v1/admin/audit/archive", nil).decode(t, &a)
		return a
	}
	if a := archive(); len(a.Anchors) != 0 || a.PrunedSeq != 0 {
		t.Fatalf("fresh archive %+v", a)
	}
	r := w.admin("GET", "/v1/admin/audit/segment?limit=3", nil)
	var seg protocol.AuditSegment
	if r.status != http.StatusOK {
		t.Fatalf("segment: %d %s", r.status, r.body)
	}
	r.decode(t, &seg)
	if seg.Format != protocol.AuditSegmentFormat || seg.Anchor.FirstSeq != 1 || seg.Anchor.LastSeq != 3 || len(seg.Entries) != 3 {
		t.Fatalf("segment %+v", seg.Anchor)
	}
	good := seg.Anchor
	bad := func(mut func(*protocol.AuditAnchor)) protocol.AuditAnchor { a := good; mut(&a); return a }
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"limit 0", "GET", "/v1/admin/audit/segment?limit=0", nil, 400, "invalid_request"},
		{"limit too big", "GET", "/v1/admin/audit/segment?limit=100001", nil, 400, "invalid_request"},
		{"unknown parameter", "GET", "/v1/admin/audit/segment?from=1", nil, 400, "invalid_request"},
		{"archive query", "GET", "/v1/admin/audit/archive?x=1", nil, 400, "invalid_request"},
		{"malformed JSON", "POST", "/v1/admin/audit/archive", rawBody(`{"first_seq":`), 400, "malformed_json"},
		{"unknown field", "POST", "/v1/admin/audit/archive", rawBody(`{"first_seq":1,"bogus":2}`), 400, "unknown_field"},
		{"empty anchor", "POST", "/v1/admin/audit/archive", map[string]any{}, 400, "invalid_request"},
		{"short seal", "POST", "/v1/admin/audit/archive", bad(func(a *protocol.AuditAnchor) { a.Seal = "ab" }), 400, "invalid_request"},
		{"wrong seal", "POST", "/v1/admin/audit/archive", bad(func(a *protocol.AuditAnchor) { a.Seal = strings.Repeat("0", 64) }), 409, "audit_anchor_refused"},
		{"moved end", "POST", "/v1/admin/audit/archive", bad(func(a *protocol.AuditAnchor) { a.LastSeq = 5 }), 409, "audit_anchor_refused"},
		{"oversized", "POST", "/v1/admin/audit/archive", rawBody(`{"prev":"` + strings.Repeat("a", 2<<20) + `"}`), 413, "body_too_large"},
	} {
		r := w.admin(tc.method, tc.path, tc.body)
		if r.status != tc.status || r.code != tc.code {
			t.Errorf("%s: %d %s, want %d %s (%s)", tc.name, r.status, r.code, tc.status, tc.code, r.body)
		}
	}
	if a := archive(); len(a.Anchors) != 0 {
		t.Fatalf("a refused anchor was recorded: %+v", a)
	}
	r = w.admin("POST", "/v1/admin/audit/archive", good)
	var a protocol.AuditArchive
	if r.status != http.StatusOK {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
	r.decode(t, &a)
	if len(a.Anchors) != 1 || a.Anchors[0].Seal != good.Seal {
		t.Fatalf("archive %+v", a)
	}
	// Replayed: the same answer, nothing added.
	if r := w.admin("POST", "/v1/admin/audit/archive", good); r.status != http.StatusOK || len(archive().Anchors) != 1 {
		t.Fatalf("replayed anchor: %d %s", r.status, r.body)
	}
	r = w.admin("GET", "/v1/admin/audit/segment", nil)
	r.decode(t, &seg)
	if seg.Anchor.FirstSeq != 4 {
		t.Fatalf("next segment starts at %d, want 4", seg.Anchor.FirstSeq)
	}
	// Who recorded a segment (and who was refused) is in the log: the
	// two refused anchors, then the recorded one; the replay adds nothing.
	var got struct{ Entries []protocol.AuditEntry }
	w.admin("GET", "/v1/admin/audit?action=audit.archive", nil).decode(t, &got)
	want := []struct{ outcome, detail string }{
		{"failed", "seq=1-3 audit_anchor_refused"}, {"failed", "seq=1-5 audit_anchor_refused"}, {"ok", "seq=1-3"},
	}
	if len(got.Entries) != len(want) {
		t.Fatalf("audit.archive entries %+v, want %d", got.Entries, len(want))
	}
	for i, e := range got.Entries {
		if e.Actor != "admin" || e.Outcome != want[i].outcome || e.Detail != want[i].detail {
			t.Errorf("audit.archive entry %d: %+v, want %+v", i, e, want[i])
		}
	}
	for _, path := range []string{"/v1/admin/audit/segment", "/v1/admin/audit/archive"} {
		if r := w.do("GET", path, nil, nil); r.status != 401 || r.code != "missing_token" {
			t.Errorf("%s without token: %d %s", path, r.status, r.code)
		}
	}
}
