package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// putLegacy writes a version-1 entry (as the log wrote them before
// version 2) and the head after it, by hand.
func putLegacy(t *testing.T, l *Log, s storage.Store, e Entry) {
	t.Helper()
	ctx := context.Background()
	h, rev, err := l.readHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Seq, e.Time, e.Prev = h.Seq+1, time.Now().UTC(), h.Hash
	if e.Hash, err = chainHash(e); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(e)
	nh, _ := json.Marshal(head{Seq: e.Seq, Hash: e.Hash, Seal: l.seal(e.Seq, e.Hash)})
	if _, err := s.Txn(ctx, storage.IfRevision(headKey, rev), storage.Put(entryKey(e.Seq), b, 0), storage.Put(headKey, nh, 0)); err != nil {
		t.Fatal(err)
	}
}

// chainedLog opens a log on a fresh store with a version-1 entry (legacy,
// written by hand) followed by entries appended as the log writes them.
func chainedLog(t *testing.T, legacy Entry, entries ...Entry) (*Log, storage.Store) {
	t.Helper()
	s := storagetest.MustOpen(t)
	l, err := New(s, bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	putLegacy(t, l, s, legacy)
	for _, e := range entries {
		if _, err := l.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	return l, s
}

func rawEntries(t *testing.T, s storage.Store) []string {
	t.Helper()
	kvs, _, err := s.List(context.Background(), entryPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range kvs {
		out = append(out, string(kv.Value))
	}
	return out
}

func TestPseudonymiseKeepsTheChain(t *testing.T) {
	ctx := context.Background()
	l, s := chainedLog(t, Entry{Action: "user.add", Actor: "admin", UserID: "usr_gone", Outcome: OutcomeOK},
		Entry{Action: "device.enroll", Actor: "device:dev_gone1", UserID: "usr_gone", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_gone1", UserID: "usr_gone", AppID: "app_1", Digest: "ab", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_keep", UserID: "usr_keep", Digest: "cd", Outcome: OutcomeOK},
		Entry{Action: "device.revoke", Actor: "admin", UserID: "usr_gone", Detail: "device=dev_gone2", Outcome: OutcomeOK},
		Entry{Action: "pin.change", Actor: "device:dev_gone2", UserID: "usr_gone", Outcome: OutcomeFailed},
		Entry{Action: "issuer.add", Actor: "admin", IssuerID: "iss_1", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_keep", UserID: "usr_keep", OnBehalfOf: "usr_gone", Delegation: "dlg_1", Outcome: OutcomeOK},
	)
	// A committed action's entry is a version-2 entry too.
	actx := l.WithAction(ctx, func(any) Entry {
		return Entry{Action: "credential.revoke", Actor: "admin", UserID: "usr_gone", CredentialID: "crd_1"}
	})
	if _, err := Commit(actx, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("before: %v", err)
	}
	all, _ := l.List(ctx, Filter{})
	for _, e := range all[1:] {
		if e.V != entryVersion || (personal(&e) != (e.Subject != "")) || (e.Subject != "") != (e.Salt != "") {
			t.Fatalf("entry %d not stamped: %+v", e.Seq, e)
		}
	}

	er, err := l.Pseudonymise(ctx, "usr_gone", []string{"dev_gone1", "dev_gone2"})
	if err != nil {
		t.Fatal(err)
	}
	if er.Erased != 6 || er.Legacy != 1 || !strings.HasPrefix(er.Pseudonym, "anon_") {
		t.Fatalf("erasure = %+v, want 5 erased, 1 legacy", er)
	}
	rep, err := l.Verify(ctx)
	if err != nil || rep.Entries != 9 {
		t.Fatalf("after: %v %+v", err, rep)
	}
	after, _ := l.List(ctx, Filter{})
	if _, err := VerifyChain(after); err != nil {
		t.Fatalf("keyless verification after erasure: %v", err)
	}
	for i, raw := range rawEntries(t, s) {
		if i == 0 {
			if !strings.Contains(raw, "usr_gone") {
				t.Fatalf("legacy entry was changed: %s", raw)
			}
			continue
		}
		// (An operator's detail, "device=ID", is hashed as it is and stays.)
		if strings.Contains(raw, "usr_gone") || strings.Contains(raw, "device:dev_gone") {
			t.Fatalf("entry %d still names the erased user: %s", i+1, raw)
		}
	}
	mine, _ := l.List(ctx, Filter{UserID: er.Pseudonym})
	if len(mine) != 5 {
		t.Fatalf("%d entries under the pseudonym, want 5", len(mine))
	}
	for _, e := range mine {
		if e.Salt != "" || e.Subject == "" {
			t.Fatalf("entry %d keeps its salt: %+v", e.Seq, e)
		}
		if strings.HasPrefix(e.Actor, "device:") && e.Actor != "device:"+er.Pseudonym {
			t.Fatalf("entry %d actor %q", e.Seq, e.Actor)
		}
	}
	kept, _ := l.List(ctx, Filter{UserID: "usr_keep"})
	if len(kept) != 2 || kept[0].Salt == "" || kept[0].Actor != "device:dev_keep" {
		t.Fatalf("another user's entry changed: %+v", kept)
	}
	// The delegate's entry for the erased organisation: the organisation
	// is pseudonymised, the delegate stays named.
	if d := kept[1]; d.OnBehalfOf != er.Pseudonym || d.UserID != "usr_keep" || d.Salt != "" {
		t.Fatalf("delegated entry: %+v", d)
	}
	// Again: nothing left to erase.
	if er2, err := l.Pseudonymise(ctx, "usr_gone", []string{"dev_gone1"}); err != nil || er2.Erased != 0 {
		t.Fatalf("second erasure: %+v %v", er2, err)
	}
}

// TestSubjectTampering: while an entry keeps its salt, changing the user
// or the actor it names breaks verification; so does a bogus version or
// a commitment on a version-1 entry.
func TestSubjectTampering(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(e *Entry){
		"user changed":        func(e *Entry) { e.UserID = "usr_other" },
		"actor changed":       func(e *Entry) { e.Actor = "device:dev_other" },
		"actor kind changed":  func(e *Entry) { e.Actor = "admin" },
		"on behalf changed":   func(e *Entry) { e.OnBehalfOf = "usr_org" },
		"salt changed":        func(e *Entry) { e.Salt = strings.Repeat("00", saltLen) },
		"salt malformed":      func(e *Entry) { e.Salt = "zz" },
		"subject dropped":     func(e *Entry) { e.Subject, e.Salt = "", "" },
		"unknown version":     func(e *Entry) { e.V = 3 },
		"version dropped":     func(e *Entry) { e.V = 0 },
		"digest changed":      func(e *Entry) { e.Digest = "ff" },
		"erased then changed": func(e *Entry) { e.Salt, e.Digest = "", "ff" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := storagetest.MustOpen(t)
			l, err := New(s, bytes.Repeat([]byte{7}, 32), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := l.Append(ctx, Entry{Action: "sign", Actor: "device:dev_1", UserID: "usr_1", Digest: "ab", Outcome: OutcomeOK}); err != nil {
				t.Fatal(err)
			}
			kv, err := s.Get(ctx, entryKey(1))
			if err != nil {
				t.Fatal(err)
			}
			var e Entry
			json.Unmarshal(kv.Value, &e)
			mutate(&e)
			b, _ := json.Marshal(e)
			if _, err := storagetest.PutKey(ctx, s, entryKey(1), b, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
				t.Fatalf("Verify = %v, want ErrTampered", err)
			}
		})
	}
}

// TestPseudonymiseSegments: an erasure carried into an exported segment
// gives exactly the entries the live log has after it (so the segment
// still verifies against its anchor), derives the user's devices from the
// segment and takes the ones given, erases nothing more when run again,
// and refuses bad input and a segment that does not verify, changing
// nothing.
func TestPseudonymiseSegments(t *testing.T) {
	ctx := context.Background()
	l, _ := chainedLog(t, Entry{Action: "user.add", Actor: "admin", UserID: "usr_gone", Outcome: OutcomeOK},
		Entry{Action: "device.enroll", Actor: "device:dev_gone1", UserID: "usr_gone", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_keep", UserID: "usr_keep", Digest: "cd", Outcome: OutcomeOK},
		Entry{Action: "pin.change", Actor: "device:dev_gone2", UserID: "usr_gone", Outcome: OutcomeFailed},
		Entry{Action: "issuer.add", Actor: "admin", IssuerID: "iss_1", Outcome: OutcomeOK},
		Entry{Action: "sign", Actor: "device:dev_keep", UserID: "usr_keep", OnBehalfOf: "usr_gone", Delegation: "dlg_1", Outcome: OutcomeOK},
		Entry{Action: "login", Actor: "device:dev_gone1", UserID: "usr_gone", AppID: "app_1", Outcome: OutcomeOK},
		// The organisation's device approving a staff member's delegation:
		// the entry names the staff member as user, so nothing in the
		// segment ties dev_gone3 to usr_gone but this entry's OnBehalfOf.
		Entry{Action: "delegation.approve", Actor: "device:dev_gone3", UserID: "usr_keep", OnBehalfOf: "usr_gone", Delegation: "dlg_2", Outcome: OutcomeOK},
	)
	seg, err := l.Segment(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	exported := encode(seg)

	er, err := l.Pseudonymise(ctx, "usr_gone", []string{"dev_gone1", "dev_gone2", "dev_gone3"})
	if err != nil {
		t.Fatal(err)
	}
	// Refusals change nothing.
	for _, c := range []struct {
		user      string
		devices   []string
		pseudonym string
	}{
		{"", nil, er.Pseudonym}, {er.Pseudonym, nil, er.Pseudonym}, {"usr_gone", nil, "anon_12"}, {"usr_gone", nil, "anon_0123456789ABCDEF"},
		{"usr_gone", nil, "usr_other"}, {"usr_gone", []string{""}, er.Pseudonym}, {"usr_gone", []string{"device:dev_x"}, er.Pseudonym},
	} {
		segs := []Segment{seg}
		if _, err := PseudonymiseSegments(segs, c.user, c.devices, c.pseudonym); !errors.Is(err, ErrInvalidEntry) || encode(segs[0]) != exported {
			t.Fatalf("user %q pseudonym %q: %v", c.user, c.pseudonym, err)
		}
	}
	tampered := []Segment{seg}
	tampered[0].Entries = append([]Entry(nil), seg.Entries...)
	tampered[0].Entries[2].Digest = "ce"
	before := encode(tampered[0])
	if _, err := PseudonymiseSegments(tampered, "usr_gone", nil, er.Pseudonym); !errors.Is(err, ErrTampered) || encode(tampered[0]) != before {
		t.Fatalf("a changed segment: %v", err)
	}

	live, _ := l.List(ctx, Filter{})
	// Without the device only the approval names, its id stays.
	short := []Segment{seg}
	if _, err := PseudonymiseSegments(short, "usr_gone", nil, er.Pseudonym); err != nil || !strings.Contains(encode(short[0].Entries), "dev_gone3") {
		t.Fatalf("without --device: %v", err)
	}
	segs := []Segment{seg}
	got, err := PseudonymiseSegments(segs, "usr_gone", []string{"dev_gone3"}, er.Pseudonym)
	if err != nil {
		t.Fatal(err)
	}
	if got.Erased != er.Erased || got.Legacy != er.Legacy || got.Erased != 5 {
		t.Fatalf("segment erasure %+v, the live log's %+v", got, er)
	}
	if encode(segs[0].Entries) != encode(live) {
		t.Fatalf("the segment's entries differ from the live log's after the erasure:\n%s\n%s", encode(segs[0].Entries), encode(live))
	}
	if anchors, err := VerifySegments(segs); err != nil || anchors[0] != seg.Anchor {
		t.Fatalf("the erased segment: %v %+v", err, anchors)
	}
	if raw := encode(segs[0].Entries[1:]); strings.Contains(raw, "usr_gone") || strings.Contains(raw, "dev_gone") {
		t.Fatalf("the segment still names the user: %s", raw)
	}
	if again, err := PseudonymiseSegments(segs, "usr_gone", []string{"dev_gone3"}, er.Pseudonym); err != nil || again.Erased != 0 || again.Legacy != 1 {
		t.Fatalf("a second run: %+v %v", again, err)
	}
}
