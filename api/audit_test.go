package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// fillAudit appends n entries alternating between two users, sessions and
// actions.
func fillAudit(t *testing.T, log *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, err := log.Append(context.Background(), audit.Entry{
			Action:    []string{"login", "sign"}[i%2],
			UserID:    fmt.Sprintf("usr_%d", i%2),
			SessionID: fmt.Sprintf("sess%d", i),
			AppID:     "app_1",
			Digest:    strings.Repeat("ab", 32),
			Outcome:   audit.OutcomeOK,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// auditBase is how many entries the log holds before a test adds its own
// (the API may audit operator actions of the world's setup).
func auditBase(t *testing.T, log *audit.Log) int64 {
	t.Helper()
	list, err := log.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(list))
}

func TestAdminAudit(t *testing.T) {
	t.Parallel()
	w := newPortalWorld(t)
	base := auditBase(t, w.log)
	fillAudit(t, w.log, 7)
	list := func(query string) (*resp, protocol.AuditPage) {
		t.Helper()
		r := w.admin("GET", "/v1/admin/audit"+query, nil)
		var a protocol.AuditPage
		if r.status == http.StatusOK {
			r.decode(t, &a)
		}
		return r, a
	}
	// seqs lists the entries as offsets from base (the test's own are 1..7).
	seqs := func(es []audit.Entry) string {
		var s []string
		for _, e := range es {
			s = append(s, fmt.Sprint(e.Seq-base))
		}
		return strings.Join(s, ",")
	}
	q := func(format string, n ...int64) string {
		args := make([]any, len(n))
		for i, v := range n {
			args[i] = base + v
		}
		return fmt.Sprintf(format, args...)
	}
	for _, tc := range []struct {
		query, want string
		next        int64 // offset from base; 0 = none
	}{
		{"?app=app_1", "1,2,3,4,5,6,7", 0},
		{"?user=usr_1", "1,3,5,7", 0},
		{"?action=sign&user=usr_0", "", 0},
		{"?action=sign&app=app_1", "1,3,5,7", 0},
		{"?action=login&user=usr_0", "2,4,6", 0},
		{"?session=sess3", "3", 0},
		{"?app=app_1&limit=3", "1,2,3", 3},
		{q("?after=%d&limit=3", 3), "4,5,6", 6},
		{q("?after=%d&limit=3", 6), "7", 0},
		{q("?after=%d", 7), "", 0},
		{"?app=app_2", "", 0},
	} {
		r, a := list(tc.query)
		w.must(r, http.StatusOK)
		next := int64(0)
		if a.NextAfter != 0 {
			next = a.NextAfter - base
		}
		if got := seqs(a.Entries); got != tc.want || next != tc.next || a.Entries == nil {
			t.Errorf("%s: entries %q next %d, want %q next %d (offsets from %d)", tc.query, got, next, tc.want, tc.next, base)
		}
	}
	if _, a := list(""); int64(len(a.Entries)) != base+7 || a.Entries[0].Seq != 1 {
		t.Errorf("the whole log: %d entries from %d, want %d from 1", len(a.Entries), a.Entries[0].Seq, base+7)
	}
	_, a := list("?session=sess4")
	if e := a.Entries[0]; e.Action != "login" || e.UserID != "usr_0" || e.Hash == "" || e.Prev == "" || e.Time.IsZero() {
		t.Fatalf("entry %+v", e)
	}
	// The raw JSON uses the audit package's field names.
	r := w.must(w.admin("GET", "/v1/admin/audit?app=app_1&limit=1", nil), http.StatusOK)
	var raw struct {
		Entries []map[string]any `json:"entries"`
	}
	r.decode(t, &raw)
	for _, k := range []string{"seq", "time", "action", "user", "session", "app", "digest", "outcome", "prev", "hash"} {
		if _, ok := raw.Entries[0][k]; !ok {
			t.Errorf("entry JSON lacks %q: %s", k, r.body)
		}
	}

	// By actor and by time.
	for _, actor := range []string{"operator:alice", "admin", "operator:alice"} {
		if _, err := w.log.Append(context.Background(), audit.Entry{Action: "user.add", Actor: actor, UserID: "usr_9", Outcome: audit.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	past, future := "2000-01-01T00:00:00Z", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ query, want string }{
		{"?actor=operator:alice", "8,10"},
		{"?actor=admin&user=usr_9", "9"},
		{"?actor=operator:bob", ""},
		{"?since=" + future, ""},
		{"?until=" + past, ""},
		{"?app=app_1&since=" + past + "&until=" + future, "1,2,3,4,5,6,7"},
		{"?user=usr_9&since=2000-01-01T08:00:00%2B08:00", "8,9,10"},
	} {
		r, a := list(tc.query)
		w.must(r, http.StatusOK)
		if got := seqs(a.Entries); got != tc.want {
			t.Errorf("%s: entries %q, want %q", tc.query, got, tc.want)
		}
	}

	for _, tc := range []struct{ query, field string }{
		{"?limit=0", "limit"}, {"?limit=abc", "limit"}, {"?limit=10001", "limit"},
		{"?after=-1", "after"}, {"?after=x", "after"}, {"?user=a&user=b", "user"},
		{"?who=admin", "who"}, {"?action=" + strings.Repeat("a", 200), "action"}, {"?user=%00", "user"},
		{"?actor=" + strings.Repeat("a", 200), "actor"}, {"?since=yesterday", "since"}, {"?until=2026-01-02", "until"},
		{"?since=" + future + "&until=" + past, "until"}, {"?since=" + past + "&until=" + past, "until"},
	} {
		r, _ := list(tc.query)
		if r.status != 400 || r.code != "invalid_request" || r.field != tc.field {
			t.Errorf("%s: %d %s %q, want 400 invalid_request %q", tc.query, r.status, r.code, r.field, tc.field)
		}
	}
	for _, path := range []string{"/v1/admin/audit", "/v1/admin/audit/verify"} {
		if r := w.do("GET", path, nil, nil); r.status != 401 || r.code != "missing_token" {
			t.Errorf("%s without token: %d %s", path, r.status, r.code)
		}
		if r := w.do("GET", path, nil, map[string]string{"Authorization": "Bearer " + w.appKey}); r.status != 401 || r.code != "invalid_token" {
			t.Errorf("%s with an app key: %d %s", path, r.status, r.code)
		}
	}
}

func TestAdminAuditVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	verify := func(w *portalWorld) (*resp, protocol.AuditVerification) {
		r := w.admin("GET", "/v1/admin/audit/verify", nil)
		var v protocol.AuditVerification
		if r.status == http.StatusOK {
			r.decode(t, &v)
		}
		return r, v
	}
	w := newPortalWorld(t)
	base := auditBase(t, w.log)
	r, v := verify(w)
	if r.status != 200 || !v.Valid || v.Entries != base {
		t.Fatalf("the world's log: %d %+v, want %d entries", r.status, v, base)
	}
	fillAudit(t, w.log, 5)
	r, v = verify(w)
	if r.status != 200 || !v.Valid || v.Entries != base+5 || len(v.Head) != 64 {
		t.Fatalf("5 more entries: %d %+v", r.status, v)
	}
	if r := w.admin("GET", "/v1/admin/audit/verify?full=1", nil); r.status != 400 || r.field != "full" {
		t.Fatalf("unknown parameter: %d %s", r.status, r.body)
	}

	// Entries are tampered with by their offset from the end of the
	// world's own: the test's 5 entries are last+1..last+5.
	var last int64
	entryKey := func(off int) string { return fmt.Sprintf("audit/entries/%016d", last+int64(off)) }
	tamper := []struct {
		name string
		do   func(t *testing.T, st storage.Store)
	}{
		{"changed entry", func(t *testing.T, st storage.Store) {
			kv, err := st.Get(ctx, entryKey(3))
			if err != nil {
				t.Fatal(err)
			}
			var e audit.Entry
			if err := json.Unmarshal(kv.Value, &e); err != nil {
				t.Fatal(err)
			}
			e.UserID = "usr_mallory"
			b, _ := json.Marshal(e)
			if _, err := storagetest.PutKey(ctx, st, entryKey(3), b, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed entry", func(t *testing.T, st storage.Store) {
			if _, err := storagetest.DeleteKey(ctx, st, entryKey(2)); err != nil {
				t.Fatal(err)
			}
		}},
		{"last entry cut off", func(t *testing.T, st storage.Store) {
			if _, err := storagetest.DeleteKey(ctx, st, entryKey(5)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			w := newPortalWorld(t)
			last = auditBase(t, w.log)
			fillAudit(t, w.log, 5)
			tc.do(t, w.store)
			r, _ := verify(w)
			if r.status != http.StatusConflict || r.code != "audit_tampered" {
				t.Fatalf("%d %s: %s", r.status, r.code, r.body)
			}
		})
	}
}

func TestAuditUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testAdminToken) // built without an audit log
	for _, path := range []string{"/v1/admin/audit", "/v1/admin/audit/verify"} {
		r := e.admin("GET", path, nil)
		if r.status != http.StatusServiceUnavailable || r.code != "audit_unavailable" {
			t.Errorf("%s: %d %s", path, r.status, r.code)
		}
	}
}
