package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/server/servertest"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestAuditExportPruneVerify: audit export writes sealed segments, the
// gateway then removes the exported entries (retention 0) and only them,
// and audit verify checks the live log and the segment files, failing on
// a changed segment, a missing segment or a changed live entry.
func TestAuditExportPruneVerify(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t, func(c *config.Config) {
		c.Audit.Retention, c.Audit.PruneInterval = 0, time.Second
	})
	ctx := context.Background()
	oc := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
	users := 0
	add := func(n int) { // each user added is one audit entry
		for range n {
			users++
			if _, err := oc.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": fmt.Sprintf("用户%d", users)}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	op := func(args ...string) (int, string, string) {
		return cli(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	waitPruned := func(seq int64) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			arch, err := oc.AuditArchived(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if arch.PrunedSeq == seq {
				return
			}
			if arch.PrunedSeq > seq || time.Now().After(deadline) {
				t.Fatalf("pruned up to %d, want %d", arch.PrunedSeq, seq)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	dir := t.TempDir()
	seg1, seg2 := filepath.Join(dir, "seg1.json"), filepath.Join(dir, "seg2.json")

	add(20)
	base := mustSeq(t, oc) // entries the server itself wrote at start, if any
	code, out, errOut := op("audit", "export", "--out", seg1, "--limit", "12")
	if code != 0 || !strings.Contains(out, "Segment 1..12 (12 entries)") {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	if fi, err := os.Stat(seg1); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("segment file: %v %v", fi, err)
	}
	waitPruned(12)
	// Entries 13.. were never exported: they stay, however old; after
	// them the entry that says who recorded the segment.
	live := mustLive(t, oc)
	if len(live) == 0 || live[0].Seq != 13 || int64(len(live)) != base-12+1 {
		t.Fatalf("live after prune starts at %v (%d entries), want 13..%d", live[0].Seq, len(live), base+1)
	}
	if e := live[len(live)-1]; e.Action != "audit.archive" || e.Actor != "admin" || e.Detail != "seq=1-12" {
		t.Fatalf("the recording's entry: %+v", e)
	}
	if code, out, errOut := op("audit", "verify", seg1); code != 0 || !strings.Contains(out, "Segments OK: 1 files, entries 1..12") {
		t.Fatalf("verify with seg1: %d %s %s", code, out, errOut)
	}
	if code, out, _ := op("audit", "verify"); code != 0 || !strings.Contains(out, "Entries 1..12 were exported") {
		t.Fatalf("verify without segments: %d %s", code, out)
	}

	add(3)
	// The second segment carries the first one's audit.archive entry.
	last := base + 1 + 3
	if code, out, errOut := op("audit", "export", "--out", seg2); code != 0 || !strings.Contains(out, fmt.Sprintf("Segment 13..%d", last)) {
		t.Fatalf("export 2: %d %s %s", code, out, errOut)
	}
	waitPruned(last)
	// Only the second recording's entry is new: nothing to export.
	if code, out, _ := op("audit", "export", "--out", filepath.Join(dir, "seg3.json")); code != 0 || !strings.Contains(out, "Nothing to export") {
		t.Fatalf("export with nothing new: %d %s", code, out)
	}
	if code, _, errOut := op("audit", "export", "--out", seg1); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("export over an existing file: %d %s", code, errOut)
	}
	if code, out, errOut := op("audit", "verify", seg2, seg1); code != 0 || !strings.Contains(out, fmt.Sprintf("entries 1..%d", last)) {
		t.Fatalf("verify with both: %d %s %s", code, out, errOut)
	}
	// Older segments left out: checked from where the given ones start,
	// and said so.
	if code, out, _ := op("audit", "verify", seg2); code != 0 || !strings.Contains(out, "entries 1..12: no segment given") {
		t.Fatalf("verify without seg1: %d %s", code, out)
	}
	// A missing segment between the given ones and the live log.
	if code, _, errOut := op("audit", "verify", seg1); code != 1 || !strings.Contains(errOut, "AUDIT LOG TAMPERED") || !strings.Contains(errOut, "missing") {
		t.Fatalf("verify without seg2: %d %s", code, errOut)
	}
	// A changed entry in a segment file.
	changed := filepath.Join(dir, "changed.json")
	rewriteSegment(t, seg1, changed, func(s *audit.Segment) { s.Entries[4].Digest = "cd" })
	if code, _, errOut := op("audit", "verify", changed, seg2); code != 1 || !strings.Contains(errOut, "entry 5 has been changed") {
		t.Fatalf("verify with a changed entry: %d %s", code, errOut)
	}
	// A removed entry, the chain re-made from there and the anchor moved:
	// the anchor is no longer one the gateway recorded.
	removed := filepath.Join(dir, "removed.json")
	rewriteSegment(t, seg1, removed, func(s *audit.Segment) {
		s.Entries = s.Entries[:len(s.Entries)-1]
		s.Anchor.LastSeq--
		s.Anchor.Head = s.Entries[len(s.Entries)-1].Hash
	})
	if code, _, errOut := op("audit", "verify", removed); code != 1 || !strings.Contains(errOut, "AUDIT LOG TAMPERED") {
		t.Fatalf("verify with a removed entry: %d %s", code, errOut)
	}

	// A recording whose answer was lost: the file stays a segment when the
	// gateway has the anchor, and is removed when it has not.
	var s1 audit.Segment
	b1, _ := os.ReadFile(seg1)
	if err := json.Unmarshal(b1, &s1); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(dir, "kept.json")
	if err := os.WriteFile(kept, b1, 0o600); err != nil {
		t.Fatal(err)
	}
	oc2 := &opClient{oc}
	if _, err := settleExport(ctx, oc2, kept, s1.Anchor, errors.New("answer lost")); err != nil {
		t.Fatalf("recorded anchor: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the recorded segment's file: %v", err)
	}
	unrec := s1.Anchor
	unrec.Seal = strings.Repeat("0", 64)
	if _, err := settleExport(ctx, oc2, kept, unrec, errors.New("refused")); err == nil || !strings.Contains(err.Error(), "was removed") {
		t.Fatalf("unrecorded anchor: %v", err)
	}
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Fatalf("the unrecorded segment's file stayed: %v", err)
	}

	// A changed live entry (after the second recording's entry).
	add(2)
	key := fmt.Sprintf("audit/entries/%016d", last+2)
	kv, err := ts.Server.Store().Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	_ = json.Unmarshal(kv.Value, &e)
	e["digest"] = "ee"
	b, _ := json.Marshal(e)
	if _, err := storagetest.PutKey(ctx, ts.Server.Store(), key, b, 0); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := op("audit", "verify", seg1, seg2); code != 1 || !strings.Contains(errOut, fmt.Sprintf("entry %d has been changed", last+2)) {
		t.Fatalf("verify with a changed live entry: %d %s", code, errOut)
	}
}

func mustSeq(t *testing.T, oc *operator.Client) int64 {
	t.Helper()
	v, err := oc.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v.Entries
}

func mustLive(t *testing.T, oc *operator.Client) []audit.Entry {
	t.Helper()
	var page operator.AuditPage
	if _, err := oc.Do(context.Background(), "GET", "/v1/admin/audit?limit=10000", nil, &page); err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

func rewriteSegment(t *testing.T, from, to string, f func(*audit.Segment)) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var s audit.Segment
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	f(&s)
	if b, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCompact: ukeygate compact keeps every record (the dump before and
// after are equal, revisions and expiries too), shrinks the file, keeps
// mode 0600, and refuses while a node holds the file.
func TestCompact(t *testing.T) {
	t.Parallel() // TestMain cleared UKEYGATE_*; the settings come in a config file
	dir := t.TempDir()
	cfg := writeFile(t, "ukeygate.yaml", "data_dir: "+dir+"\nstorage:\n  bolt:\n    timeout: 200ms\n")
	path := filepath.Join(dir, "ukeygate.db")
	ctx := context.Background()
	bc := storage.DefaultBoltConfig()
	bc.Path = path
	st, err := storage.OpenBolt(bc)
	if err != nil {
		t.Fatal(err)
	}
	// 2,000 values of 4 KB, then 9 in 10 of them deleted. The writes go
	// in transactions of 100 operations (each bbolt commit is an fsync:
	// one per value took most of this test's time on a busy disk); the
	// file grows and frees just the same.
	big := strings.Repeat("x", 4000)
	var batch []storage.Op
	flush := func() {
		t.Helper()
		if _, err := st.Txn(ctx, batch...); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range 2000 {
		batch = append(batch, storage.Put(fmt.Sprintf("k/%05d", i), []byte(big), 0))
		if len(batch) == 100 {
			flush()
		}
	}
	for i := range 2000 {
		if i%10 == 0 {
			continue
		}
		batch = append(batch, storage.Delete(fmt.Sprintf("k/%05d", i)))
		if len(batch) == 100 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	if _, err := st.Txn(ctx, storage.Put("ttl/one", []byte("v"), time.Hour)); err != nil {
		t.Fatal(err)
	}
	// While a node holds the file, compact refuses.
	if code, _, errOut := cli(t, "", "compact", "--config", cfg); code != 1 || !strings.Contains(errOut, "stop the node first") {
		t.Fatalf("compact on an open file: %d %s", code, errOut)
	}
	dump := func(s storage.Store) string {
		kvs, rev, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "rev %d\n", rev)
		for _, kv := range kvs {
			fmt.Fprintf(&sb, "%s %d %d %x\n", kv.Key, kv.Revision, kv.ExpiresAt.Unix(), kv.Value)
		}
		return sb.String()
	}
	before := dump(st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	code, out, errOut := cli(t, "", "compact", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("compact: %d %s", code, errOut)
	}
	var sizes struct {
		BytesBefore int64 `json:"bytes_before"`
		BytesAfter  int64 `json:"bytes_after"`
	}
	if err := json.Unmarshal([]byte(out), &sizes); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	fa, err := os.Stat(path)
	if err != nil || fa.Mode().Perm() != 0o600 {
		t.Fatalf("compacted file: %v %v", fa, err)
	}
	if sizes.BytesBefore != fi.Size() || sizes.BytesAfter != fa.Size() || fa.Size()*3 > fi.Size() {
		t.Fatalf("sizes %+v; file %d → %d: want at least 3× smaller", sizes, fi.Size(), fa.Size())
	}
	st, err = storage.OpenBolt(bc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if after := dump(st); after != before {
		t.Fatalf("records differ after compact:\nbefore %.300s\nafter  %.300s", before, after)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
}

// TestAuditEraseSegments: audit erase carries an account deletion into
// exported segment files: the user's entries lose the user's id, the
// segment still verifies against the gateway's anchors, a second run and
// refusals (a bad pseudonym, a changed file) leave the files as they are.
func TestAuditEraseSegments(t *testing.T) {
	t.Parallel()
	ts := servertest.Start(t)
	ctx := context.Background()
	oc := &operator.Client{BaseURL: ts.URL, Token: ts.AdminToken}
	var ids []string
	for i := range 3 {
		var u struct {
			ID string `json:"id"`
		}
		if _, err := oc.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": fmt.Sprintf("用户%d", i)}, &u); err != nil || u.ID == "" {
			t.Fatalf("add user: %v %+v", err, u)
		}
		ids = append(ids, u.ID)
	}
	op := func(args ...string) (int, string, string) {
		return cli(t, "", append(args, "--server", ts.URL, "--admin-token", ts.AdminToken)...)
	}
	seg := filepath.Join(t.TempDir(), "seg.json")
	if code, out, errOut := op("audit", "export", "--out", seg); code != 0 {
		t.Fatalf("export: %d %s %s", code, out, errOut)
	}
	exported, err := os.ReadFile(seg)
	if err != nil || !strings.Contains(string(exported), ids[0]) {
		t.Fatalf("the segment does not name %s: %v", ids[0], err)
	}
	const pseudonym = "anon_0123456789abcdef"
	for _, args := range [][]string{
		{"--user", ids[0], "--pseudonym", "anon_xyz", seg},
		{"--user", ids[0], seg},
		{"--user", pseudonym, "--pseudonym", pseudonym, seg},
		{"--user", ids[0], "--pseudonym", pseudonym, "--device", "device:dev_x", seg},
	} {
		if code, _, errOut := cli(t, "", append([]string{"audit", "erase"}, args...)...); code == 0 || errOut == "" {
			t.Fatalf("%v: exit %d", args, code)
		}
		if b, _ := os.ReadFile(seg); string(b) != string(exported) {
			t.Fatalf("%v changed the file", args)
		}
	}
	changed := filepath.Join(t.TempDir(), "changed.json")
	if err := os.WriteFile(changed, []byte(strings.Replace(string(exported), ids[1], ids[2], 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "", "audit", "erase", "--user", ids[0], "--pseudonym", pseudonym, seg, changed); code != 1 || !strings.Contains(errOut, "AUDIT LOG TAMPERED") {
		t.Fatalf("with a changed file: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(seg); string(b) != string(exported) {
		t.Fatal("a refused run rewrote the good file")
	}

	code, out, errOut := cli(t, "", "audit", "erase", "--user", ids[0], "--pseudonym", pseudonym, seg)
	if code != 0 || !strings.Contains(out, "Erased 1 entries of "+ids[0]+" in 1 of 1 segment files") {
		t.Fatalf("erase: %d %s %s", code, out, errOut)
	}
	b, err := os.ReadFile(seg)
	if err != nil || strings.Contains(string(b), ids[0]) || !strings.Contains(string(b), pseudonym) || !strings.Contains(string(b), ids[1]) {
		t.Fatalf("after the erasure the segment holds %s", b)
	}
	if fi, err := os.Stat(seg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("rewritten file: %v %v", fi, err)
	}
	if code, out, errOut := op("audit", "verify", seg); code != 0 || !strings.Contains(out, "Segments OK: 1 files") {
		t.Fatalf("verify after the erasure: %d %s %s", code, out, errOut)
	}
	if code, out, _ := cli(t, "", "audit", "erase", "--user", ids[0], "--pseudonym", pseudonym, seg); code != 0 || !strings.Contains(out, "Erased 0 entries of "+ids[0]+" in 0 of 1 segment files") {
		t.Fatalf("a second run: %d %s", code, out)
	}
	if b2, _ := os.ReadFile(seg); string(b2) != string(b) {
		t.Fatal("a second run rewrote the file")
	}
}
