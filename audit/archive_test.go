package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// clock is a settable time source for the log.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClockLog(t *testing.T, s storage.Store) (*audit.Log, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l, err := audit.New(s, master, c.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, c
}

func liveSeqs(t *testing.T, l *audit.Log) []int64 {
	t.Helper()
	es, err := l.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

// exportArchive exports one segment of at most max entries and records it.
func exportArchive(t *testing.T, l *audit.Log, max int) audit.Segment {
	t.Helper()
	ctx := context.Background()
	seg, err := l.Segment(ctx, max)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Archive(ctx, seg.Anchor); err != nil {
		t.Fatal(err)
	}
	return seg
}

// TestExportPruneVerify: segments are exported, exported entries older
// than the retention leave the live store (and only those), and the live
// log and the segments still verify, together forming the whole chain.
func TestExportPruneVerify(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpen(t)
	l, c := newClockLog(t, s)

	appendN(t, l, 10) // seq 1..10 at t0
	c.add(time.Hour)
	appendN(t, l, 5) // seq 11..15 at t0+1h

	// Nothing exported: nothing leaves, however old.
	if n, err := l.Prune(ctx, c.now().Add(24*time.Hour), 1000); err != nil || n != 0 {
		t.Fatalf("prune before any export removed %d (%v)", n, err)
	}
	seg1 := exportArchive(t, l, 7)  // 1..7
	seg2 := exportArchive(t, l, 50) // 8..15
	if seg1.Anchor.FirstSeq != 1 || seg1.Anchor.LastSeq != 7 || seg2.Anchor.FirstSeq != 8 || seg2.Anchor.LastSeq != 15 {
		t.Fatalf("anchors %+v %+v", seg1.Anchor, seg2.Anchor)
	}
	if _, err := l.Segment(ctx, 10); !errors.Is(err, audit.ErrNothingToExport) {
		t.Fatalf("segment with nothing new: %v", err)
	}
	appendN(t, l, 3) // 16..18, never exported

	// Retention 30 min: entries 1..10 are older; all exported.
	n, err := l.Prune(ctx, c.now().Add(-30*time.Minute), 1000)
	if err != nil || n != 10 {
		t.Fatalf("prune removed %d (%v), want 10", n, err)
	}
	if got := liveSeqs(t, l); len(got) != 8 || got[0] != 11 {
		t.Fatalf("live seqs %v, want 11..18", got)
	}
	rep, err := l.Verify(ctx)
	if err != nil || rep.FirstSeq != 11 || rep.Entries != 18 || rep.Archived != 15 {
		t.Fatalf("verify after prune: %+v %v", rep, err)
	}
	anchors, err := audit.VerifySegments([]audit.Segment{seg2, seg1})
	if err != nil || len(anchors) != 2 {
		t.Fatalf("segments: %v", err)
	}
	arch, err := l.Archived(ctx)
	if err != nil || len(arch.Anchors) != 2 || arch.Anchors[1].Seal != seg2.Anchor.Seal || arch.PrunedSeq != 10 {
		t.Fatalf("archive %+v %v", arch, err)
	}
	// The segments' entry 10 is the one the live log continues from.
	if seg2.Entries[2].Seq != 10 || seg2.Entries[2].Hash != arch.PrunedHash {
		t.Fatalf("continuity: %+v vs %s", seg2.Entries[2], arch.PrunedHash)
	}

	// Much later: everything exported goes, the 3 unexported stay.
	c.add(48 * time.Hour)
	if n, err := l.Prune(ctx, c.now(), 2); err != nil || n != 2 {
		t.Fatalf("bounded prune removed %d (%v), want 2", n, err)
	}
	if n, err := l.Prune(ctx, c.now(), 1000); err != nil || n != 3 {
		t.Fatalf("prune removed %d (%v), want 3", n, err)
	}
	if got := liveSeqs(t, l); fmt.Sprint(got) != "[16 17 18]" {
		t.Fatalf("live seqs %v, want the unexported 16..18", got)
	}
	if rep, err := l.Verify(ctx); err != nil || rep.FirstSeq != 16 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// Appending goes on after pruning.
	appendN(t, l, 1)
	seg3 := exportArchive(t, l, 100)
	if seg3.Anchor.FirstSeq != 16 || seg3.Anchor.LastSeq != 19 {
		t.Fatalf("anchor %+v", seg3.Anchor)
	}
	if _, err := audit.VerifySegments([]audit.Segment{seg1, seg2, seg3}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestArchiveRefusesForeignOrOutOfOrderAnchors(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpen(t)
	l, _ := newClockLog(t, s)
	appendN(t, l, 6)
	seg, err := l.Segment(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	forged := seg.Anchor
	forged.LastSeq = 6
	if _, err := l.Archive(ctx, forged); !errors.Is(err, audit.ErrAnchor) {
		t.Fatalf("forged anchor: %v", err)
	}
	// An anchor made by another gateway (another master key).
	other, err := audit.New(storagetest.MustOpen(t), []byte("another master key of 32 bytes!!"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	appendN(t, other, 3)
	foreign, err := other.Segment(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Archive(ctx, foreign.Anchor); !errors.Is(err, audit.ErrAnchor) {
		t.Fatalf("foreign anchor: %v", err)
	}
	if _, err := l.Archive(ctx, seg.Anchor); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Archive(ctx, seg.Anchor); err != nil { // again: idempotent
		t.Fatalf("re-archiving: %v", err)
	}
	// A segment made before the last archive no longer follows.
	seg2, _ := l.Segment(ctx, 2)
	seg3, _ := l.Segment(ctx, 3)
	if _, err := l.Archive(ctx, seg2.Anchor); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Archive(ctx, seg3.Anchor); !errors.Is(err, audit.ErrAnchor) {
		t.Fatalf("stale anchor: %v", err)
	}
	if arch, _ := l.Archived(ctx); len(arch.Anchors) != 2 {
		t.Fatalf("anchors %+v", arch.Anchors)
	}
}

// TestSegmentTampering: a changed, removed or re-ordered entry in a
// segment, or a missing segment, fails VerifySegments.
func TestSegmentTampering(t *testing.T) {
	s := storagetest.MustOpen(t)
	l, _ := newClockLog(t, s)
	appendN(t, l, 8)
	a := exportArchive(t, l, 4)
	b := exportArchive(t, l, 4)
	clone := func(s audit.Segment) audit.Segment {
		s.Entries = append([]audit.Entry(nil), s.Entries...)
		return s
	}
	cases := []struct {
		name string
		segs func() []audit.Segment
	}{
		{"changed digest", func() []audit.Segment { x := clone(a); x.Entries[1].Digest = "ff"; return []audit.Segment{x, b} }},
		{"changed outcome", func() []audit.Segment { x := clone(b); x.Entries[3].Outcome = "failed"; return []audit.Segment{a, x} }},
		{"removed entry", func() []audit.Segment {
			x := clone(a)
			x.Entries = append(x.Entries[:2], x.Entries[3:]...)
			return []audit.Segment{x, b}
		}},
		{"removed entry, anchor fixed", func() []audit.Segment {
			x := clone(a)
			x.Entries = append(x.Entries[:2], x.Entries[3:]...)
			x.Anchor.LastSeq--
			return []audit.Segment{x, b}
		}},
		{"swapped entries", func() []audit.Segment {
			x := clone(b)
			x.Entries[0], x.Entries[1] = x.Entries[1], x.Entries[0]
			return []audit.Segment{a, x}
		}},
		{"anchor head changed", func() []audit.Segment { x := clone(b); x.Anchor.Head = a.Anchor.Head; return []audit.Segment{a, x} }},
		{"missing first segment", func() []audit.Segment { x := clone(b); x.Anchor.Prev = audit.ZeroHash; return []audit.Segment{x} }},
		{"wrong format", func() []audit.Segment { x := clone(a); x.Format = "other"; return []audit.Segment{x} }},
	}
	if _, err := audit.VerifySegments([]audit.Segment{a, b}); err != nil {
		t.Fatalf("untouched segments: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := audit.VerifySegments(tc.segs()); !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
		})
	}
}

// TestPrunedLiveLogTampering: after pruning, a changed or removed live
// entry, or a moved pruned marker, fails Verify.
func TestPrunedLiveLogTampering(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, s storage.Store)
	}{
		{"changed live entry", func(t *testing.T, s storage.Store) {
			tamper(t, s, "audit/entries/0000000000000006", func(m map[string]any) { m["digest"] = "ff" })
		}},
		{"removed first live entry", func(t *testing.T, s storage.Store) {
			if _, err := s.Txn(ctx, storage.Delete("audit/entries/0000000000000005")); err != nil {
				t.Fatal(err)
			}
		}},
		{"removed live entry, marker moved", func(t *testing.T, s storage.Store) {
			if _, err := s.Txn(ctx, storage.Delete("audit/entries/0000000000000005")); err != nil {
				t.Fatal(err)
			}
			tamper(t, s, "audit/pruned", func(m map[string]any) { m["seq"] = 5 })
		}},
		{"archive record removed", func(t *testing.T, s storage.Store) {
			if _, err := s.Txn(ctx, storage.Delete("audit/archive")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storagetest.MustOpen(t)
			l, c := newClockLog(t, s)
			appendN(t, l, 8)
			exportArchive(t, l, 6)
			c.add(time.Hour)
			if n, err := l.Prune(ctx, c.now(), 4); err != nil || n != 4 {
				t.Fatalf("prune %d %v", n, err)
			}
			// 5..8 live now (5..6 exported, 7..8 not); the case tampers
			// with them or the records.
			if _, err := l.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			tc.do(t, s)
			if _, err := l.Verify(ctx); !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("verify after %s: %v, want ErrTampered", tc.name, err)
			}
		})
	}
}

// TestArchiveEntry: with an action in its context, Archive commits the
// entry saying who recorded the segment with the anchor (and nothing for
// a refused or a repeated anchor); entries that only record earlier
// segments are not a segment of their own, so exporting until there is
// nothing to export ends, and they go with the next entries.
func TestArchiveEntry(t *testing.T) {
	ctx := context.Background()
	s := storagetest.MustOpen(t)
	l, _ := newClockLog(t, s)
	appendN(t, l, 3) // 1..3
	withAction := func() context.Context {
		return l.WithAction(ctx, func(res any) audit.Entry {
			a := res.(audit.Anchor)
			return audit.Entry{Action: audit.ActionArchive, Actor: "admin", Detail: fmt.Sprintf("seq=%d-%d", a.FirstSeq, a.LastSeq)}
		})
	}
	seg, err := l.Segment(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	bad := seg.Anchor
	bad.LastSeq = 2
	if _, err := l.Archive(withAction(), bad); !errors.Is(err, audit.ErrAnchor) {
		t.Fatalf("a forged anchor: %v", err)
	}
	if got := liveSeqs(t, l); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("a refused anchor wrote an entry: %v", got)
	}
	if _, err := l.Archive(withAction(), seg.Anchor); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Archive(withAction(), seg.Anchor); err != nil { // repeated: no entry
		t.Fatal(err)
	}
	es, err := l.List(ctx, audit.Filter{AfterSeq: 3})
	if err != nil || len(es) != 1 || es[0].Action != audit.ActionArchive || es[0].Detail != "seq=1-3" || es[0].Actor != "admin" {
		t.Fatalf("entries after the segment: %+v %v", es, err)
	}
	for _, max := range []int{1, 10} {
		if _, err := l.Segment(ctx, max); !errors.Is(err, audit.ErrNothingToExport) {
			t.Fatalf("segment(%d) of the archive entry alone: %v", max, err)
		}
	}
	appendN(t, l, 2) // 5..6
	if seg, err := l.Segment(ctx, 1); err != nil || seg.Anchor.FirstSeq != 4 || seg.Anchor.LastSeq != 4 {
		t.Fatalf("segment(1) with entries after the archive entry: %+v %v", seg.Anchor, err)
	}
	seg2, err := l.Segment(ctx, 10)
	if err != nil || seg2.Anchor.FirstSeq != 4 || seg2.Anchor.LastSeq != 6 {
		t.Fatalf("the next segment: %+v %v", seg2.Anchor, err)
	}
	if _, err := audit.VerifySegments([]audit.Segment{seg, seg2}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
