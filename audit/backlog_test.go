package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/storage/storagetest"
)

// TestBacklog: the entries after the last archived segment, and when it
// was exported; an empty log and a never-archived one have no archive
// time.
func TestBacklog(t *testing.T) {
	ctx := context.Background()
	l, c := newClockLog(t, storagetest.MustOpen(t))
	backlog := func(wantN int64, wantAt time.Time) {
		t.Helper()
		n, at, err := l.Backlog(ctx)
		if err != nil || n != wantN || !at.Equal(wantAt) {
			t.Fatalf("backlog %d since %v (%v), want %d since %v", n, at, err, wantN, wantAt)
		}
	}
	backlog(0, time.Time{})
	appendN(t, l, 4)
	backlog(4, time.Time{})
	c.add(time.Hour)
	exported := c.now()
	exportArchive(t, l, 3) // 1..3
	backlog(1, exported)
	c.add(time.Hour)
	appendN(t, l, 2)
	backlog(3, exported)
}

// TestOldestUnarchived: when the oldest entry the next export would take
// was written: none in an empty log, the first entry of a never-archived
// one, the first after the last segment, and none when only the entry
// recording that segment follows it (an export would find nothing), until
// another entry comes.
func TestOldestUnarchived(t *testing.T) {
	ctx := context.Background()
	l, c := newClockLog(t, storagetest.MustOpen(t))
	oldest := func(want time.Time) {
		t.Helper()
		got, err := l.OldestUnarchived(ctx)
		if err != nil || !got.Equal(want) {
			t.Fatalf("oldest unarchived %v (%v), want %v", got, err, want)
		}
	}
	oldest(time.Time{})
	first := c.now()
	appendN(t, l, 2) // 1..2
	c.add(time.Hour)
	appendN(t, l, 2) // 3..4
	oldest(first)

	c.add(time.Hour)
	seg, err := l.Segment(ctx, 3) // 1..3
	if err != nil {
		t.Fatal(err)
	}
	withAction := l.WithAction(ctx, func(any) audit.Entry { return audit.Entry{Action: audit.ActionArchive, Actor: "admin"} })
	if _, err := l.Archive(withAction, seg.Anchor); err != nil { // 5: the archive entry
		t.Fatal(err)
	}
	oldest(first.Add(time.Hour)) // 4
	c.add(time.Hour)
	seg, err = l.Segment(ctx, 10) // 4..5
	if err != nil {
		t.Fatal(err)
	}
	withAction = l.WithAction(ctx, func(any) audit.Entry { return audit.Entry{Action: audit.ActionArchive, Actor: "admin"} })
	if _, err := l.Archive(withAction, seg.Anchor); err != nil { // 6: the archive entry
		t.Fatal(err)
	}
	oldest(time.Time{})
	c.add(time.Hour)
	next := c.now()
	appendN(t, l, 1) // 7
	oldest(next)
}
